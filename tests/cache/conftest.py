"""Fixtures of the cache tests: a real Redis server over a socket, a raw client and a Cache on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from app.cache import Cache
from app.cache.redis_server import RedisServer

PROBE_INTERVAL_S = 0.1


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the tests that never stop it (tests flush it before use)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A Redis of the test's own, which it may stop, freeze and restart."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on the shared server, flushed, to look behind the cache's back."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis_server: RedisServer, redis_client: Redis) -> AsyncIterator[Cache]:
    """A started Cache on the shared (flushed) server."""
    async with Cache(redis_server.url, probe_interval_s=PROBE_INTERVAL_S) as started:
        yield started
