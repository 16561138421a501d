"""Degraded modes with real servers stopped mid-run: READ_ONLY (Mongo-wire server) and CACHE_DEGRADED (Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.cache.redis_server import RedisServer
from app.sandbox.lnd.faults import FaultPlan
from app.scheduler.runner import CycleScheduler
from app.storage.embedded import EmbeddedMongo
from tests.api.conftest import (
    dump,
    running_service,
    tenant_with_key,
)


@pytest.fixture
async def mongo(tmp_path: Path) -> AsyncIterator[EmbeddedMongo]:
    """A file-backed server of our own, so stopping it affects only this test."""
    server = EmbeddedMongo(tmp_path / "mongo-data")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def wait_for_mode(client: httpx.AsyncClient, mode: str) -> httpx.Response:
    for _ in range(200):
        response = await client.get("/ready")
        if response.json().get("mode") == mode:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"mode never became {mode}: {response.json()}")


async def test_storage_outage_serves_reads_from_cache_refuses_writes_and_recovers(
    tmp_path: Path, mongo: EmbeddedMongo
):
    async with running_service(tmp_path, mongo.url, mongodb_timeout_ms=500) as service:
        _, key = await tenant_with_key(service, "outage")
        async with service.client(key) as api, httpx.AsyncClient(base_url=service.url) as probe:
            await wait_for_mode(probe, "full")
            node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
            assert (await api.post(f"/api/v1/nodes/{node_id}/sync")).status_code == 200
            before = await api.get(f"/api/v1/nodes/{node_id}/channels")
            assert before.status_code == 200

            await mongo.stop()
            ready = await wait_for_mode(probe, "read_only")
            assert ready.status_code == 503
            during = await api.get(f"/api/v1/nodes/{node_id}/channels")
            assert during.status_code == 200 and during.json() == before.json()  # served from cache
            refused = await api.put(f"/api/v1/nodes/{node_id}/settings", json={})
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "storage_unavailable"

            await mongo.start()
            await wait_for_mode(probe, "full")
            assert (await api.put(f"/api/v1/nodes/{node_id}/settings", json={})).status_code == 200


async def test_redis_outage_serves_from_memory_keeps_writing_and_hands_back_without_stale_pages(
    tmp_path: Path, mongo_url: str
):
    with RedisServer() as redis:
        overrides: dict[str, Any] = {"redis_url": SecretStr(redis.url), "cache_probe_interval_s": 0.2}
        async with running_service(tmp_path, mongo_url, **overrides) as service:
            _, key = await tenant_with_key(service, "redis-outage")
            async with service.client(key) as api, httpx.AsyncClient(base_url=service.url) as probe:
                ready = await wait_for_mode(probe, "full")
                assert ready.json()["cache"] == "redis"
                node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"][
                    "id"
                ]
                channels = f"/api/v1/nodes/{node_id}/channels"
                first = (await api.post(f"/api/v1/nodes/{node_id}/sync")).json()["cycle_id"]
                assert (await api.get(channels)).json()["cycle_id"] == first  # now cached in Redis

                redis.stop(persist=True)  # its data, first cycle included, comes back on restart
                ready = await wait_for_mode(probe, "cache_degraded")
                assert ready.status_code == 200 and ready.json()["cache"] == "cache_degraded"
                metrics = (await probe.get("/metrics")).text
                assert "mcp_cache_degraded 1.0" in metrics
                during = await api.get(channels)
                assert during.status_code == 200 and during.json()["cycle_id"] == first
                second = await api.post(f"/api/v1/nodes/{node_id}/sync")  # writes go on: storage is fine
                assert second.status_code == 200
                assert (await api.get(channels)).json()["cycle_id"] == second.json()["cycle_id"]
                assert (await api.put(f"/api/v1/nodes/{node_id}/settings", json={})).status_code == 200

                redis.start()
                ready = await wait_for_mode(probe, "full")
                assert ready.json()["cache"] == "redis"
                assert "mcp_cache_degraded 0.0" in (await probe.get("/metrics")).text
                # Redis still held the first cycle's list and pages; the hand-back erased them.
                after = await api.get(channels)
                assert after.status_code == 200 and after.json()["cycle_id"] == second.json()["cycle_id"]


async def test_unreachable_node_opens_its_circuit_stops_its_cycles_and_recovers(
    tmp_path: Path, mongo_url: str
):
    async with running_service(tmp_path, mongo_url, node_circuit_cooldown_s=2.0) as service:
        _, key = await tenant_with_key(service, "flaky-node")
        async with service.client(key) as api, httpx.AsyncClient(base_url=service.url) as probe:
            node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
            health = f"/api/v1/nodes/{node_id}/health"
            assert (await api.post(f"/api/v1/nodes/{node_id}/sync")).status_code == 200
            assert (await api.get(health)).json()["circuit"] == "closed"
            service.simulator.set_faults(FaultPlan(error_rate=1.0, error_status=503))
            for _ in range(10):  # each sync retries, then fails; the circuit counts every failure
                failed = await api.post(f"/api/v1/nodes/{node_id}/sync")
                assert failed.status_code in (502, 503, 504), dump(failed)
                if (await api.get(health)).json()["circuit"] == "open":
                    break
            state = (await api.get(health)).json()
            assert state["circuit"] == "open" and state["last_error"] and state["last_error_at"], state
            ready = await probe.get("/ready")  # the open route: one tenant's node changes nothing there
            assert ready.status_code == 200 and ready.json()["mode"] == "full", ready.text
            assert node_id not in ready.text and "circuit" not in ready.text

            refused = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "upstream_unavailable"
            assert (await api.get(f"/api/v1/nodes/{node_id}/channels")).status_code == 200  # reads go on
            scheduler = CycleScheduler(service.app.state.runtime, interval_s=3600, jitter_s=0, lease_s=600)
            tick = await scheduler.tick()
            assert tick.unreachable == [node_id] and tick.ran == [] and tick.failed == {}

            service.simulator.set_faults(FaultPlan())
            deadline = time.monotonic() + 15  # the cool-down ends; the next call is the half-open probe
            while (synced := await api.post(f"/api/v1/nodes/{node_id}/sync")).status_code != 200:
                assert synced.json()["error"]["code"] == "upstream_unavailable", dump(synced)
                assert time.monotonic() < deadline, "the circuit never let a probe through"
                await asyncio.sleep(0.2)
            state = (await api.get(health)).json()
            assert state["circuit"] == "closed" and state["last_error"] is None and state["last_sync_at"]
