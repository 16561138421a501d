"""Audit trail in MongoDB, and an AuditSink for the vault that writes to it (identifiers only, never secrets)."""

from __future__ import annotations

from collections.abc import Sequence

from app.security.audit import AuditEvent
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import AuditRecord

VAULT_DECRYPT = "vault.decrypt"


def _audit(document: Document) -> AuditRecord:
    return from_document(AuditRecord, document)


class AuditRepository(Repository):
    """Append and list a tenant's audit records."""

    collection_name = CollectionName.AUDIT_EVENTS

    @translate_errors
    async def add(self, record: AuditRecord) -> AuditRecord:
        """Append one record."""
        await self._collection.insert_one(to_document(record, time_field="at"))
        return record

    @translate_errors
    async def add_many(self, records: Sequence[AuditRecord]) -> int:
        """Append records, skipping ids already stored (effects replayed after a crash are written once)."""
        return await self._insert_new(records, time_field="at")

    @translate_errors
    async def list(
        self,
        tenant_id: str,
        *,
        node_id: str | None = None,
        action: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[AuditRecord]:
        """The tenant's records (of one node or action when given), newest first."""
        query = scoped(tenant_id, node_id=node_id, action=action)
        return await fetch_page(self._collection, query, _audit, limit=limit, cursor=cursor)


def audit_record_from_event(event: AuditEvent) -> AuditRecord:
    """The stored form of a vault decryption event: who, why, which record and key, and the outcome."""
    return AuditRecord(
        tenant_id=event.tenant_id,
        at=event.at,
        actor=event.actor,
        action=VAULT_DECRYPT,
        outcome=event.outcome.value,
        node_id=event.node_id,
        target=f"{event.tenant_id}/{event.node_id}/{event.kind}",
        details={"purpose": event.purpose, "kind": event.kind, "key_id": event.key_id},
    )


class MongoAuditSink:
    """The vault's AuditSink on MongoDB: `record` raises when storage is down, so decryption fails closed."""

    def __init__(self, repository: AuditRepository) -> None:
        self._repository = repository

    async def record(self, event: AuditEvent) -> None:
        """Persist one decryption event before the vault releases anything."""
        await self._repository.add(audit_record_from_event(event))

    def __repr__(self) -> str:
        return f"MongoAuditSink({self._repository!r})"
