"""The throwaway Redis server helper: binary discovery, start, stop, restart and persistence."""

from __future__ import annotations

import asyncio
import os

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.cache.redis_server import RedisServer, find_redis_server


def test_a_redis_server_binary_is_found() -> None:
    binary = find_redis_server()
    assert binary.is_file() and os.access(binary, os.X_OK)


async def test_restart_keeps_the_port_and_persist_keeps_the_data() -> None:
    async with RedisServer() as server:
        port, url = server.port, server.url
        assert url == f"redis://127.0.0.1:{port}/0" and server.running
        # One retry, so the pooled connection that the restart broke is replaced transparently.
        client = Redis.from_url(url, retry=Retry(NoBackoff(), 1))
        try:
            await client.set("k", "v")
            await asyncio.to_thread(server.restart, persist=True)
            assert server.port == port and server.running
            assert await client.get("k") == b"v"
            await asyncio.to_thread(server.restart)
            assert await client.get("k") is None
            await asyncio.to_thread(server.stop)
            assert not server.running
            await asyncio.to_thread(server.stop)  # idempotent
        finally:
            await client.aclose()
    assert not server.running
