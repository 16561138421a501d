"""Sealed node credentials in MongoDB: the vault's SecretStore (app/security/rotation.py) on storage.

Records are keyed by `tenant/node/kind` and carry their tenant id like every document. The protocol's
`list_ids` is deliberately global: a master-key rotation re-seals every tenant's records. `get` and
`compare_and_swap` still filter on the tenant named by the record id.
"""

from __future__ import annotations

from pydantic import ValidationError

from app.errors import NotFoundError
from app.security.vault import CredentialContext, EncryptedSecret, VaultError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, to_document
from app.storage.errors import translate_errors


def _tenant_of(record_id: str) -> str:
    """The tenant part of a `tenant/node/kind` record id."""
    return record_id.split("/", 1)[0]


def _document(secret: EncryptedSecret) -> Document:
    document = to_document(secret)
    document["_id"] = secret.record_id
    return document


def _secret(document: Document) -> EncryptedSecret:
    fields = {key: value for key, value in document.items() if key != "_id"}
    try:
        secret = EncryptedSecret.model_validate(fields)
    except ValidationError as exc:
        # Pydantic's message echoes field values; name only the record and the fields.
        bad = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        raise VaultError(f"stored secret {document.get('_id')} has invalid {bad}") from None
    if secret.record_id != document.get("_id"):
        raise VaultError(f"stored secret {document.get('_id')} holds {secret.record_id}")
    return secret


class SecretRepository(Repository):
    """Insert, read, replace by version and delete sealed credentials; implements SecretStore."""

    collection_name = CollectionName.SECRETS

    @translate_errors
    async def add(self, secret: EncryptedSecret) -> str:
        """Insert a new record and return its id; ConflictError if one already exists for its context."""
        await self._collection.insert_one(_document(secret))
        return secret.record_id

    @translate_errors
    async def get_for(self, context: CredentialContext) -> EncryptedSecret:
        """The record of a (tenant, node, kind); NotFoundError when absent."""
        document = await self._collection.find_one(scoped(context.tenant_id, _id=context.record_id))
        if document is None:
            raise NotFoundError(f"no credential for ({context.describe()})", {"record_id": context.record_id})
        return _secret(document)

    @translate_errors
    async def delete(self, context: CredentialContext) -> bool:
        """Remove the record of a (tenant, node, kind); False when absent."""
        result = await self._collection.delete_one(scoped(context.tenant_id, _id=context.record_id))
        return result.deleted_count == 1

    @translate_errors
    async def list_for_tenant(self, tenant_id: str) -> list[str]:
        """Record ids of one tenant, sorted."""
        return await self._ids(scoped(tenant_id))

    @translate_errors
    async def list_ids(self) -> list[str]:
        """Every record id of every tenant, sorted (for key rotation only)."""
        return await self._ids({})

    async def _ids(self, query: Document) -> list[str]:
        # find + projection rather than distinct("_id"), which nx-27017 cannot run.
        documents = await self._collection.find(query, {"_id": 1}).to_list()
        return sorted(str(document["_id"]) for document in documents)

    @translate_errors
    async def get(self, record_id: str) -> EncryptedSecret | None:
        """The record, or None when absent."""
        document = await self._collection.find_one(scoped(_tenant_of(record_id), _id=record_id))
        return None if document is None else _secret(document)

    @translate_errors
    async def compare_and_swap(
        self, record_id: str, expected_version: int, new_secret: EncryptedSecret
    ) -> bool:
        """Replace the record only if it exists with version `expected_version` (one atomic replace)."""
        if new_secret.record_id != record_id:
            raise VaultError(f"record {record_id} cannot be replaced by a record for {new_secret.record_id}")
        result = await self._collection.replace_one(
            scoped(_tenant_of(record_id), _id=record_id, version=expected_version), _document(new_secret)
        )
        return result.matched_count == 1
