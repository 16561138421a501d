"""Benchmark: a 30-day simulation of one focal node and one strategy on the full graph; payment attempts per second.

Usage: .venv/bin/python scripts/bench_simulation.py [--node ACINQ] [--strategy static] [--days 30] [--rate 0.3]
The target is at least 1,000,000 payment attempts within 10 minutes on a 2-core machine. As a baseline
measured in the same run it times routing from scratch (one full Dijkstra per payment, what a simulator
without the cached trees would pay) on a sample of the run's own payments, and prints the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time

from app.cli.progress import load_graph_for_cli
from app.engine.profile import load_profiles
from app.graph.centrality import centrality_for
from app.graph.model import ChannelGraph
from app.settings import get_settings
from app.simulation.config import SimulationConfig
from app.simulation.costs import bucket_of
from app.simulation.demand import Demand
from app.simulation.routing import shortest_tree
from app.simulation.simulator import routing_tables, seeded_network, simulate, stderr_progress
from app.simulation.strategies import STRATEGY_NAMES, make_strategy

TARGET_ATTEMPTS = 1_000_000
TARGET_SECONDS = 600.0
BASELINE_SAMPLE = 300


def from_scratch_seconds_per_payment(graph_node: int, config: SimulationConfig, graph: ChannelGraph) -> float:
    """Seconds per payment routed with one full Dijkstra each, on a sample of day one's payments."""
    network = seeded_network(graph, config)
    tables = routing_tables(network, graph_node, config)
    day = Demand(network, graph_node, config).day(0)
    picks = range(min(BASELINE_SAMPLE, len(day.receivers)))
    buckets = {bucket_of(int(day.amounts_msat[i])) for i in picks}
    for bucket in buckets:
        tables.static_matrix(bucket)  # built once per bucket in the simulator too: not part of the baseline
    started = time.perf_counter()
    for i in picks:
        shortest_tree(tables.static_matrix(bucket_of(int(day.amounts_msat[i]))).matrix, int(day.receivers[i]))
    return (time.perf_counter() - started) / len(picks)


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="ACINQ", help="focal node, alias or pubkey")
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="static")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.3, help="network payments per second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = get_settings()
    graph = load_graph_for_cli(None, settings)
    node = graph.find_node(args.node)
    # No warm-up: the target is a 30-day run (the comparison's week of warm-up adds its own 7 days).
    config = SimulationConfig(days=args.days, seed=args.seed, payments_per_s=args.rate, warmup_days=0)
    strategy = make_strategy(
        args.strategy,
        args.seed,
        load_profiles(settings.thresholds_file),
        lambda: centrality_for(graph, settings),
    )
    started = time.perf_counter()
    result = simulate(graph, node, strategy, config, progress=stderr_progress)
    wall = time.perf_counter() - started
    network = result.metrics["network"]
    attempts = network["attempts"]
    per_attempt = wall / max(attempts, 1)
    scratch = from_scratch_seconds_per_payment(node, config, graph)
    searches_per_attempt = network["route_searches"] / max(attempts, 1)
    print(
        f"focal node              {result.focal_alias} ({graph.degree(node)} channels), strategy {result.strategy}"
    )
    print(
        f"simulated               {args.days} days, {network['payments']:,} payments, {attempts:,} attempts"
    )
    print(
        f"wall time               {wall:.1f} s (target {TARGET_SECONDS:.0f} s for {TARGET_ATTEMPTS:,} attempts)"
    )
    print(f"payment attempts / s    {attempts / wall:,.0f}")
    print(f"detours                 {result.metrics['detours']:,} (retries on cached trees, no search)")
    print(f"full searches           {result.metrics['full_searches']:,} (retries no detour could serve)")
    print(f"trees built             {result.metrics['trees_built']:,}")
    print(
        f"from-scratch routing    {scratch * 1000:.2f} ms per search x {searches_per_attempt:.2f} searches/attempt"
    )
    print(
        f"speed-up vs scratch     {scratch * searches_per_attempt / per_attempt:.1f}x (same run, same payments)"
    )
    print(f"success rate            {network['success_rate']:.2%}")
    met = attempts >= TARGET_ATTEMPTS and wall <= TARGET_SECONDS
    print(f"target met              {'yes' if met else 'no'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
