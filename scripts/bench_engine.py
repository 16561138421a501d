"""Benchmark the decision core on the public graph: load, centrality vs networkx, and scoring throughput.

Usage: .venv/bin/python scripts/bench_engine.py [--graph FILE] [--node ACINQ] [--repeat 3] [--nx-samples 256]
Every figure is measured in this run; the networkx baseline runs on the same graph in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import networkx as nx

from app.engine.cycle import run_cycle
from app.engine.profile import load_profiles
from app.graph.centrality import centrality_for
from app.graph.source import resolve_graph
from app.sandbox.state import generate_sandbox_state
from app.settings import get_settings

T = TypeVar("T")


def timed(label: str, repeat: int, work: Callable[[], T]) -> tuple[T, float]:
    """Run `work` `repeat` times; print and return the median wall time."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    spread = f" (min {min(times):.3f} s, max {max(times):.3f} s, n={repeat})" if repeat > 1 else ""
    print(f"{label:<58} {median:8.3f} s{spread}", flush=True)
    assert result is not None
    return result, median


def main() -> int:
    """Print the benchmark figures."""
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--graph", type=Path, help="graph file (default: MCP_GRAPH_FILE, synthetic when absent)"
    )
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nx-samples", type=int, default=256)
    args = parser.parse_args()

    graph, _ = timed(
        "graph load (JSON -> columnar graph)",
        args.repeat,
        lambda: resolve_graph(
            args.graph or settings.graph_file,
            settings.synthetic_graph_seed,
            allow_synthetic=args.graph is None,
        ),
    )
    print(
        f"graph: {graph.source}, {graph.node_count} nodes, {graph.edge_count} channels"
        + (" [SYNTHETIC]" if graph.synthetic else "")
    )
    centrality, ours = timed(
        f"centrality, ours (betweenness k={settings.centrality_samples}, harmonic, degree, PageRank)",
        args.repeat,
        lambda: centrality_for(graph, settings),
    )
    low, high = graph.simple_edges()
    reference = nx.Graph()
    reference.add_nodes_from(range(graph.node_count))
    reference.add_edges_from(zip(low.tolist(), high.tolist(), strict=True))
    _, baseline = timed(
        f"networkx betweenness_centrality(k={args.nx_samples}) only",
        1,
        lambda: nx.betweenness_centrality(reference, k=args.nx_samples, seed=settings.centrality_seed),
    )
    print(f"{'centrality speed-up over networkx sampled betweenness':<58} {baseline / ours:8.1f} x")

    node = graph.find_node(args.node)
    state, _ = timed(
        f"sandbox state for {graph.aliases[node]}",
        1,
        lambda: generate_sandbox_state(graph, node, seed=settings.sandbox_seed),
    )
    profile = load_profiles(settings.thresholds_file).get(settings.profile)
    snapshot = state.snapshot()
    report, cycle = timed(
        f"score + decide + validate {len(state.channels)} channels ({len(state.forwards)} forwards)",
        args.repeat,
        lambda: run_cycle(snapshot, graph, centrality, profile),
    )
    print(f"{'channels per second':<58} {len(report.evaluations) / cycle:8.0f}")
    print(f"summary: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
