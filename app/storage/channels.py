"""Channel snapshots: each channel as observed by a cycle, kept as history."""

from __future__ import annotations

from collections.abc import Sequence

from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, from_document
from app.storage.errors import translate_errors
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import ChannelSnapshotRecord

MAX_CYCLE_CHANNELS = 20_000  # far above the largest public node (ACINQ: 1,989 channels)


def _snapshot(document: Document) -> ChannelSnapshotRecord:
    return from_document(ChannelSnapshotRecord, document)


class ChannelRepository(Repository):
    """Store and read channel snapshots per tenant, node and channel."""

    collection_name = CollectionName.CHANNEL_SNAPSHOTS

    @translate_errors
    async def add_many(self, snapshots: Sequence[ChannelSnapshotRecord]) -> int:
        """Insert the snapshots of one cycle in one round trip; returns how many were stored."""
        return await self._insert_many(snapshots, time_field="taken_at")

    @translate_errors
    async def latest(self, tenant_id: str, node_id: str, channel_id: str) -> ChannelSnapshotRecord | None:
        """The most recent snapshot of the channel, if any."""
        return await self._latest(scoped(tenant_id, node_id=node_id, channel_id=channel_id), _snapshot)

    @translate_errors
    async def for_cycle(self, tenant_id: str, node_id: str, cycle_id: str) -> list[ChannelSnapshotRecord]:
        """Every snapshot one cycle took, by channel id."""
        cursor = self._collection.find(scoped(tenant_id, node_id=node_id, cycle_id=cycle_id))
        documents = await cursor.limit(MAX_CYCLE_CHANNELS).to_list()
        return sorted((_snapshot(document) for document in documents), key=lambda item: int(item.channel_id))

    @translate_errors
    async def history(
        self,
        tenant_id: str,
        node_id: str,
        channel_id: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ChannelSnapshotRecord]:
        """Snapshots of one channel, newest first."""
        query = scoped(tenant_id, node_id=node_id, channel_id=channel_id)
        return await fetch_page(self._collection, query, _snapshot, limit=limit, cursor=cursor)

    @translate_errors
    async def list(
        self, tenant_id: str, node_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[ChannelSnapshotRecord]:
        """Snapshots of every channel of the node, newest first."""
        query = scoped(tenant_id, node_id=node_id)
        return await fetch_page(self._collection, query, _snapshot, limit=limit, cursor=cursor)
