"""Benchmark the dashboard's pages on a large node against a baseline measured in the same run.

Usage: .venv/bin/python scripts/bench_dashboard.py [--node ACINQ] [--requests 20] [--stage canary]
Starts a real redis-server, an embedded nx-27017, an LND simulator of the node (ACINQ: 1,989 channels on the
public snapshot) and the API (uvicorn in its own process), registers, syncs and optimizes the node (shadow,
twice), takes a backup, signs in to the dashboard with the tenant's key, and then requests every page one
after the other: the first request of each page (cold: nothing of the dashboard remembered yet) and then
`--requests` more (warm). With `--stage canary` the node is promoted after its shadow cycles (the shadow
gate's wait set to zero) and runs one canary cycle, which writes its canary channel, so the overview's gate
judges writes and reads their flow from the node, as a canary node's does. Prints the median and 95th
percentile per page, and the ratio to GET /health and to the dashboard's stylesheet, both measured first and
last in the same run. Goal: every page under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from app.cache.redis_server import RedisServer
from app.cli.demo_bootstrap import DemoFiles, SandboxEndpoint, bootstrap
from app.graph.source import resolve_graph
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.security.private_files import write_private_file
from app.serving import free_port
from app.settings import get_settings
from app.storage.embedded import EmbeddedMongo

PROJECT = Path(__file__).resolve().parents[1]
ADMIN = "mcp_bench_dashboard_admin_" + base64.b32encode(os.urandom(10)).decode().lower()
GOAL_MS = 300.0
BASELINES = {"GET /health": "/health", "GET stylesheet": "/dashboard/static/dashboard.css"}


def write_credentials(directory: Path, sim: SimulatorHandle) -> tuple[Path, Path]:
    """The simulator's fees macaroon and certificate as files (0600), the way `make run` hands them over."""
    macaroon, cert = directory / "fees.macaroon", directory / "tls.cert"
    write_private_file(macaroon, bytes.fromhex(sim.fees_macaroon_hex))
    cert.write_bytes(sim.cert_pem or b"")
    return macaroon, cert


async def stop(server: asyncio.subprocess.Process) -> None:
    """Stop the API process if it still runs."""
    if server.returncode is None:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)


async def wait_ready(client: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    """Poll /ready with a deadline (the API loads the graph in a worker process first)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise RuntimeError(f"the API process exited with {server.returncode}")
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the API was not ready within 300 s")


async def sign_in(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    """Log in through the form; the session cookie as a header (httpx keeps Secure cookies off plain http)."""
    form = await client.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    login_cookie = form.cookies.get("mcp_dashboard_login")
    if token is None or login_cookie is None:
        raise RuntimeError("the login form has no CSRF token")
    answer = await client.post(
        "/dashboard/login",
        data={"csrf": token.group(1), "api_key": key},
        headers={"Cookie": f"mcp_dashboard_login={login_cookie}"},
    )
    session = answer.cookies.get("mcp_dashboard")
    if answer.status_code != 303 or session is None:
        raise RuntimeError(f"login failed: {answer.status_code}")
    return {"Cookie": f"mcp_dashboard={session}"}


judging: Counter[str] = Counter()  # per path: answers that said the rollout gate is still being judged


async def timed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    """Milliseconds of one request (whole body read); any answer but 200 stops the benchmark."""
    started = time.perf_counter()
    answer = await client.get(path, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
    judging[path] += "Being judged" in answer.text
    return elapsed


async def measure(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], requests: int
) -> tuple[float, list[float]]:
    """(first request, the `requests` after it) in milliseconds."""
    first = await timed(client, path, headers)
    return first, [await timed(client, path, headers) for _ in range(requests)]


async def enter_canary(client: httpx.AsyncClient, node: str, auth: dict[str, str]) -> None:
    """Promote the node to canary and run one canary cycle; prints what it wrote."""
    promoted = await client.post(f"{node}/rollout", headers=auth, json={"action": "promote"})
    if promoted.status_code != 200:
        raise RuntimeError(f"promote: {promoted.status_code} {promoted.text[:300]}")
    cycle = await client.post(f"{node}/optimize", headers=auth, json={"mode": "canary"})
    if cycle.status_code != 200:
        raise RuntimeError(f"canary cycle: {cycle.status_code} {cycle.text[:300]}")
    execution = cycle.json()["execution"] or {}
    print(
        f"stage {promoted.json()['stage']}; the canary cycle wrote: {execution.get('outcomes')}", flush=True
    )


def gate_note(pending: int) -> str:
    """What the overview's visits showed of the rollout gate (the first ones may say it is being judged)."""
    if not pending:
        return "overview: every visit showed the rollout gate"
    return f"overview: the first {pending} visit(s) said the gate is being judged; the next ones showed it"


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


async def main() -> int:
    """Set everything up, measure every page and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--stage", choices=("shadow", "canary"), default="shadow")
    args = parser.parse_args()
    settings = get_settings()
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    index = graph.find_node(args.node)
    state = generate_sandbox_state(graph, index, seed=settings.sandbox_seed, now_s=int(time.time()))
    print(f"node {args.node}: {len(state.channels)} channels (graph {graph.source})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir, RedisServer() as redis:
        mongo = EmbeddedMongo()
        await mongo.start()
        port = free_port()
        env = {
            **os.environ,
            "MCP_MONGODB_URL": mongo.url,
            "MCP_REDIS_URL": redis.url,
            "MCP_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "MCP_ADMIN_API_KEY": ADMIN,
            "MCP_DATA_DIR": workdir,
            "MCP_RATE_LIMIT_PER_SECOND": "10000",
            "MCP_SCHEDULE_ENABLED": "false",
            "MCP_ALLOW_PRIVATE_NODE_URLS": "true",  # the simulator listens on 127.0.0.1
            "MCP_REQUEST_DEADLINE_S": "300",  # set-up cycles answer in place, not as jobs
            "MCP_LOG_LEVEL": "WARNING",
            **(
                {"MCP_ROLLOUT_SHADOW_DAYS": "0", "MCP_ROLLOUT_MIN_CYCLES": "1"}
                if args.stage == "canary"
                else {}
            ),
        }
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        print(
            "starting the API, the simulator and the set-up (register, sync, two shadow cycles, a backup) ..."
        )
        server = await asyncio.create_subprocess_exec(*command, env=env, cwd=PROJECT)
        url = f"http://127.0.0.1:{port}"
        try:
            async with (
                running_simulator(SimulatedNode(state, graph), tls=True) as sim,
                httpx.AsyncClient(base_url=url, timeout=300) as client,
            ):
                await wait_ready(client, server)
                macaroon, cert = await asyncio.to_thread(write_credentials, Path(workdir), sim)
                files = DemoFiles(key=Path(workdir, "bench.key"), node=Path(workdir, "bench.node"))
                demo = await bootstrap(url, ADMIN, SandboxEndpoint(sim.url, macaroon, cert), "bench", files)
                key = files.key.read_text().strip()
                auth = {"Authorization": f"Bearer {key}"}
                node = f"/api/v1/nodes/{demo.node_id}"
                for _ in range(2):
                    optimized = await client.post(f"{node}/optimize", headers=auth, json={"mode": "shadow"})
                    if optimized.status_code != 200:
                        raise RuntimeError(f"optimize: {optimized.status_code} {optimized.text[:200]}")
                if args.stage == "canary":
                    await enter_canary(client, node, auth)
                if (backup := await client.post(f"{node}/backups", headers=auth)).status_code != 201:
                    raise RuntimeError(f"backup: {backup.status_code} {backup.text[:200]}")
                session = await sign_in(client, key)
                base = f"/dashboard/nodes/{demo.node_id}"
                chan_id = state.channels[0].chan_id
                pages = {
                    "nodes": "/dashboard/nodes",
                    "overview": base,
                    "channels (capacity)": f"{base}/channels",
                    "channels (score, holds)": f"{base}/channels?sort=score&dir=asc&decision=hold",
                    "channels (search, page 3)": f"{base}/channels?q=0&page=3",
                    "channel": f"{base}/channels/{chan_id}",
                    "shadow report": f"{base}/shadow",
                    "approvals": f"{base}/approvals",
                    "transactions": f"{base}/transactions",
                    "backups": f"{base}/backups",
                }
                results: dict[str, tuple[float, list[float]]] = {}
                baselines: dict[str, list[float]] = {name: [] for name in BASELINES}
                for name, path in BASELINES.items():
                    baselines[name] += (await measure(client, path, {}, args.requests))[1]
                for name, path in pages.items():
                    results[name] = await measure(client, path, session, args.requests)
                    if name == "overview":
                        print(gate_note(judging[path]), flush=True)
                for name, path in BASELINES.items():
                    baselines[name] += (await measure(client, path, {}, args.requests))[1]
                await stop(server)  # before the simulator, so no connection of the API to it is cut mid-way
            print_table(demo.channels, results, baselines, args.requests)
        finally:
            await stop(server)
            await mongo.stop()
    return 0


def print_table(
    channels: int,
    results: dict[str, tuple[float, list[float]]],
    baselines: dict[str, list[float]],
    requests: int,
) -> None:
    """One line per page: the first request, the median and p95 of the rest, and the ratios to the baselines."""
    base = {name: statistics.median(values) for name, values in baselines.items()}
    print(
        f"\n{channels} channels; sequential requests over HTTP, real Redis and the Mongo-wire server; "
        f"{requests} warm requests per page after the first"
    )
    for name, median in base.items():
        print(f"baseline {name}: median {median:.2f} ms (measured before and after the pages)")
    health, css = base["GET /health"], base["GET stylesheet"]
    print(
        f"{'page':<28} {'first ms':>9} {'median ms':>10} {'p95 ms':>8} {'x /health':>10} {'x css':>8}  goal"
    )
    for name, (first, warm) in results.items():
        median, high = statistics.median(warm), p95(warm)
        met = "ok" if max(first, high) < GOAL_MS else "MISSED"
        print(
            f"{name:<28} {first:9.1f} {median:10.1f} {high:8.1f} {median / health:10.1f} {median / css:8.1f}  {met}"
        )
    print(f"goal: every page, first request and p95, under {GOAL_MS:g} ms")
    print("next: make test-browser (the pages in Chromium), docs/DASHBOARD.md")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
