"""Benchmark a full sync of an ACINQ-sized node from the LND REST simulator over real HTTP.

Usage: .venv/bin/python scripts/bench_node_client.py [--node ACINQ] [--tls] [--repeat 3]
Prints wall time per phase, requests made, and forwarding events per second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from app.graph.source import resolve_graph
from app.nodes.lnd_rest import LndRestClient
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import running_simulator
from app.sandbox.state import generate_sandbox_state
from app.settings import get_settings


async def one_sync(url: str, macaroon: bytes, cert: str | None, now_s: int) -> dict[str, float]:
    """Sync once with a fresh client; return the phase timings and counts."""
    client = LndRestClient("bench", url, macaroon, tls_cert_pem=cert)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    await client.get_info()
    timings["getinfo"] = time.perf_counter() - started
    mark = time.perf_counter()
    graph = await client.describe_graph()
    timings["graph"] = time.perf_counter() - mark
    mark = time.perf_counter()
    channels = await client.list_channels(graph)
    timings["channels"] = time.perf_counter() - mark
    mark = time.perf_counter()
    events = await client.forwarding_history(now_s - 30 * 86_400, now_s + 1)
    timings["forwards"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    timings["requests"] = client.requests_made
    timings["events"] = len(events)
    timings["channels_count"] = len(channels)
    await client.aclose()
    return timings


async def main() -> int:
    """Start the simulator in-process and time full syncs against it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    node = graph.find_node(args.node)
    state = generate_sandbox_state(graph, node, seed=settings.sandbox_seed)
    print(
        f"graph {graph.source}{' [SYNTHETIC]' if graph.synthetic else ''}; node {graph.aliases[node]}: "
        f"{len(state.channels)} channels, {len(state.forwards)} forwards (simulated)",
        flush=True,
    )
    async with running_simulator(SimulatedNode(state, graph), tls=args.tls) as sim:
        cert = sim.cert_pem.decode() if sim.cert_pem else None
        runs = [await one_sync(sim.url, sim.macaroons.fees, cert, state.now_s) for _ in range(args.repeat)]
    for phase in ("getinfo", "graph", "channels", "forwards", "total"):
        values = [run[phase] for run in runs]
        print(
            f"{phase:<10} median {statistics.median(values):7.3f} s  (min {min(values):.3f}, max {max(values):.3f})"
        )
    last = runs[-1]
    total = statistics.median(run["total"] for run in runs)
    forwards = statistics.median(run["forwards"] for run in runs)
    print(
        f"requests per sync: {int(last['requests'])}  channels: {int(last['channels_count'])}  "
        f"events: {int(last['events'])}"
    )
    print(f"events per second (forwarding phase): {last['events'] / forwards:,.0f}")
    print(f"events per second (whole sync):       {last['events'] / total:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
