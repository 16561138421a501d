"""The service as `make run` starts it (a real uvicorn process with a simulated LND node), set up for the dashboard.

`python -m app demo` runs the API and the simulator as their own processes on real Redis and the Mongo-wire
server; then, through the API, the node goes shadow -> canary -> live with a live transaction written,
a second registration of the simulator whose shadow cycle leaves decisions waiting for an operator,
and a manual backup; and the tenant gets a viewer and an operator key.
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.cache.redis_server import RedisServer
from app.graph.synthetic import generate_graph, generate_graph_document

PROJECT = Path(__file__).resolve().parents[2]
GRAPH_SEED, GRAPH_NODES, GRAPH_CHANNELS = 5, 400, 1_200
ADMIN_KEY = "mcp_dashboard_test_admin_" + base64.b32encode(os.urandom(10)).decode().lower()
START_TIMEOUT_S = 180.0
LIMITS = {"daily_cap": 60}


@dataclass(frozen=True)
class Stack:
    """The running service, its demo node and the keys a test signs in with."""

    url: str
    node_id: str
    careful_node_id: str  # the same simulator again, whose every write waits for an operator
    tenant_id: str
    admin_key: str  # the tenant's admin key (the demo's)
    operator_key: str
    viewer_key: str
    live_transaction_id: str  # the last batch that wrote (the live one, or the last canary one)
    macaroons_hex: tuple[str, ...]  # every macaroon the simulator wrote: no page may show one

    def api(self, key: str | None = None) -> httpx.Client:
        """An API client with the tenant's admin key (or `key`)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin_key}"}, timeout=120.0
        )


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of an expected answer; the answer itself in the assertion message otherwise."""
    assert response.status_code == status, (
        f"{response.request.url}: {response.status_code} {response.text[:500]}"
    )
    return response.json() if response.content else None


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    """Drain the demo's output (so its pipe never fills) and hand each line to the waiting fixture."""
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode(errors="replace"))


def _demo_fields(lines: queue.Queue[str], process: subprocess.Popen[bytes]) -> dict[str, str]:
    """The demo's summary block (API url, node id), waited for with a deadline."""
    fields: dict[str, str] = {}
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while "node id" not in fields:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the demo did not come up:\n" + "".join(seen[-40:]))
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        seen.append(line)
        name, _, value = line.partition("  ")
        if name.strip() in ("API", "node id") and value.strip():
            fields[name.strip()] = value.split()[0]
    return fields


def _walk_rollout(api: httpx.Client, node_id: str) -> str:
    """Shadow -> canary(1) -> canary(5) -> live, each stage's cycle run; the id of the last batch that wrote.

    That is the live batch when it found anything left to write, else the last canary batch (each canary
    stage must write to be promoted): the small test hub proposes only a handful of changes a day.
    """
    node = f"/api/v1/nodes/{node_id}"
    ok(api.put(f"{node}/settings", json={"limits": LIMITS}))
    ok(api.post(f"{node}/optimize", json={"mode": "shadow"}))
    written: str | None = None
    for stage, mode in (("canary_1", "canary"), ("canary_5", "canary"), ("live", "live")):
        assert ok(api.post(f"{node}/rollout", json={"action": "promote"}))["stage"] == stage
        ok(api.put(f"{node}/settings", json={"mode": mode, "limits": LIMITS}))
        execution = ok(api.post(f"{node}/optimize", json={}))["execution"]
        if execution["transaction_id"] and execution["outcomes"].get("applied", 0) >= 1:
            assert execution["state"] == "committed", execution
            written = str(execution["transaction_id"])
    assert written is not None, "no stage wrote a channel"
    return written


def _careful_node(api: httpx.Client, sim_url: str, sandbox: Path) -> str:
    """The simulator registered again (aggressive profile: more proposals), every write left to an operator."""
    body = {
        "name": "careful-sim",
        "backend": "lnd",
        "url": sim_url,
        "macaroon": (sandbox / "fees.macaroon").read_bytes().hex(),
        "tls_cert_pem": (sandbox / "tls.cert").read_text(),
        "settings": {"profile": "aggressive", "limits": {"require_manual_approval": True}},
    }
    node_id = str(ok(api.post("/api/v1/nodes", json=body), 201)["node"]["id"])
    ok(api.post(f"/api/v1/nodes/{node_id}/sync"))
    ok(api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"}))
    pending = ok(api.get(f"/api/v1/nodes/{node_id}/decisions", params={"status": "needs_approval"}))
    assert pending["items"], "manual approval leaves the writing proposals to an operator"
    return node_id


def _issue(admin: httpx.Client, tenant_id: str, role: str) -> str:
    issued = ok(
        admin.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": f"dash-{role}", "role": role}), 201
    )
    return str(issued["key"])


@contextlib.contextmanager
def running_stack(workdir: Path, mongo_url: str) -> Iterator[Stack]:
    """Start the demo on a small synthetic graph, set the node up, yield, and stop every process started."""
    graph_file = workdir / "graph.json"
    graph_file.write_bytes(orjson.dumps(generate_graph_document(GRAPH_SEED, GRAPH_NODES, GRAPH_CHANNELS)))
    hub = generate_graph(GRAPH_SEED, GRAPH_NODES, GRAPH_CHANNELS).pubkeys[0]
    with RedisServer() as redis:
        env = {
            **os.environ,
            "MCP_MONGODB_URL": mongo_url,
            "MCP_MONGODB_DATABASE": "dash_" + os.urandom(6).hex(),
            "MCP_REDIS_URL": redis.url,
            "MCP_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "MCP_ADMIN_API_KEY": ADMIN_KEY,
            "MCP_DATA_DIR": str(workdir / "data"),
            "MCP_SANDBOX_LND_DIR": str(workdir / "sandbox"),
            "MCP_GRAPH_FILE": str(graph_file),
            "MCP_SCHEDULE_ENABLED": "false",
            "MCP_RATE_LIMIT_PER_SECOND": "1000",
            "MCP_REQUEST_DEADLINE_S": "120",  # set-up cycles answer in place, not as jobs
            "MCP_CENTRALITY_SAMPLES": "32",
            "MCP_CLOSENESS_SAMPLES": "32",
        }
        command = [sys.executable, "-m", "app", "demo", "--node", hub, "--host", "127.0.0.1", "--port", "0",
                   "--sandbox-port", "0"]  # fmt: skip
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
        try:
            fields = _demo_fields(lines, process)
            url, node_id = fields["API"], fields["node id"]
            admin_key = (workdir / "data" / "demo.key").read_text().strip()
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as platform:
                tenants = ok(platform.get("/api/v1/tenants"))["items"]
                tenant_id = next(t["id"] for t in tenants if t["name"] == "demo")
            macaroons = tuple(path.read_bytes().hex() for path in (workdir / "sandbox").glob("*.macaroon"))
            assert macaroons, "the simulator wrote no macaroon"
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120
            ) as api:
                node = f"/api/v1/nodes/{node_id}"
                # Before the rollout writes: the live batch's changes would be external changes to this second
                # registration of the same simulator, held for a week, and could leave it nothing to propose.
                careful = _careful_node(api, ok(api.get(node))["url"], workdir / "sandbox")
                live = _walk_rollout(api, node_id)
                ok(api.post(f"{node}/backups"), 201)
                operator, viewer = _issue(api, tenant_id, "operator"), _issue(api, tenant_id, "viewer")
            yield Stack(url, node_id, careful, tenant_id, admin_key, operator, viewer, live, macaroons)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
