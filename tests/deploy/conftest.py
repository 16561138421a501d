"""Real Redis and the Mongo-wire server for the deployment tests, one each per session."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest

from app.cache.redis_server import RedisServer
from app.storage.embedded import EmbeddedMongo


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway real redis-server."""
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """One in-memory nx-27017 shared by the session (each test uses its own database)."""
    server = EmbeddedMongo()
    url = asyncio.run(server.start())
    try:
        yield url
    finally:
        asyncio.run(server.stop())


@pytest.fixture
def database() -> str:
    """A database name unique to the test."""
    return f"mcp_deploy_{secrets.token_hex(6)}"
