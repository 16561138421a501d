"""`shadow`: a dry decision cycle for one node of the graph on simulated sandbox state."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.cli.progress import graph_cache, load_graph_for_cli, note, step
from app.cli.render import render_json, render_table
from app.engine.cycle import run_cycle
from app.engine.profile import load_profiles
from app.sandbox.state import generate_sandbox_state
from app.settings import get_settings


def add_parser(commands: Any) -> None:
    """Register the `shadow` subcommand."""
    parser = commands.add_parser(
        "shadow",
        help="score every channel of a node and show what the optimizer would do (writes nothing)",
        description="Shadow pass on simulated sandbox state for any node of the channel graph.",
    )
    parser.add_argument("--node", required=True, help="pubkey or alias of the node (e.g. ACINQ)")
    parser.add_argument("--graph", type=Path, help="LND GET /v1/graph JSON (.json or .json.gz)")
    parser.add_argument("--profile", help="decision profile: conservative, balanced, aggressive")
    parser.add_argument("--seed", type=int, help="sandbox seed (default MCP_SANDBOX_SEED)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load, compute, decide, validate and print; timings go to stderr."""
    settings = get_settings()
    started = time.perf_counter()
    profile = load_profiles(settings.thresholds_file).get(args.profile or settings.profile)
    graph = load_graph_for_cli(args.graph, settings)
    note(f"graph {graph.source}: {graph.node_count} nodes, {graph.edge_count} channels")
    node = graph.find_node(args.node)
    with step("computing centrality"):
        centrality = graph_cache(settings).centrality(graph, settings)
    seed = settings.sandbox_seed if args.seed is None else args.seed
    with step(f"simulating sandbox state for {graph.aliases[node] or graph.pubkeys[node]} (seed {seed})"):
        state = generate_sandbox_state(graph, node, seed=seed)
    snapshot = state.snapshot()
    with step(f"scoring, deciding and validating {len(state.channels)} channels (profile {profile.name})"):
        report = run_cycle(snapshot, graph, centrality, profile)
    meta = {"graph_source": graph.source, "synthetic_graph": graph.synthetic, "sandbox_label": state.label}
    if args.json:
        sys.stdout.buffer.write(render_json(report, meta))
        sys.stdout.buffer.write(b"\n")
    else:
        sys.stdout.write(render_table(report, meta))
    note(f"total {time.perf_counter() - started:.2f} s")
    return 0
