"""Tenants: the one collection that is not itself scoped by a tenant id."""

from __future__ import annotations

from app.errors import NotFoundError
from app.storage.base import CollectionName, Repository
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import TenantRecord


def _tenant(document: Document) -> TenantRecord:
    return from_document(TenantRecord, document)


def _not_found(tenant_id: str) -> NotFoundError:
    return NotFoundError(f"tenant {tenant_id} not found", {"tenant_id": tenant_id})


class TenantRepository(Repository):
    """Create, read, rename, list and delete tenants; names are unique."""

    collection_name = CollectionName.TENANTS

    @translate_errors
    async def add(self, tenant: TenantRecord) -> TenantRecord:
        """Insert a tenant; ConflictError when its id or name is taken."""
        await self._collection.insert_one(to_document(tenant, time_field="created_at"))
        return tenant

    @translate_errors
    async def get(self, tenant_id: str) -> TenantRecord:
        """The tenant; NotFoundError when absent."""
        return await self._get_or_raise({"_id": tenant_id}, _tenant, _not_found(tenant_id))

    @translate_errors
    async def find_by_name(self, name: str) -> TenantRecord | None:
        """The tenant with this exact name, if any."""
        document = await self._collection.find_one({"name": name})
        return None if document is None else _tenant(document)

    @translate_errors
    async def rename(self, tenant_id: str, name: str) -> TenantRecord:
        """Give the tenant a new name; ConflictError when another tenant has it."""
        TenantRecord(id=tenant_id, name=name)  # validates the name before anything is written
        # update_one, not find_one_and_update: nx-27017 answers the latter with None instead of a
        # duplicate-key error when the new name is taken.
        result = await self._collection.update_one({"_id": tenant_id}, {"$set": {"name": name}})
        if result.matched_count == 0:
            raise _not_found(tenant_id)
        return await self.get(tenant_id)

    @translate_errors
    async def delete(self, tenant_id: str) -> bool:
        """Remove the tenant record; False when absent."""
        result = await self._collection.delete_one({"_id": tenant_id})
        return result.deleted_count == 1

    @translate_errors
    async def list(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[TenantRecord]:
        """Every tenant, newest first (an administrator's view)."""
        return await fetch_page(self._collection, {}, _tenant, limit=limit, cursor=cursor)
