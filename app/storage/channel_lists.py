"""Each node's channel list as its latest sync built it, in parts: a listing rebuilt in a few reads.

The cache holds the list for minutes (and loses it on every write to the node, or when Redis restarts); the
channel snapshots hold the same channels with their full score breakdowns, 1,989 documents on ACINQ that took
0.6-0.8 s to read back. These parts are the list itself, 500 views to a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.storage.base import CollectionName, Repository, scoped
from app.storage.errors import translate_errors

PART_SIZE = 500  # views per document: about 250 KB, far below MongoDB's 16 MB


class ChannelListRepository(Repository):
    """Store a node's latest channel list and read it back whole."""

    collection_name = CollectionName.CHANNEL_LISTS

    @translate_errors
    async def replace(
        self, tenant_id: str, node_id: str, cycle_id: str, views: Sequence[dict[str, Any]]
    ) -> int:
        """Store one sync's views in order, then drop the node's lists of other syncs; returns the parts.

        The caller holds the node's lease (a sync does), so no other list of the node is written meanwhile.
        """
        parts = [views[start : start + PART_SIZE] for start in range(0, len(views), PART_SIZE)] or [[]]
        owner = scoped(tenant_id, node_id=node_id)
        documents = [
            {"_id": f"{node_id}:{cycle_id}:{number}", **owner, "cycle_id": cycle_id, "part": number,
             "parts": len(parts), "views": list(part)}
            for number, part in enumerate(parts)
        ]  # fmt: skip
        await self._collection.insert_many(documents)
        await self._collection.delete_many({**owner, "cycle_id": {"$ne": cycle_id}})
        return len(parts)

    @translate_errors
    async def get(self, tenant_id: str, node_id: str, cycle_id: str) -> list[dict[str, Any]] | None:
        """The views one sync stored, in order; None when that list is not (wholly) stored."""
        query = scoped(tenant_id, node_id=node_id, cycle_id=cycle_id)
        documents = await self._collection.find(query).sort("part", 1).to_list()
        if not documents or [d["part"] for d in documents] != list(range(documents[0]["parts"])):
            return None
        return [view for document in documents for view in document["views"]]

    @translate_errors
    async def delete(self, tenant_id: str, node_id: str) -> int:
        """Drop the node's list (the node is deleted); returns how many parts were dropped."""
        result = await self._collection.delete_many(scoped(tenant_id, node_id=node_id))
        return int(result.deleted_count)
