"""The record of what Redis missed during an outage, replayed on a real store."""

from __future__ import annotations

from app.cache import MemoryBackend, cache_key, node_scope, tenant_scope
from app.cache.outage import OutageLog


async def test_replay_erases_keys_scopes_and_tenants() -> None:
    store = MemoryBackend()
    keys = [
        cache_key("t", "n1", "k"),
        cache_key("t", "n2", "k"),
        cache_key("u", "n", "k"),
        cache_key("v", "n", "k"),
    ]
    for key in keys:
        await store.set(key, b"v", 60)
    log = OutageLog()
    log.scope_invalidated(node_scope("t", "n1"))
    log.tenant_invalidated(tenant_scope("u"))
    log.key_written(keys[1].key)
    assert len(log) == 3
    await log.take().replay(store)
    assert len(log) == 0
    assert [await store.get(k.key) for k in keys] == [None, None, None, b"v"]


async def test_bound_switches_to_erasing_everything_and_restore_merges() -> None:
    log = OutageLog(max_entries=2)
    for i in range(3):
        log.key_written(f"mcp:t:n:k:{i}")
    pending = log.take()
    assert pending.everything and len(pending) == 1
    log.key_written("mcp:t:n:k:9")
    log.restore(pending)  # a failed replay comes back without losing the flag
    merged = log.take()
    assert merged.everything
    store = MemoryBackend()
    await store.set(cache_key("any", "n", "k"), b"v", 60)
    await merged.replay(store)
    assert len(store) == 0
