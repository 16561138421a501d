"""Benchmark the decision core on the public graph: load, centrality vs networkx, and cycle throughput.

Usage: .venv/bin/python scripts/bench_engine.py [--graph FILE] [--node ACINQ] [--repeat 7] [--nx-samples 256]
                                                [--baseline-rev COMMIT]

The headline figure is channels per second of one full cycle (score + decide + validate, forwarding history
summary included) for the node's sandbox state. With --baseline-rev, the same measurement also runs on that
commit's `app/` (exported to a temporary directory, run in a subprocess) in the same run, and the speed-up
is printed as a ratio of medians: on a shared machine absolute figures drift, ratios much less. Every other
figure is measured in this run too; the networkx baseline runs on the same graph in the same process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# Only modules that every measured revision has: the --worker mode imports them from the baseline's tree.
from app.engine.cycle import run_cycle
from app.engine.flow import summarize_forwards
from app.engine.profile import load_profiles
from app.graph.centrality import centrality_for
from app.graph.loader import load_graph
from app.sandbox.state import generate_sandbox_state
from app.settings import get_settings

PROJECT = Path(__file__).resolve().parents[1]
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
    print(f"{label:<62} {median:8.3f} s{spread}", flush=True)
    assert result is not None
    return result, median


def measure_cycles(graph_file: Path, node: str, repeat: int) -> dict[str, Any]:
    """Wall and CPU seconds of `repeat` cycles (after one warm-up) on the node's sandbox state."""
    settings = get_settings()
    graph = load_graph(graph_file)
    centrality = centrality_for(graph, settings)
    state = generate_sandbox_state(graph, graph.find_node(node), seed=settings.sandbox_seed)
    profile = load_profiles(settings.thresholds_file).get(settings.profile)
    snapshot = state.snapshot()
    report = run_cycle(snapshot, graph, centrality, profile)  # warm-up: lazy caches, first-use imports
    summary = report.summary()
    wall, cpu = [], []
    for _ in range(repeat):
        del report  # freeing the previous report is the caller's cost, not the cycle's
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        report = run_cycle(snapshot, graph, centrality, profile)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
        summary = report.summary()
    flows = []  # the part of a cycle that reads the forwarding history, to show what the rest costs
    for _ in range(repeat):
        gc.disable()  # as inside a cycle of this tree; outside one, collections would be charged to it
        started_cpu = time.process_time()
        activity = profile.activity
        summarize_forwards(
            snapshot.forwards or [], snapshot.now_s, activity.window_days, activity.recent_days
        )
        flows.append(time.process_time() - started_cpu)
        gc.enable()
    return {
        "channels": len(state.channels),
        "forwards": len(state.forwards),
        "profile": profile.name,
        "wall": wall,
        "cpu": cpu,
        "flows_cpu": flows,
        "summary": summary,
    }


def measure_baseline(revision: str, graph_file: Path, node: str, repeat: int) -> dict[str, Any]:
    """measure_cycles on another commit's `app/` and `config/`, in a subprocess, from a temporary export."""
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tree:
        archive = subprocess.run(
            ["git", "-C", str(PROJECT), "archive", revision, "app", "config"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        command = [sys.executable, __file__, "--worker", "--graph", str(graph_file), "--node", node]
        env = {**os.environ, "PYTHONPATH": tree}  # the exported tree shadows the installed `app`
        output = subprocess.run([*command, "--repeat", str(repeat)], env=env, check=True, capture_output=True)
        result: dict[str, Any] = json.loads(output.stdout)
        return result


def describe(label: str, measured: dict[str, Any]) -> tuple[float, float]:
    """Print channels per second by wall and CPU median; return both medians."""
    wall, cpu = statistics.median(measured["wall"]), statistics.median(measured["cpu"])
    channels = measured["channels"]
    flows = statistics.median(measured["flows_cpu"])
    print(
        f"  {label:<22} wall {wall:6.3f} s = {channels / wall:7,.0f} channels/s   "
        f"CPU {cpu:6.3f} s = {channels / cpu:7,.0f} channels/s   (medians, n={len(measured['wall'])})"
    )
    print(
        f"  {'':<22} of which summarising the forwarding history ~{flows:5.3f} s CPU (collector paused); "
        f"the rest {channels / (cpu - flows):7,.0f} channels/s"
    )
    return wall, cpu


def bench_throughput(graph_file: Path, node: str, repeat: int, baseline_rev: str | None) -> None:
    """The headline: channels per second of score + decide + validate, against a baseline when asked."""
    current = measure_cycles(graph_file, node, repeat)
    print(
        f"\nscore + decide + validate: {node}, {current['channels']} channels, {current['forwards']} forwards, "
        f"profile {current['profile']}"
    )
    wall, cpu = describe("this tree", current)
    if baseline_rev:
        baseline = measure_baseline(baseline_rev, graph_file, node, repeat)
        base_wall, base_cpu = describe(f"baseline {baseline_rev[:10]}", baseline)
        print(f"  speed-up: {base_wall / wall:.1f}x by wall median, {base_cpu / cpu:.1f}x by CPU median")
        same = "identical" if baseline["summary"] == current["summary"] else "DIFFERENT"
        print(f"  decision and verdict counts of the two trees: {same}")
    print(f"summary: {current['summary']}")


def bench_loading(graph_file: Path, node: str, repeat: int, nx_samples: int) -> None:
    """Graph load (parse and cache), centrality (ours and networkx), and the sandbox state."""
    import networkx as nx

    from app.graph.cache import GraphCache

    settings = get_settings()
    graph, _ = timed("graph load (JSON -> columnar graph)", repeat, lambda: load_graph(graph_file))
    print(f"graph: {graph.source}, {graph.node_count} nodes, {graph.edge_count} channels")
    with tempfile.TemporaryDirectory(prefix="bench-engine-cache-") as directory:
        cache = GraphCache(Path(directory))
        cache.load_graph(graph_file)
        timed("graph load from the cache (.npz)", repeat, lambda: cache.load_graph(graph_file))
        cache.centrality(graph, settings)
        timed("centrality from the cache (.npz)", repeat, lambda: cache.centrality(graph, settings))
    _, ours = timed(
        f"centrality, ours (betweenness k={settings.centrality_samples}, harmonic, degree, PageRank)",
        repeat,
        lambda: centrality_for(graph, settings),
    )
    if nx_samples:
        low, high = graph.simple_edges()
        reference = nx.Graph()
        reference.add_nodes_from(range(graph.node_count))
        reference.add_edges_from(zip(low.tolist(), high.tolist(), strict=True))
        _, baseline = timed(
            f"networkx betweenness_centrality(k={nx_samples}) only",
            1,
            lambda: nx.betweenness_centrality(reference, k=nx_samples, seed=settings.centrality_seed),
        )
        print(f"{'centrality speed-up over networkx sampled betweenness':<62} {baseline / ours:8.1f} x")
    index = graph.find_node(node)
    timed(
        f"sandbox state for {graph.aliases[index]}",
        1,
        lambda: generate_sandbox_state(graph, index, seed=settings.sandbox_seed),
    )


def main() -> int:
    """Print the benchmark figures (or, with --worker, one revision's cycle timings as JSON)."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--graph", type=Path, default=settings.graph_file, help="graph file (default MCP_GRAPH_FILE)"
    )
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--nx-samples", type=int, default=256, help="0 skips the networkx comparison")
    parser.add_argument("--baseline-rev", help="also measure this commit's engine in the same run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.graph.exists():
        print(f"graph file {args.graph} not found (set MCP_GRAPH_FILE or pass --graph)", file=sys.stderr)
        return 1
    if args.worker:
        sys.stdout.write(json.dumps(measure_cycles(args.graph, args.node, args.repeat)))
        return 0
    bench_loading(args.graph, args.node, min(args.repeat, 3), args.nx_samples)
    bench_throughput(args.graph, args.node, args.repeat, args.baseline_rev)
    print("\nnext: .venv/bin/python scripts/bench_shadow.py   # the shadow command against a bare parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
