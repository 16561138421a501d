"""A database outage: errors within seconds, ping False, and recovery once a server is back on the same port."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.errors import StorageUnavailableError
from app.serving import free_port
from app.storage.database import open_storage
from app.storage.embedded import EmbeddedMongo
from app.storage.records import TenantRecord
from tests.storage import builders
from tests.storage.conftest import storage_settings

TIMEOUT_MS = 500
OUTAGE_DEADLINE_S = 5.0


async def until(condition: Callable[[], Awaitable[bool]], deadline_s: float) -> bool:
    """Poll `condition` until it holds; False when the deadline passes first."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_outage_is_reported_fast_and_recovery_is_seen():
    first = EmbeddedMongo()
    await first.start()
    storage = await open_storage(storage_settings(first.url, timeout_ms=TIMEOUT_MS))
    second: EmbeddedMongo | None = None
    try:
        tenant = await storage.tenants.add(TenantRecord(name="acme"))
        assert await storage.ping()
        await first.stop()

        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: storage.tenants.get(tenant.id),
            lambda: storage.nodes.add(builders.node(tenant.id)),
            lambda: storage.decisions.list(tenant.id),
            lambda: storage.leases.acquire("job", "a", 10),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(StorageUnavailableError) as caught:
                await call()
            assert time.monotonic() - started < OUTAGE_DEADLINE_S
            assert caught.value.code == "storage_unavailable" and "operation" in caught.value.details
        started = time.monotonic()
        assert not await storage.ping()
        assert time.monotonic() - started < OUTAGE_DEADLINE_S

        # A new server on the same address (in memory: it starts empty, so indexes are created again).
        second = EmbeddedMongo(port=first.port)
        await second.start()
        assert await until(storage.ping, deadline_s=15.0), "ping stayed False after the server came back"
        await storage.ensure_indexes()
        again = await storage.tenants.add(TenantRecord(name="acme"))
        assert await storage.tenants.get(again.id) == again
    finally:
        await storage.close()
        await first.stop()
        if second is not None:
            await second.stop()


async def test_an_unreachable_database_fails_open_storage_fast_without_leaking_the_password(caplog):
    url = f"mongodb://mcp:s3cret-pw@127.0.0.1:{free_port()}/"
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(StorageUnavailableError) as caught:
        await open_storage(storage_settings(url, timeout_ms=TIMEOUT_MS))
    assert time.monotonic() - started < OUTAGE_DEADLINE_S
    error = caught.value
    exposed = [error.message, repr(error.details), str(error.__cause__), caplog.text]
    assert all("s3cret-pw" not in text for text in exposed)
