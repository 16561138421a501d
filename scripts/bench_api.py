"""Benchmark the running service: concurrent clients against uvicorn with real Redis and the Mongo-wire server.

Usage: .venv/bin/python scripts/bench_api.py [--node ACINQ] [--concurrency 16] [--seconds 10]
Starts a real redis-server, an embedded nx-27017, an LND simulator node and the API (uvicorn in its own
process), registers and syncs the node, then measures requests/s, p50 and p99 for GET .../channels and
GET .../score with a hot cache, and for GET /health of the same app in the same run, with the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
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


async def load(url: str, key: str, path: str, concurrency: int, seconds: float) -> tuple[float, list[float]]:
    """Requests per second and every latency (s) of `concurrency` clients looping on one path."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits
    ) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def write_credentials(directory: Path, sim: SimulatorHandle) -> tuple[Path, Path]:
    """The simulator's fees macaroon and certificate as files, the way `make run` hands them over."""
    macaroon, cert = directory / "fees.macaroon", directory / "tls.cert"
    macaroon.write_bytes(bytes.fromhex(sim.fees_macaroon_hex))
    cert.write_bytes(sim.cert_pem or b"")
    return macaroon, cert


async def main() -> int:
    """Set everything up, warm the cache, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
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
        }
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        server = await asyncio.create_subprocess_exec(*command, env=env, cwd=PROJECT)
        url = f"http://127.0.0.1:{port}"
        try:
            async with (
                running_simulator(SimulatedNode(state, graph), tls=True) as sim,
                httpx.AsyncClient(base_url=url, timeout=120) as client,
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
                chan_id = state.channels[0].chan_id
                paths = {
                    "GET /health (trivial)": "/health",
                    "GET .../channels?limit=100": f"/api/v1/nodes/{node_id}/channels?limit=100",
                    "GET .../channels/{id}/score": f"/api/v1/nodes/{node_id}/channels/{chan_id}/score",
                }
                for path in paths.values():  # warm the cache
                    assert (await client.get(path, headers=auth)).status_code == 200
            results = {}
            for label, path in paths.items():
                rate, latencies = await load(url, key, path, args.concurrency, args.seconds)
                results[label] = (rate, statistics.median(latencies), percentile(latencies, 0.99))
            baseline = results["GET /health (trivial)"][0]
            print(
                f"concurrency {args.concurrency}, {args.seconds:.0f} s per endpoint, Redis {redis.url.split('@')[-1]}"
            )
            print(f"{'endpoint':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs trivial':>11}")
            for label, (rate, p50, p99) in results.items():
                print(f"{label:<32} {rate:9.0f} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {rate / baseline:10.2f}x")
        finally:
            if server.returncode is None:
                server.terminate()
                await asyncio.wait_for(server.wait(), timeout=30)
            await mongo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
