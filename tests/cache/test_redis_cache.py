"""The Cache on a healthy real Redis: TTLs, namespaces, invalidation and counters."""

from __future__ import annotations

import orjson
import pytest
from redis.asyncio import Redis

from app.cache import Cache, CacheMode, TtlClass, cache_key
from app.cache.keys import index_key
from app.cache.redis_server import RedisServer
from app.cache.ttl import MAX_TTL_S
from app.errors import ConfigError
from app.settings import Settings
from tests.cache.util import sample


@pytest.mark.parametrize("ttl", list(TtlClass))
async def test_set_get_sets_the_ttl_of_the_class(cache: Cache, redis_client: Redis, ttl: TtlClass) -> None:
    key = cache_key("tenant", "02node", ttl.value)
    value = {"ttl": ttl.value, "msat": 2**62, "ratio": 0.5, "list": [1, None]}
    await cache.set_json(key, value, ttl)
    assert await cache.get_json(key) == value
    assert await redis_client.get(key.key) == orjson.dumps(value)
    pttl = await redis_client.pttl(key.key)
    assert ttl.seconds * 1000 - 2_000 < pttl <= ttl.seconds * 1000
    index_pttl = await redis_client.pttl(index_key(key.scope))
    assert MAX_TTL_S * 1000 - 2_000 < index_pttl <= MAX_TTL_S * 1000
    assert (cache.mode, cache.backend_name, cache.degraded) == (CacheMode.REDIS, "redis", False)


async def test_bytes_round_trip_and_single_delete(cache: Cache) -> None:
    key = cache_key("t", "n", "blob")
    await cache.set_bytes(key, b"\x00\xffraw", TtlClass.HEAVY)
    assert await cache.get_bytes(key) == b"\x00\xffraw"
    await cache.delete(key)
    assert await cache.get_bytes(key) is None


async def test_crafted_ids_cannot_read_another_tenants_key(cache: Cache) -> None:
    node_key, tenant_key = cache_key("acme", "node:1", "channels"), cache_key("acme", None, "graph")
    await cache.set_json(node_key, "secret-of-acme", TtlClass.CHANNELS)
    await cache.set_json(tenant_key, "acme-wide", TtlClass.HEAVY)
    # The values are really there, so the misses below are the keys not matching, not an empty cache.
    assert await cache.get_json(node_key) == "secret-of-acme"
    assert await cache.get_json(tenant_key) == "acme-wide"
    attempts = [
        cache_key("acme:node", "1", "channels"),
        cache_key("acme:node:1", "-", "channels"),
        cache_key("evil", "x", "k", "../../acme:node:1:channels"),
        cache_key("acme", "-", "graph"),
        cache_key("acme%3Anode", "1", "channels"),
        cache_key("acme*", "node:1", "channels"),
    ]
    for key in attempts:
        assert await cache.get_json(key) is None, key


async def test_tenant_invalidation_is_exact_even_with_glob_characters(cache: Cache) -> None:
    keys = {name: cache_key(name, "n", "k") for name in ("acme", "acme2", "acme*", "acm?")}
    for key in keys.values():
        await cache.set_json(key, 1, TtlClass.NODE)
    await cache.invalidate_tenant("acme*")
    await cache.invalidate_tenant("acm?")
    assert {name: await cache.get_json(key) for name, key in keys.items()} == {
        "acme": 1,
        "acme2": 1,
        "acme*": None,
        "acm?": None,
    }
    await cache.invalidate_tenant("acme")
    assert await cache.get_json(keys["acme"]) is None
    assert await cache.get_json(keys["acme2"]) == 1


async def test_invalidate_node_removes_only_that_nodes_keys(cache: Cache, redis_client: Redis) -> None:
    doomed = [cache_key("t", "n1", kind, "p") for kind in ("info", "channels", "scores")]
    kept = [
        cache_key("t", "n10", "info"),
        cache_key("t", None, "centrality"),
        cache_key("t2", "n1", "info"),
        cache_key("t", "n1:x", "info"),
    ]
    for key in doomed + kept:
        await cache.set_json(key, key.key, TtlClass.SCORES)
    await cache.invalidate_node("t", "n1")
    assert [await redis_client.exists(k.key) for k in doomed] == [0, 0, 0]
    assert await redis_client.exists(index_key(doomed[0].scope)) == 0
    assert [await cache.get_json(k) for k in kept] == [k.key for k in kept]
    await cache.invalidate_node("t", None)  # tenant-wide keys only
    assert [await cache.get_json(k) for k in kept] == [kept[0].key, None, kept[2].key, kept[3].key]


async def test_hit_and_miss_counters_move(cache: Cache) -> None:
    hits, misses = (
        sample("mcp_cache_hits_total", backend="redis"),
        sample("mcp_cache_misses_total", backend="redis"),
    )
    key = cache_key("t", "n", "k")
    assert await cache.get_json(key) is None
    await cache.set_json(key, [1], TtlClass.NODE)
    assert await cache.get_json(key) == [1]
    assert await cache.get_json(key) == [1]
    stats = cache.stats()
    assert (stats.hits, stats.misses) == ({"redis": 2, "memory": 0}, {"redis": 1, "memory": 0})
    assert sample("mcp_cache_hits_total", backend="redis") == hits + 2
    assert sample("mcp_cache_misses_total", backend="redis") == misses + 1
    assert sample("mcp_cache_degraded") == 0


async def test_from_settings_reads_url_and_probe_interval(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    settings = Settings(redis_url=redis_server.url, cache_probe_interval_s=0.1)
    async with Cache.from_settings(settings) as cache:
        await cache.set_json(cache_key("t", "n", "k"), "v", TtlClass.NODE)
        assert await redis_client.get("mcp:t:n:k") == b'"v"'
        assert cache.stats().redis_configured


@pytest.mark.parametrize("url", ["http://:hunter2@localhost:6379", "redis://:hunter2@localhost:port"])
def test_an_invalid_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Cache(url)
    assert "hunter2" not in str(raised.value) and raised.value.__cause__ is None
