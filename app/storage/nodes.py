"""Nodes of a tenant: connection details, the vault record of their credential, per-node overrides."""

from __future__ import annotations

from app.errors import NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import NodeRecord, NodeUpdate


def _node(document: Document) -> NodeRecord:
    return from_document(NodeRecord, document)


def _not_found(node_id: str) -> NotFoundError:
    return NotFoundError(f"node {node_id} not found", {"node_id": node_id})


class NodeRepository(Repository):
    """Create, read, update, delete and list nodes; names are unique within a tenant."""

    collection_name = CollectionName.NODES

    @translate_errors
    async def add(self, node: NodeRecord) -> NodeRecord:
        """Insert a node; ConflictError when the tenant already has one with this name (or id)."""
        await self._collection.insert_one(to_document(node, time_field="created_at"))
        return node

    @translate_errors
    async def get(self, tenant_id: str, node_id: str) -> NodeRecord:
        """One node of the tenant; NotFoundError when absent (or another tenant's)."""
        return await self._get_or_raise(scoped(tenant_id, _id=node_id), _node, _not_found(node_id))

    @translate_errors
    async def update(self, tenant_id: str, node_id: str, changes: NodeUpdate) -> NodeRecord:
        """Write the fields set in `changes` (an explicit None clears tls_cert_pem); returns the result."""
        fields = changes.model_dump(mode="json", exclude_unset=True)
        # Times set here stay ISO strings: nx-27017 turns a datetime in $set into a naive text; they are
        # only ever read back, never queried.
        if not fields:
            return await self.get(tenant_id, node_id)
        # update_one, not find_one_and_update: nx-27017 answers the latter with None instead of a
        # duplicate-key error when the new name is taken.
        result = await self._collection.update_one(scoped(tenant_id, _id=node_id), {"$set": fields})
        if result.matched_count == 0:
            raise _not_found(node_id)
        return await self.get(tenant_id, node_id)

    @translate_errors
    async def delete(self, tenant_id: str, node_id: str) -> bool:
        """Remove the node record (its history stays until it expires); False when absent."""
        result = await self._collection.delete_one(scoped(tenant_id, _id=node_id))
        return result.deleted_count == 1

    @translate_errors
    async def list(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[NodeRecord]:
        """The tenant's nodes, newest first."""
        return await fetch_page(self._collection, scoped(tenant_id), _node, limit=limit, cursor=cursor)
