"""Benchmark the running service with wrk: cached authenticated reads against GET /health in the same run.

Usage: .venv/bin/python scripts/bench_api.py [--node ACINQ] [--connections 16] [--seconds 8]
Starts a real redis-server, an embedded nx-27017, an LND simulator node and the API (uvicorn in its own
process), registers, syncs and optimizes the node (shadow), then drives each route with `wrk -t1 -c16`
(a compiled load generator, so the client is not the bottleneck) with a Bearer key, and prints req/s, p50,
p99 and each route's ratio to /health, which is measured first and last in the same run (their mean is the
baseline). Needs wrk: `apt-get install -y wrk` (done here when running as root).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.cache.redis_server import RedisServer
from app.cli.demo_bootstrap import DemoFiles, SandboxEndpoint, bootstrap
from app.graph.source import resolve_graph
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.serving import free_port
from app.settings import get_settings
from app.storage.embedded import EmbeddedMongo

ADMIN = "mcp_bench_admin_key"
PROJECT = Path(__file__).resolve().parents[1]
HEALTH = "GET /health (baseline)"
GOAL_RATIO, GOAL_P99_MS = 0.5, 50.0
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rate: float
    p50_ms: float
    p99_ms: float


def ensure_wrk() -> str:
    """The wrk binary; installed from the distribution's packages when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        if subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, check=False)
            subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, check=False)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install -y wrk (as root)")
    return found


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s and the 50th and 99th latency percentiles from `wrk --latency` output."""
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"wrk saw error responses:\n{output}")
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rate and p50 and p99):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return WrkResult(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)))


async def run_wrk(wrk: str, url: str, key: str, connections: int, seconds: float) -> WrkResult:
    """One `wrk -t1` run against `url` with the Bearer key."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "-H", f"Authorization: Bearer {key}", url]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode()}")
    return parse_wrk(output.decode())


def write_credentials(directory: Path, sim: SimulatorHandle) -> tuple[Path, Path]:
    """The simulator's fees macaroon and certificate as files, the way `make run` hands them over."""
    macaroon, cert = directory / "fees.macaroon", directory / "tls.cert"
    macaroon.write_bytes(bytes.fromhex(sim.fees_macaroon_hex))
    cert.write_bytes(sim.cert_pem or b"")
    return macaroon, cert


async def main() -> int:
    """Set everything up, warm the caches, measure every route with wrk and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    wrk = ensure_wrk()
    settings = get_settings()
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    index = graph.find_node(args.node)
    state = generate_sandbox_state(graph, index, seed=settings.sandbox_seed, now_s=int(time.time()))
    with tempfile.TemporaryDirectory(prefix="bench-api-") as workdir, RedisServer() as redis:
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
            "MCP_RATE_LIMIT_PER_SECOND": "10000",  # the load, not the limiter, is measured
            "MCP_SCHEDULE_ENABLED": "false",
            "MCP_ALLOW_PRIVATE_NODE_URLS": "true",  # the simulator listens on 127.0.0.1
            "MCP_REQUEST_DEADLINE_S": "300",  # set-up sync and optimize answer in place, not as jobs
        }
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        server = await asyncio.create_subprocess_exec(*command, env=env, cwd=PROJECT)
        url = f"http://127.0.0.1:{port}"
        try:
            async with (
                running_simulator(SimulatedNode(state, graph), tls=True) as sim,
                httpx.AsyncClient(base_url=url, timeout=300) as client,
            ):
                for _ in range(600):
                    if server.returncode is not None:
                        raise RuntimeError(f"the API process exited with {server.returncode}")
                    try:
                        if (await client.get("/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                # The node is set up the way `make run` does it: through the API, every step checked.
                macaroon, cert = await asyncio.to_thread(write_credentials, Path(workdir), sim)
                files = DemoFiles(key=Path(workdir, "bench.key"), node=Path(workdir, "bench.node"))
                started = time.perf_counter()
                demo = await bootstrap(url, ADMIN, SandboxEndpoint(sim.url, macaroon, cert), "bench", files)
                print(
                    f"set-up through the API: {time.perf_counter() - started:.2f} s, "
                    f"of which the sync of {demo.channels} channels {demo.sync_seconds:.2f} s",
                    flush=True,
                )
                key, node_id = files.key.read_text().strip(), demo.node_id
                auth = {"Authorization": f"Bearer {key}"}
                optimized = await client.post(f"/api/v1/nodes/{node_id}/optimize", headers=auth)
                if optimized.status_code != 200:  # the decisions route needs decisions to list
                    raise RuntimeError(f"optimize: {optimized.status_code} {optimized.text[:200]}")
                node = f"/api/v1/nodes/{node_id}"
                chan_id = state.channels[0].chan_id
                paths = {
                    "GET /api/v1/nodes/{id}": node,
                    "GET .../channels?limit=100": f"{node}/channels?limit=100",
                    "GET .../channels/{id}/score": f"{node}/channels/{chan_id}/score",
                    "GET .../decisions": f"{node}/decisions",
                    "GET .../settings": f"{node}/settings",
                }
                for path in ("/health", *paths.values()):  # warm the caches
                    answer = await client.get(path, headers=auth)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
            measure = [(HEALTH, "/health"), *paths.items(), (HEALTH, "/health")]
            results: dict[str, list[WrkResult]] = {}
            for label, path in measure:
                result = await run_wrk(wrk, url + path, key, args.connections, args.seconds)
                results.setdefault(label, []).append(result)
            print_table(results, args.connections, args.seconds)
        finally:
            if server.returncode is None:
                server.terminate()
                await asyncio.wait_for(server.wait(), timeout=30)
            await mongo.stop()
    return 0


def print_table(results: dict[str, list[WrkResult]], connections: int, seconds: float) -> None:
    """One line per route: req/s, p50, p99, the ratio to /health and whether it meets the goal."""
    first, last = results[HEALTH]
    baseline = (first.rate + last.rate) / 2
    print(
        f"wrk -t1 -c{connections} -d{seconds:g}s, Bearer key, real Redis, Mongo-wire server; "
        f"/health {first.rate:.0f} req/s first and {last.rate:.0f} last, baseline {baseline:.0f}"
    )
    print(f"{'route':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs /health':>11}  goal")
    for label, runs in results.items():
        for run in runs[:1] if label == HEALTH else runs:
            ratio = run.rate / baseline
            met = label == HEALTH or (ratio >= GOAL_RATIO and run.p99_ms <= GOAL_P99_MS)
            print(
                f"{label:<30} {run.rate:8.0f} {run.p50_ms:8.2f} {run.p99_ms:8.2f} {ratio:10.2f}x  "
                f"{'ok' if met else 'MISSED'}"
            )
    print(f"goal: every route >= {GOAL_RATIO}x /health and p99 <= {GOAL_P99_MS:g} ms")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
