"""Policy backups in MongoDB (the hot copy); the cold gzip files are written by app/policy/backups.py."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING

from app.errors import NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.execution_records import BackupKind, BackupRecord
from app.storage.fields import bson_utc, time_prefix
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page

MAX_SCAN = 10_000


def _backup(document: Document) -> BackupRecord:
    return from_document(BackupRecord, document)


class BackupRepository(Repository):
    """Insert, read, list, mark exported and expire backups."""

    collection_name = CollectionName.BACKUPS

    @translate_errors
    async def add(self, record: BackupRecord) -> BackupRecord:
        """Insert one backup."""
        await self._collection.insert_one(to_document(record, time_field="created_at"))
        return record

    @translate_errors
    async def get(self, tenant_id: str, backup_id: str) -> BackupRecord:
        """One backup of the tenant; NotFoundError when absent (or another tenant's)."""
        missing = NotFoundError(f"backup {backup_id} not found", {"backup_id": backup_id})
        return await self._get_or_raise(scoped(tenant_id, _id=backup_id), _backup, missing)

    @translate_errors
    async def latest(
        self, tenant_id: str, node_id: str, kind: BackupKind | None = None
    ) -> BackupRecord | None:
        """The node's newest backup (of one kind when given)."""
        return await self._latest(scoped(tenant_id, node_id=node_id, kind=kind), _backup)

    @translate_errors
    async def not_exported(self, *, limit: int = MAX_SCAN) -> list[BackupRecord]:
        """Backups of every tenant without a cold copy yet, oldest first."""
        query: Document = {"exported_at": None}
        documents = await self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(limit).to_list()
        return [_backup(document) for document in documents]

    @translate_errors
    async def created_before(self, before: datetime, *, limit: int = MAX_SCAN) -> list[BackupRecord]:
        """Backups of every tenant created before `before`, oldest first (retention)."""
        query: Document = {PAGE_KEY: {"$lt": time_prefix(bson_utc(before))}}
        documents = await self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(limit).to_list()
        return [_backup(document) for document in documents]

    @translate_errors
    async def mark_exported(self, record: BackupRecord, at: datetime) -> BackupRecord:
        """Record that the cold copy exists (written whole: nx-27017 turns a `$set` date into text)."""
        updated = record.model_copy(update={"exported_at": bson_utc(at)})
        await self._replace_if(scoped(record.tenant_id, _id=record.id), updated, time_field="created_at")
        return updated

    @translate_errors
    async def delete(self, tenant_id: str, backup_id: str) -> bool:
        """Remove the hot copy of one backup."""
        result = await self._collection.delete_one(scoped(tenant_id, _id=backup_id))
        return result.deleted_count == 1

    @translate_errors
    async def list(
        self,
        tenant_id: str,
        node_id: str | None = None,
        *,
        kind: BackupKind | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[BackupRecord]:
        """The tenant's backups (of one node when given), newest first."""
        query = scoped(tenant_id, node_id=node_id, kind=kind)
        return await fetch_page(self._collection, query, _backup, limit=limit, cursor=cursor)
