"""A node's channel list in parts: written whole, read back in order, replaced by the next sync's."""

from __future__ import annotations

from typing import Any

from app.storage.channel_lists import PART_SIZE
from app.storage.database import Storage


def views(count: int, fee: int = 100) -> list[dict[str, Any]]:
    """`count` channel views as the API lists them (the fields that matter here)."""
    return [
        {
            "chan_id": str(880_000_000_000_000_000 + n),
            "policy": {"fee_rate_ppm": fee, "max_htlc_msat": 2**62 + n},
        }
        for n in range(count)
    ]


async def test_a_list_round_trips_in_order_across_parts(storage: Storage):
    listed = views(2 * PART_SIZE + 1)
    assert await storage.channel_lists.replace("t1", "n1", "c1", listed) == 3
    assert await storage.channel_lists.get("t1", "n1", "c1") == listed  # order and int64 amounts kept
    assert await storage.channel_lists.get("t1", "n1", "c2") is None
    assert await storage.channel_lists.get("t1", "n2", "c1") is None
    assert await storage.channel_lists.replace("t1", "n2", "e", []) == 1
    assert await storage.channel_lists.get("t1", "n2", "e") == []  # a node without channels: an empty list


async def test_the_next_sync_s_list_replaces_the_node_s_older_one_only(storage: Storage):
    await storage.channel_lists.replace("t1", "n1", "c1", views(3))
    await storage.channel_lists.replace("t1", "n2", "d1", views(2))
    await storage.channel_lists.replace("t1", "n1", "c2", views(4, fee=200))
    assert await storage.channel_lists.get("t1", "n1", "c1") is None
    assert await storage.channel_lists.get("t1", "n1", "c2") == views(4, fee=200)
    assert await storage.channel_lists.get("t1", "n2", "d1") == views(2)  # another node's list stays


async def test_a_list_missing_a_part_reads_as_none(storage: Storage):
    await storage.channel_lists.replace("t1", "n1", "c1", views(PART_SIZE + 1))
    await storage.database["channel_lists"].delete_one({"_id": "n1:c1:0"})
    assert await storage.channel_lists.get("t1", "n1", "c1") is None  # rebuilt from snapshots instead


async def test_deleting_a_node_s_list_leaves_the_others(storage: Storage):
    await storage.channel_lists.replace("t1", "n1", "c1", views(PART_SIZE + 1))
    await storage.channel_lists.replace("t1", "n2", "d1", views(2))
    assert await storage.channel_lists.delete("t1", "n1") == 2
    assert await storage.channel_lists.get("t1", "n1", "c1") is None
    assert await storage.channel_lists.get("t1", "n2", "d1") == views(2)
