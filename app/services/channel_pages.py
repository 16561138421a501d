"""Pages of a node's channel list as the last sync left it: remembered, cached by cycle, rebuilt from storage."""

from __future__ import annotations

import bisect
import re
from typing import Any

import orjson

from app.cache.keys import CacheKey, cache_key
from app.cache.ttl import TtlClass
from app.errors import InvalidInputError
from app.services.history import SYNC_METRIC
from app.services.observe import channels_cycle_key, channels_key
from app.services.runtime import ServiceRuntime
from app.services.views import channel_view
from app.storage.records import NodeRecord

_CHAN_ID = re.compile(r"[0-9]{1,20}")
_MAX_CHAN_ID = 2**64 - 1


class ChannelPages:
    """The API's and the dashboard's channel listing of one node, page by page."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def page(self, node: NodeRecord, limit: int, cursor: str | None) -> bytes:
        """One page of the latest channel list as JSON bytes, ready to send (422 for a malformed cursor).

        A page is remembered in this process until the node is invalidated (every sync and every write
        transaction invalidates it), so a hot page costs no cache round trip and no JSON work.
        """
        check_channel_cursor(cursor)
        body, _ = await self.runtime.cache.remembered(
            ("channels-page", node.tenant_id, node.id, limit, cursor),
            lambda: self._shared_page(node, limit, cursor),
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=TtlClass.CHANNELS.seconds,
            size=lambda page: len(page[0]),
            keep=lambda page: page[1],  # unknown cursors are not worth an entry each
        )
        return body

    async def _shared_page(self, node: NodeRecord, limit: int, cursor: str | None) -> tuple[bytes, bool]:
        """The page from the shared cache, cached there under the sync cycle it was cut from, or cut anew.

        Keyed by cycle, a page cut from an older list while a sync ran is never served after it.
        """
        cache = self.runtime.cache
        cycle = await cache.get_bytes(channels_cycle_key(node))
        if cycle is not None:
            cached = await cache.get_bytes(_page_key(node, cycle.decode(), limit, cursor))
            if cached is not None:
                return cached, True  # only pages of listed cursors are cached
        listing = await self._listing(node)
        page, cursor_known = _cut_page(listing["channels"], limit, cursor)
        body = orjson.dumps({"cycle_id": listing["cycle_id"], **page})
        if cursor_known and listing["cycle_id"]:  # unknown cursors are not worth a cache entry each
            await cache.set_bytes(
                _page_key(node, listing["cycle_id"], limit, cursor), body, TtlClass.CHANNELS
            )
        return body, cursor_known

    async def _listing(self, node: NodeRecord) -> dict[str, Any]:
        """The latest channel list: hot from cache, else rebuilt from the last snapshot and cached."""
        cache = self.runtime.cache
        listing = await cache.get_json(channels_key(node))
        if listing is None:
            listing = await self._channels_from_storage(node)
            await cache.set_json(channels_key(node), listing, TtlClass.CHANNELS)
            if listing["cycle_id"]:
                await cache.set_bytes(
                    channels_cycle_key(node), listing["cycle_id"].encode(), TtlClass.CHANNELS
                )
        return dict(listing)

    async def _channels_from_storage(self, node: NodeRecord) -> dict[str, Any]:
        storage = self.runtime.storage
        last = await storage.metrics.latest(node.tenant_id, node.id, SYNC_METRIC)
        if last is None:
            return {"cycle_id": None, "channels": []}
        cycle_id = last.labels.get("cycle_id", "")
        stored = await storage.channel_lists.get(node.tenant_id, node.id, cycle_id)
        if stored is not None:
            return {"cycle_id": cycle_id, "channels": stored}
        # A sync from before the lists were stored: the same views from its snapshots (slower).
        snapshots = await storage.channels.for_cycle(node.tenant_id, node.id, cycle_id)
        graph = self.runtime.default_graph.graph
        views = [
            channel_view(s.channel, graph.alias_of(s.channel.remote_pubkey) if graph else "", s.score)
            for s in snapshots
        ]
        return {"cycle_id": cycle_id, "channels": views}


def _page_key(node: NodeRecord, cycle_id: str, limit: int, cursor: str | None) -> CacheKey:
    return cache_key(node.tenant_id, node.id, "channels-page", cycle_id, limit, cursor or "")


def check_channel_cursor(cursor: str | None) -> None:
    """A channel page cursor is a chan_id (a uint64 in decimal); anything else is a 422 like other lists."""
    if cursor is not None and not (_CHAN_ID.fullmatch(cursor) and int(cursor) <= _MAX_CHAN_ID):
        raise InvalidInputError("invalid page cursor", {"cursor": cursor[:100]})


def _cut_page(items: list[dict[str, Any]], limit: int, cursor: str | None) -> tuple[dict[str, Any], bool]:
    """The page after `cursor` (a chan_id) and whether the cursor named a listed channel.

    The list is ordered by chan_id as a number, so a channel closed since the previous page still marks
    where the next one starts.
    """
    start = 0
    known = cursor is None
    if cursor is not None:
        after = int(cursor)
        start = bisect.bisect_right(items, after, key=lambda item: int(item["chan_id"]))
        known = start > 0 and items[start - 1]["chan_id"] == cursor
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {"items": page, "next_cursor": page[-1]["chan_id"] if more else None}, known
