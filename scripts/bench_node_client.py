"""Benchmark a full sync of an ACINQ-sized node from the LND REST simulator over real HTTP.

Usage: .venv/bin/python scripts/bench_node_client.py [--node ACINQ] [--tls] [--repeat 3]
       .venv/bin/python scripts/bench_node_client.py --backend lnbits [--node ACINQ] [--days 8]
Prints wall time per phase, requests made, and forwarding events per second. With `--backend lnbits`
the node sits behind a real LNbits 1.6.2 (its own venv, scripts/lnbits_venv.sh): a sync as the service
runs it against one channel at a time in the same run, then daily syncs while the simulated node routes
and the decision counts on the flow inferred from them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from app.domain.balance import BalanceInterval
from app.domain.channel import Channel
from app.domain.node import NodeInfo
from app.domain.snapshot import NodeSnapshot
from app.engine.cycle import run_cycle
from app.engine.flow import DAY_S
from app.engine.profile import load_profiles
from app.graph.centrality import compute_centrality
from app.graph.model import ChannelGraph
from app.graph.source import resolve_graph
from app.nodes.lnbits import LNBITS_CAPABILITIES, LnbitsClient, lnbits_transport
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
    parser.add_argument("--backend", choices=("lnd", "lnbits"), default="lnd")
    parser.add_argument("--days", type=int, default=8, help="lnbits: daily syncs compared for inferred flow")
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
    if args.backend == "lnbits":
        return await lnbits_bench(SimulatedNode(state, graph), graph, args.days)
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


REPO = Path(__file__).resolve().parents[1]


async def lnbits_sync(
    url: str, token: str, concurrency: int, rate: float
) -> tuple[float, int, list[Channel]]:
    """Info and channels read as the service reads them; (seconds, requests, channels)."""
    client = LnbitsClient("bench", url, token, settings=lnbits_transport(rate), concurrency=concurrency)
    started = time.perf_counter()
    _, channels = await asyncio.gather(client.get_info(), client.list_channels())
    seconds = time.perf_counter() - started
    requests = client.requests_made
    await client.aclose()
    return seconds, requests, channels


async def lnbits_bench(node: SimulatedNode, graph: ChannelGraph, days: int) -> int:
    """Sync through a real LNbits, then decide on the flow inferred from daily syncs."""
    # The harness that runs a real LNbits lives with the tests (one copy); scripts run from scripts/.
    sys.path.insert(0, str(REPO))
    from tests.nodes.real_lnbits import VENV, VENV_SCRIPT, real_lnbits

    built = await asyncio.to_thread(subprocess.run, ["bash", str(VENV_SCRIPT), str(VENV)], check=False)
    if built.returncode != 0 or (VENV / ".unavailable").exists():
        print("the LNbits virtualenv could not be built (package index unreachable?)", file=sys.stderr)
        return 1
    settings = get_settings()
    with real_lnbits(node, VENV / "bin" / "python") as running:
        print("syncing once one channel at a time (baseline), then as the service does", flush=True)
        base_s, base_requests, _ = await lnbits_sync(running.url, running.token, 1, 10_000)
        service_s, requests, channels = await lnbits_sync(
            running.url, running.token, settings.lnbits_concurrency, settings.lnbits_requests_per_second
        )
        print(f"baseline (1 in flight, no rate limit): {base_s:6.1f} s, {base_requests} requests")
        print(
            f"service  ({settings.lnbits_concurrency} in flight, {settings.lnbits_requests_per_second:g}/s): "
            f"{service_s:6.1f} s, {requests} requests, {len(channels)} channels "
            f"({base_s / service_s:.2f}x the baseline's speed)",
            flush=True,
        )
        intervals: list[BalanceInterval] = []
        start = int(time.time())
        async with running.sim.client() as sim:
            for day in range(1, days + 1):
                advanced = await sim.post(
                    "/_sandbox/clock",
                    json={"advance_s": 86_400},
                    headers={"Authorization": f"Bearer {running.sim.sandbox_token}"},
                )
                advanced.raise_for_status()
                seconds, _, later = await lnbits_sync(
                    running.url,
                    running.token,
                    settings.lnbits_concurrency,
                    settings.lnbits_requests_per_second,
                )
                before = {c.chan_id: c.local_balance_sat for c in channels}
                moves = {
                    c.chan_id: c.local_balance_sat - before[c.chan_id]
                    for c in later
                    if c.chan_id in before and c.local_balance_sat != before[c.chan_id]
                }
                intervals.append(BalanceInterval(start + (day - 1) * DAY_S, start + day * DAY_S, moves))
                channels = later
                print(
                    f"day {day}: sync {seconds:5.1f} s, {len(moves)} channels moved",
                    file=sys.stderr,
                    flush=True,
                )
        info = NodeInfo(pubkey=node.pubkey, alias=node.alias, block_height=node.block_height())
    snapshot = NodeSnapshot(
        node=info, channels=channels, now_s=start + days * DAY_S, optimizer_updates_last_24h=0,
        policy_changes=[], capabilities=LNBITS_CAPABILITIES, balance_history=intervals,
    )  # fmt: skip
    profile = load_profiles(settings.thresholds_file).get("balanced")
    report = run_cycle(snapshot, graph, compute_centrality(graph), profile)
    print(f"decisions on flow inferred from {days} daily syncs: {report.summary()['decisions']}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
