"""The in-process store alone, and the Cache in memory-only mode (no MCP_REDIS_URL)."""

from __future__ import annotations

from app.cache import Cache, CacheMode, MemoryBackend, TtlClass, cache_key
from app.settings import Settings
from tests.cache.util import FakeClock, sample


async def test_items_expire_after_their_own_ttl() -> None:
    clock = FakeClock()
    memory = MemoryBackend(clock=clock)
    short, long = cache_key("t", "n", "metrics"), cache_key("t", "n", "centrality")
    await memory.set(short, b"m", TtlClass.METRICS.seconds)
    await memory.set(long, b"c", TtlClass.HEAVY.seconds)
    clock.advance(59.9)
    assert await memory.get(short.key) == b"m"
    clock.advance(0.1)
    assert await memory.get(short.key) is None
    assert await memory.get(long.key) == b"c"
    clock.advance(1800)
    assert await memory.get(long.key) is None
    assert len(memory) == 0


async def test_delete_scope_and_prefix_respect_namespace_boundaries() -> None:
    memory = MemoryBackend()
    keys = {
        "n1": cache_key("t", "n1", "k"),
        "n10": cache_key("t", "n10", "k"),
        "wide": cache_key("t", None, "k"),
        "t2": cache_key("t2", "n1", "k"),
    }
    for key in keys.values():
        await memory.set(key, b"v", 60)
    await memory.delete_scope(keys["n1"].scope)
    assert [name for name, key in keys.items() if await memory.get(key.key)] == ["n10", "wide", "t2"]
    await memory.delete_prefix("mcp:t:")
    assert [name for name, key in keys.items() if await memory.get(key.key)] == ["t2"]


async def test_size_bound_evicts_and_skips_oversized_values() -> None:
    memory = MemoryBackend(max_bytes=2_000)
    for i in range(10):
        await memory.set(cache_key("t", "n", "k", i), b"x" * 300, 60)
    assert 0 < len(memory) <= 4
    await memory.set(cache_key("t", "n", "huge"), b"x" * 5_000, 60)  # larger than the cache: not kept
    assert await memory.get(cache_key("t", "n", "huge").key) is None


async def test_memory_only_cache_serves_counts_and_expires() -> None:
    clock = FakeClock()
    async with Cache(None, memory=MemoryBackend(clock=clock)) as cache:
        assert (cache.mode, cache.backend_name, cache.degraded) == (CacheMode.MEMORY_ONLY, "memory", False)
        key = cache_key("t", "n", "metrics")
        hits, misses = (
            sample("mcp_cache_hits_total", backend="memory"),
            sample("mcp_cache_misses_total", backend="memory"),
        )
        assert await cache.get_json(key) is None
        await cache.set_json(key, {"fwd": [1, 2]}, TtlClass.METRICS)
        assert await cache.get_json(key) == {"fwd": [1, 2]}
        clock.advance(TtlClass.METRICS.seconds)
        assert await cache.get_json(key) is None
        stats = cache.stats()
        assert (stats.hits["memory"], stats.misses["memory"], stats.redis_configured) == (1, 2, False)
        assert sample("mcp_cache_hits_total", backend="memory") == hits + 1
        assert sample("mcp_cache_misses_total", backend="memory") == misses + 2
        assert await cache.probe() is False


async def test_memory_only_invalidation() -> None:
    async with Cache.from_settings(Settings(redis_url=None)) as cache:
        a, b, other = cache_key("t", "a", "k"), cache_key("t", "b", "k"), cache_key("u", "a", "k")
        for key in (a, b, other):
            await cache.set_bytes(key, b"v", TtlClass.NODE)
        await cache.invalidate_node("t", "a")
        assert [await cache.get_bytes(k) for k in (a, b, other)] == [None, b"v", b"v"]
        await cache.invalidate_tenant("t")
        await cache.delete(other)
        assert [await cache.get_bytes(k) for k in (a, b, other)] == [None, None, None]
        assert cache.stats().pending_erasures == 0  # nothing to replay without Redis
