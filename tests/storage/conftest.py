"""One in-memory nx-27017 per session (or the MongoDB of MCP_MONGODB_URL); a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from app.engine.cycle import CycleReport, run_cycle
from app.graph.centrality import compute_centrality
from app.graph.synthetic import generate_graph
from app.sandbox.state import generate_sandbox_state
from app.settings import Settings
from app.storage.database import Storage, open_storage
from app.storage.embedded import EmbeddedMongo
from tests.factories import service_profile

# Per session, so two runs against one real MongoDB never share a database.
SESSION_TAG = secrets.token_hex(4)


def database_name() -> str:
    """A database name unique to this test (MongoDB allows 63 characters)."""
    return f"mcp_test_{SESSION_TAG}_{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """MCP_MONGODB_URL when set, else one in-memory nx-27017 shared by the session."""
    external = os.environ.get("MCP_MONGODB_URL")
    if external:
        yield external
        return
    server = EmbeddedMongo()
    # Sync fixture, own event loops: the server is a plain child process, bound to no loop.
    url = asyncio.run(server.start())
    try:
        yield url
    finally:
        asyncio.run(server.stop())


def storage_settings(url: str, database: str | None = None, timeout_ms: int = 3000) -> Settings:
    """Settings pointing at `url` with a unique database."""
    return Settings(
        mongodb_url=SecretStr(url),
        mongodb_database=database or database_name(),
        mongodb_timeout_ms=timeout_ms,
    )


@pytest.fixture
async def storage(mongo_url: str) -> AsyncIterator[Storage]:
    """A Storage on a fresh database, dropped afterwards."""
    settings = storage_settings(mongo_url)
    opened = await open_storage(settings)
    try:
        yield opened
    finally:
        await opened.client.drop_database(settings.mongodb_database)
        await opened.close()


@pytest.fixture
async def second_client(storage: Storage, mongo_url: str) -> AsyncIterator[Storage]:
    """Another Storage (its own AsyncMongoClient, like a second replica) on the same database."""
    other = await open_storage(storage_settings(mongo_url, storage.database.name))
    try:
        yield other
    finally:
        await other.close()


@pytest.fixture(scope="session")
def cycle_report() -> CycleReport:
    """A real shadow cycle: the 35-channel hub of a 300-node synthetic graph, as the services under test run it."""
    graph = generate_graph(seed=3, node_count=300, channel_count=900)
    state = generate_sandbox_state(graph, 0, seed=3)
    return run_cycle(state.snapshot(), graph, compute_centrality(graph), service_profile())
