"""Outages of a real Redis: stop, freeze or refuse it mid-run, then check failover and hand-back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from app.cache import Cache, CacheMode, TtlClass, cache_key
from app.cache.redis_server import RedisServer
from tests.cache.conftest import PROBE_INTERVAL_S
from tests.cache.util import sample, wait_until

HAND_BACK_TIMEOUT_S = 30 * PROBE_INTERVAL_S


@pytest.fixture
async def outage_cache(own_server: RedisServer) -> AsyncIterator[Cache]:
    """A started Cache on a server the test may stop."""
    async with Cache(own_server.url, probe_interval_s=PROBE_INTERVAL_S) as cache:
        yield cache


async def test_stop_mid_run_fails_over_to_memory_and_hands_back(
    own_server: RedisServer, outage_cache: Cache
) -> None:
    cache = outage_cache
    before = cache_key("t", "n", "before")
    await cache.set_json(before, "from redis", TtlClass.NODE)
    await asyncio.to_thread(own_server.stop)

    assert await cache.get_json(before) is None  # no exception: a miss from memory
    assert cache.degraded and cache.mode is CacheMode.CACHE_DEGRADED and cache.backend_name == "memory"
    assert sample("mcp_cache_degraded") == 1
    during = cache_key("t", "n", "during")
    await cache.set_json(during, {"v": 1}, TtlClass.SCORES)
    assert await cache.get_json(during) == {"v": 1}
    assert cache.stats().hits["memory"] == 1

    await asyncio.to_thread(own_server.start)
    await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
    assert (cache.mode, cache.backend_name) == (CacheMode.REDIS, "redis")
    assert sample("mcp_cache_degraded") == 0
    assert cache.stats().pending_erasures == 0
    assert await cache.get_json(during) is None  # memory was cleared; the restarted Redis is empty
    await cache.set_json(during, {"v": 2}, TtlClass.SCORES)
    assert await cache.get_json(during) == {"v": 2}
    assert cache.stats().hits["redis"] == 1


async def test_nothing_invalidated_or_rewritten_during_the_outage_is_served_stale(
    own_server: RedisServer, outage_cache: Cache
) -> None:
    cache = outage_cache
    invalidated = cache_key("t", "n1", "channels")
    rewritten = cache_key("t", "n2", "channels")
    deleted = cache_key("t", "n2", "info")
    other_tenant = cache_key("u", "n1", "channels")
    untouched = cache_key("t", "n3", "channels")
    for key in (invalidated, rewritten, deleted, other_tenant, untouched):
        await cache.set_json(key, "old", TtlClass.CHANNELS)
    await asyncio.to_thread(own_server.stop, persist=True)  # Redis comes back with the old values

    await cache.invalidate_node("t", "n1")
    await cache.set_json(rewritten, "new", TtlClass.CHANNELS)
    await cache.delete(deleted)
    await cache.invalidate_tenant("u")
    assert cache.degraded
    assert await cache.get_json(rewritten) == "new"
    assert await cache.get_json(invalidated) is None
    assert cache.stats().pending_erasures == 4

    await asyncio.to_thread(own_server.start)
    await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
    assert await cache.get_json(untouched) == "old"  # proves Redis kept its data across the restart
    for key in (invalidated, rewritten, deleted, other_tenant):
        assert await cache.get_json(key) is None, key


async def test_too_many_changes_during_an_outage_erase_the_whole_namespace(own_server: RedisServer) -> None:
    async with Cache(own_server.url, probe_interval_s=PROBE_INTERVAL_S, max_pending_erasures=3) as cache:
        survivor_unless_flushed = cache_key("other", "n", "k")
        await cache.set_json(survivor_unless_flushed, "old", TtlClass.HEAVY)
        await asyncio.to_thread(own_server.stop, persist=True)
        for i in range(5):
            await cache.set_json(cache_key("t", "n", "k", i), i, TtlClass.NODE)
        assert cache.stats().pending_erasures == 1  # collapsed into "erase everything"
        await asyncio.to_thread(own_server.start)
        await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
        assert await cache.get_json(survivor_unless_flushed) is None


async def test_redis_down_at_start_up_then_appearing(own_server: RedisServer) -> None:
    await asyncio.to_thread(own_server.stop)
    async with Cache(own_server.url, probe_interval_s=PROBE_INTERVAL_S) as cache:
        assert cache.degraded and cache.mode is CacheMode.CACHE_DEGRADED
        key = cache_key("t", "n", "k")
        await cache.set_json(key, 1, TtlClass.NODE)
        assert await cache.get_json(key) == 1
        await asyncio.to_thread(own_server.start)
        await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
        assert cache.backend_name == "redis"


async def test_the_probe_notices_an_outage_while_idle(own_server: RedisServer, outage_cache: Cache) -> None:
    await asyncio.to_thread(own_server.stop)
    await wait_until(lambda: outage_cache.degraded, HAND_BACK_TIMEOUT_S, "the probe to notice the outage")


async def test_a_hanging_redis_costs_one_short_timeout(own_server: RedisServer, outage_cache: Cache) -> None:
    cache = outage_cache
    key = cache_key("t", "n", "k")
    await cache.set_json(key, "v", TtlClass.NODE)
    own_server.freeze()
    try:
        started = time.monotonic()
        assert await cache.get_json(key) is None
        assert cache.degraded
        await cache.set_json(key, "w", TtlClass.NODE)
        assert await cache.get_json(key) == "w"
        # 0.5 s socket timeout and one retry; the later calls never wait for Redis.
        assert time.monotonic() - started < 2.5
    finally:
        own_server.thaw()
    await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
    assert await cache.get_json(key) is None  # the value written during the freeze was erased in Redis


async def test_the_password_in_the_url_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    password = "s3cr3t-pa55word"
    caplog.set_level(logging.DEBUG)
    with RedisServer(password=password) as server:
        assert password in server.url
        async with Cache(server.url, probe_interval_s=PROBE_INTERVAL_S) as cache:
            key = cache_key("t", "n", "k")
            await cache.set_json(key, 1, TtlClass.NODE)
            assert await cache.get_json(key) == 1  # authenticated
            await asyncio.to_thread(server.stop)
            await cache.get_json(key)
            assert cache.degraded
            await asyncio.to_thread(server.start)
            await wait_until(lambda: not cache.degraded, HAND_BACK_TIMEOUT_S, "the hand-back to Redis")
            assert password not in repr(cache.stats())
    assert "cache degraded" in caplog.text and "handed back" in caplog.text
    assert password not in caplog.text
    assert sum("cache degraded" in r.getMessage() for r in caplog.records) == 1  # logged once per outage


async def test_concurrent_probes_hand_back_once_and_erase_first(own_server: RedisServer) -> None:
    # A long interval keeps the background probe out of the way: the test drives the probes itself.
    async with Cache(own_server.url, probe_interval_s=60) as cache:
        keys = [cache_key("t", f"n{i}", "k") for i in range(20)]
        for key in keys:
            await cache.set_json(key, "old", TtlClass.NODE)
        await asyncio.to_thread(own_server.stop, persist=True)
        assert await cache.probe() is False and cache.degraded
        for i in range(20):
            await cache.invalidate_node("t", f"n{i}")
        await asyncio.to_thread(own_server.start)
        assert await asyncio.gather(cache.probe(), cache.probe(), cache.probe()) == [True, True, True]
        assert [await cache.get_json(key) for key in keys] == [None] * 20
