"""A running service (uvicorn, real sockets) on the in-memory Mongo-wire server, plus an LND simulator node."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from pydantic import SecretStr

from app.graph.synthetic import generate_graph, generate_graph_document
from app.main import create_app
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.serving import wait_listening
from app.settings import Settings
from tests.storage.conftest import database_name, mongo_url  # noqa: F401  (session fixture)

ADMIN_KEY = "mcp_test_platform_admin_" + secrets.token_hex(8)
GRAPH_SEED, GRAPH_NODES, GRAPH_CHANNELS = 5, 400, 1_200


@dataclass
class Service:
    """The service under test and what a test needs to talk to it."""

    url: str
    settings: Settings
    simulator: SimulatorHandle
    app: Any

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        """An HTTP client, authenticated with `key` when given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60.0)

    def lnd_registration(self, name: str = "sim") -> dict[str, Any]:
        """A registration body for the simulator node (fee macaroon, pinned certificate)."""
        return {
            "name": name,
            "backend": "lnd",
            "url": self.simulator.url,
            "macaroon": self.simulator.fees_macaroon_hex,
            "tls_cert_pem": self.simulator.cert_pem.decode() if self.simulator.cert_pem else None,
        }


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Run `app` under uvicorn on a port the OS picks, until told to exit."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
    )
    task = asyncio.create_task(server.serve())
    port = await wait_listening(server, task)
    return server, task, f"http://127.0.0.1:{port}"


def service_settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    """Settings for one test service: its own database, data dir, graph file and keys."""
    graph_file = tmp_path / "graph.json"
    if not graph_file.exists():
        document = generate_graph_document(
            seed=GRAPH_SEED, node_count=GRAPH_NODES, channel_count=GRAPH_CHANNELS
        )
        graph_file.write_bytes(orjson.dumps(document))
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "graph_file": graph_file,
        "mongodb_url": SecretStr(url),
        "mongodb_database": database_name(),
        "master_key": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        "admin_api_key": SecretStr(ADMIN_KEY),
        "redis_url": None,
        "allow_private_node_urls": True,  # the simulator nodes listen on loopback
        "health_interval_s": 0.2,
        "centrality_samples": 32,
        "closeness_samples": 32,
        **overrides,
    }
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_service(
    tmp_path: Path, url: str, *, simulated_until_s: int | None = None, **overrides: Any
) -> AsyncIterator[Service]:
    """The API over HTTP with a TLS LND simulator node beside it; waits until the graph is ready.

    The simulated node's history ends at `simulated_until_s` (the snapshot's date by default; the real
    now lines its forwards up with the service's own clock).
    """
    graph = generate_graph(seed=GRAPH_SEED, node_count=GRAPH_NODES, channel_count=GRAPH_CHANNELS)
    if simulated_until_s is None:
        state = generate_sandbox_state(graph, 0, seed=5)
    else:
        state = generate_sandbox_state(graph, 0, seed=5, now_s=simulated_until_s)
    settings = service_settings(tmp_path, url, **overrides)
    async with running_simulator(SimulatedNode(state, graph), tls=True) as simulator:
        app = create_app(settings)
        server, task, base_url = await serve(app)
        try:
            async with httpx.AsyncClient(base_url=base_url) as probe:
                for _ in range(600):
                    if (await probe.get("/ready")).status_code == 200:
                        break
                    await asyncio.sleep(0.05)
            yield Service(url=base_url, settings=settings, simulator=simulator, app=app)
        finally:
            server.should_exit = True
            await task


# The demo's shortening of the rollout: no minimum time in a stage, one cycle, flow judged at once.
FAST_ROLLOUT: dict[str, Any] = {
    "rollout_shadow_days": 0,
    "rollout_min_cycles": 1,
    "rollout_canary_days": 0,
    "rollout_min_forwards": 0,
    "rate_limit_per_second": 1_000,
}


@pytest.fixture
async def live_service(tmp_path: Path, mongo_url: str) -> AsyncIterator[Service]:  # noqa: F811
    """The API with a simulated node whose history ends now, and a rollout that may move at once."""
    async with running_service(
        tmp_path, mongo_url, simulated_until_s=int(time.time()), **FAST_ROLLOUT
    ) as running:
        yield running


@pytest.fixture
async def service(tmp_path: Path, mongo_url: str) -> AsyncIterator[Service]:  # noqa: F811
    """The API with a simulator node, on the in-memory Mongo-wire server and the in-process cache."""
    async with running_service(tmp_path, mongo_url) as running:
        yield running


async def tenant_with_key(service: Service, name: str, role: str = "admin") -> tuple[str, str]:
    """Create a tenant and one key of it; returns (tenant id, key)."""
    async with service.client(ADMIN_KEY) as admin:
        tenant = (await admin.post("/api/v1/tenants", json={"name": name})).json()
        issued = await admin.post(
            f"/api/v1/tenants/{tenant['id']}/keys", json={"name": f"{name}-{role}", "role": role}
        )
        assert issued.status_code == 201, issued.text
        return tenant["id"], issued.json()["key"]


def dump(response: httpx.Response) -> str:
    """Status and body, for assertion messages."""
    return f"{response.status_code} {json.dumps(response.json()) if response.content else ''}"
