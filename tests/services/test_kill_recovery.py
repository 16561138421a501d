"""kill -9 of the service in the middle of a batch, 100 times: recovery must finish or compensate every one.

The service runs as its own process (uvicorn) against the session's Mongo-wire server and an LND
simulator in this process. Each trial asks it to put the node back to one of two backups (a journaled
batch of about 60 channel writes, each slowed by the simulator), kills it with SIGKILL after a random
delay, restarts it, and waits for start-up recovery. Then the latest transaction must be terminal, no
channel unknown, and every channel of the node exactly what the journal says (target when applied,
backup otherwise). Run by `make test-kill` (part of `make test`); it prints where the kills landed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import os
import random
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.domain.execution import ChannelOutcome
from app.domain.policy import ChannelPolicy
from app.graph.synthetic import generate_graph_document
from app.sandbox.lnd.faults import FaultPlan
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.serving import free_port
from app.storage.database import Storage, open_storage
from tests.policy.execution_env import HUB_SEED, hub_graph
from tests.storage.conftest import database_name, mongo_url, storage_settings  # noqa: F401

pytestmark = [pytest.mark.kill, pytest.mark.timeout(1_800)]
TRIALS = int(os.environ.get("MCP_KILL_TRIALS", "100"))
CHANGED_CHANNELS = 60
WRITE_LATENCY_MS = 30
ADMIN_KEY = "mcp_kill_admin_" + secrets.token_hex(8)


@dataclasses.dataclass
class ServiceProcess:
    """The service as a child process, restartable on the same database."""

    env: dict[str, str]
    log: Path
    port: int = 0
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start uvicorn and wait until it answers /health."""
        self.port = free_port()
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            env=self.env, stdout=handle, stderr=handle,
        )  # fmt: skip
        handle.close()
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as probe:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/health")).status_code == 200:
                        return
                if self.process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start; see {self.log}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)

    async def wait_dead(self) -> None:
        """Reap the killed process."""
        assert self.process is not None
        await self.process.wait()

    async def stop(self) -> None:
        """Stop gracefully at the end."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.kill()
                await self.process.wait()


def policies(handle: SimulatorHandle) -> dict[str, ChannelPolicy]:
    """Every channel's policy on the simulated node now."""
    return {
        chan_id: ChannelPolicy(**dataclasses.asdict(live.policy))
        for chan_id, live in handle.node.channels.items()
    }


World = tuple[SimulatorHandle, "ServiceProcess", Storage]


@pytest.fixture
async def world(tmp_path: Path, mongo_url: str) -> AsyncIterator[World]:  # noqa: F811
    """The simulator (in this process), the service (a child process) and a storage client for checks."""
    graph = hub_graph()
    hub = max(range(graph.node_count), key=lambda index: len(graph.edges_of(index)))
    state = generate_sandbox_state(graph, hub, seed=HUB_SEED, now_s=int(time.time()))
    graph_file = tmp_path / "graph.json"
    graph_file.write_bytes(orjson.dumps(generate_graph_document(seed=5, node_count=300, channel_count=900)))
    database = database_name()
    env = {
        **os.environ,
        "MCP_MONGODB_URL": mongo_url,
        "MCP_MONGODB_DATABASE": database,
        "MCP_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "MCP_ADMIN_API_KEY": ADMIN_KEY,
        "MCP_GRAPH_FILE": str(graph_file),
        "MCP_DATA_DIR": str(tmp_path / "data"),
        "MCP_CENTRALITY_SAMPLES": "32",
        "MCP_CLOSENESS_SAMPLES": "32",
        "MCP_SCHEDULE_ENABLED": "false",
        "MCP_NODE_LEASE_S": "1.5",
        "MCP_RECOVERY_INTERVAL_S": "0.3",
        "MCP_UNKNOWN_SETTLE_S": "0.3",
        "MCP_WRITE_CONCURRENCY": "2",
        "MCP_RATE_LIMIT_PER_SECOND": "1000",
        "MCP_ALLOW_PRIVATE_NODE_URLS": "true",  # the simulator listens on 127.0.0.1
    }
    storage = await open_storage(storage_settings(mongo_url, database))
    service = ServiceProcess(env, tmp_path / "service.log")
    async with running_simulator(SimulatedNode(state, graph)) as handle:
        try:
            yield handle, service, storage
        finally:
            await service.stop()
            await storage.client.drop_database(database)
            await storage.close()


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """The body of an expected answer."""
    assert response.status_code == status, response.text
    return response.json()


async def set_up(
    handle: SimulatorHandle, service: ServiceProcess, rng: random.Random
) -> tuple[str, str, str, list[str]]:
    """A tenant, the node registered and synced, two backups ~60 channels apart: (tenant, key, node, backups)."""
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as api:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        tenant = await ok(await api.post("/api/v1/tenants", json={"name": "killed"}, headers=admin), 201)
        issued = await ok(
            await api.post(
                f"/api/v1/tenants/{tenant['id']}/keys", json={"name": "k", "role": "admin"}, headers=admin
            ),
            201,
        )
        headers = {"Authorization": f"Bearer {issued['key']}"}
        body = {"name": "hub", "backend": "lnd", "url": handle.url, "macaroon": handle.macaroons.fees.hex()}
        node = (await ok(await api.post("/api/v1/nodes", json=body, headers=headers), 201))["node"]["id"]
        await ok(await api.post(f"/api/v1/nodes/{node}/sync", headers=headers))
        first = await ok(await api.post(f"/api/v1/nodes/{node}/backups", headers=headers), 201)
        for chan_id in rng.sample(sorted(handle.node.channels), CHANGED_CHANNELS):
            live = handle.node.channels[chan_id]
            handle.node.set_policy(
                live, dataclasses.replace(live.policy, fee_rate_ppm=live.policy.fee_rate_ppm + 37)
            )
        second = await ok(await api.post(f"/api/v1/nodes/{node}/backups", headers=headers), 201)
        await ok(
            await api.post(f"/api/v1/nodes/{node}/rollback", json={"backup_id": first["id"]}, headers=headers)
        )
    return tenant["id"], issued["key"], node, [first["id"], second["id"]]


async def wait_recovered(storage: Storage, deadline_s: float = 60.0) -> None:
    """Poll until no transaction is unfinished (recovery runs at start-up, then every 0.3 s)."""
    deadline = time.monotonic() + deadline_s
    while await storage.transactions.unfinished():
        assert time.monotonic() < deadline, "recovery did not finish in time"
        await asyncio.sleep(0.1)


async def test_kill_9_during_apply_then_recovery_finishes_or_compensates_every_time(world: Any):
    handle, service, storage = world
    rng = random.Random(99)
    await service.start()
    tenant_id, key, node_id, backups = await set_up(handle, service, rng)
    handle.set_faults(FaultPlan(paths=("/v1/chanpolicy",), latency_ms=WRITE_LATENCY_MS))
    landed: Counter[str] = Counter()
    results: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    seen: set[str] = set()
    started = time.perf_counter()
    for trial in range(TRIALS):
        target = backups[trial % 2]
        delay = rng.uniform(0.0, 1.2)
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as api:
            request = asyncio.create_task(
                api.post(
                    f"/api/v1/nodes/{node_id}/rollback",
                    json={"backup_id": target},
                    headers={"Authorization": f"Bearer {key}"},
                )
            )
            await asyncio.sleep(delay)
            service.kill()
            with contextlib.suppress(httpx.HTTPError):
                await request
        await service.wait_dead()
        landed[await where_it_landed(storage, seen)] += 1
        await service.start()
        await wait_recovered(storage)
        latest = (await storage.transactions.list(tenant_id, node_id, limit=1)).items[0]
        assert latest.state.terminal and latest.effects_done, latest
        entries = await storage.journal.for_transaction(latest.tenant_id, latest.id)
        on_node = policies(handle)
        for entry in entries:
            assert entry.outcome is not ChannelOutcome.UNKNOWN, entry
            expected = entry.target if entry.outcome is ChannelOutcome.APPLIED else entry.before
            assert on_node[entry.chan_id] == expected, (trial, entry.outcome, entry.chan_id)
        outcomes.update(entry.outcome.value for entry in entries)
        results[latest.state.value] += 1
    elapsed = time.perf_counter() - started
    print(
        f"\nkill suite: {TRIALS} kill -9 trials in {elapsed:.0f} s; killed at: {dict(sorted(landed.items()))}"
        f"\n  after recovery, the interrupted (or last) transaction: {dict(sorted(results.items()))}"
        f"\n  its channels: {dict(sorted(outcomes.items()))}; "
        f"recovered or compensated: {sum(results.values())}/{TRIALS}"
    )
    assert sum(results.values()) == TRIALS
    assert landed["applying"] >= TRIALS // 4, "most kills must land while writes are in flight"


async def where_it_landed(storage: Storage, seen: set[str]) -> str:
    """The state the kill left the newest transaction in (before any recovery ran)."""
    unfinished = [t for t in await storage.transactions.unfinished() if t.id not in seen]
    if not unfinished:
        return "before the batch or after it finished"
    newest = unfinished[-1]
    seen.add(newest.id)
    if not newest.state.terminal:
        return newest.state.value
    return "terminal, effects not written"
