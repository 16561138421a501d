"""API keys: issued once in clear, stored as a SHA-256 hash, found by that hash when a request comes in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from app.domain.access import ApiKeyRole
from app.errors import NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, utc_now
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import ApiKeyRecord

KEY_BYTES = 32
PREFIX_LENGTH = 8


def new_api_key_secret() -> str:
    """A fresh API key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(KEY_BYTES)


def hash_api_key(secret: str) -> str:
    """SHA-256 hex of a key secret.

    A fast hash is enough here: the secret is 256 random bits, so inverting or brute-forcing the hash is
    out of reach, while a slow password hash (bcrypt, argon2) would only add its cost to every request.
    Being unsalted and deterministic, the hash is also the lookup key (one unique-index probe).
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key(document: Document) -> ApiKeyRecord:
    return from_document(ApiKeyRecord, document)


class ApiKeyRepository(Repository):
    """Issue, find, revoke and list a tenant's API keys."""

    collection_name = CollectionName.API_KEYS

    @translate_errors
    async def issue(
        self, tenant_id: str, role: ApiKeyRole, name: str, *, now: datetime | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """Create a key; returns its record and its secret, which is shown once and never stored."""
        secret = new_api_key_secret()
        record = ApiKeyRecord(
            tenant_id=tenant_id,
            role=role,
            key_hash=hash_api_key(secret),
            prefix=secret[:PREFIX_LENGTH],
            name=name,
            created_at=now or utc_now(),
        )
        await self._collection.insert_one(to_document(record, time_field="created_at"))
        return record, secret

    @translate_errors
    async def find_active_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The unrevoked key with this hash, across tenants: the record names the caller's tenant."""
        document = await self._collection.find_one({"key_hash": key_hash, "revoked_at": None})
        return None if document is None else _key(document)

    @translate_errors
    async def get(self, tenant_id: str, key_id: str) -> ApiKeyRecord:
        """One key of the tenant, revoked or not; NotFoundError when absent."""
        missing = NotFoundError(f"API key {key_id} not found", {"key_id": key_id})
        return await self._get_or_raise(scoped(tenant_id, _id=key_id), _key, missing)

    @translate_errors
    async def revoke(self, tenant_id: str, key_id: str, *, now: datetime | None = None) -> ApiKeyRecord:
        """Revoke the key (idempotent: a revoked key keeps its first revocation time)."""
        current = await self.get(tenant_id, key_id)
        if current.revoked_at is not None:
            return current
        revoked = current.model_copy(update={"revoked_at": bson_utc(now or utc_now())})
        query = scoped(tenant_id, _id=key_id)
        query["revoked_at"] = None  # compare-and-set: only an active key changes (scoped() drops None)
        result = await self._collection.replace_one(query, to_document(revoked, time_field="created_at"))
        return revoked if result.matched_count == 1 else await self.get(tenant_id, key_id)

    @translate_errors
    async def list(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[ApiKeyRecord]:
        """The tenant's keys, revoked ones included, newest first."""
        return await fetch_page(self._collection, scoped(tenant_id), _key, limit=limit, cursor=cursor)
