"""Run every fee strategy on several focal nodes and seeds; print means with 95 % intervals, write JSON.

Usage: .venv/bin/python scripts/compare_strategies.py [--nodes ACINQ ...] [--seeds 1 2 3] [--days 30]
       [--rate 0.05] [--demand capacity] [--strategies ...] [--out results.json]
       .venv/bin/python scripts/compare_strategies.py --from-json a.json b.json   # tables of saved runs
Without --nodes it takes the node with the most channels (ACINQ) and the best-earning nodes with 50-200
and 5-20 channels that forward at least twice per channel in a short static run with seed 0 (--scout-days,
--scout-min-forwards-per-channel; the earners are printed). Runs of one node share their routing tables
(the network outside the focal node never changes), and every strategy sees the same payments for a seed.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson

from app.cli.progress import load_graph_for_cli, note
from app.cli.simulate import add_config_arguments, config_from
from app.engine.profile import load_profiles
from app.graph.centrality import CentralityScores, centrality_for
from app.graph.model import ChannelGraph
from app.settings import get_settings
from app.simulation.payments import PaymentStats
from app.simulation.report import calibration_table, mean_ci, result_document, run_table
from app.simulation.scout import MIN_FORWARDS_PER_CHANNEL, SIZE_CLASSES, earners, hub, pick_focal_nodes
from app.simulation.simulator import RunResult, routing_tables, seeded_network, simulate, stderr_progress
from app.simulation.strategies import STRATEGY_NAMES, make_strategy
from app.simulation.strategies.static import StaticFees


def scouted_nodes(graph: ChannelGraph, args: argparse.Namespace) -> list[int]:
    """The hub and the best-earning router and small node of a short static run with seed 0 (printed)."""
    config = replace(config_from(args, 0), days=args.scout_days, warmup_days=0)
    note(f"scouting: {args.scout_days} days of static fees with seed 0 to find nodes that earn")
    note(
        f"  picked: the best earner with at least {args.scout_min_forwards_per_channel:g} forwards per channel"
    )
    stats = PaymentStats()
    simulate(graph, hub(graph), StaticFees(), config, stats=stats)
    for label, low, high in SIZE_CLASSES:
        note(f"  {label} ({low}-{high} channels), best earners: forwards, fees sat, channels, alias")
        for earner in earners(graph, stats, low, high, args.scout_min_forwards_per_channel)[:5]:
            alias = graph.aliases[earner.node] or graph.pubkeys[earner.node][:20]
            note(f"    {earner.forwards:>6} {earner.fees_msat // 1000:>8,} {earner.channels:>4}  {alias}")
    return [node for _, node in pick_focal_nodes(graph, stats, args.scout_min_forwards_per_channel)]


def summary_table(results: list[RunResult]) -> str:
    """Per node and strategy: means over seeds with 95 % intervals, and revenue against static on the same seed."""
    static = {
        (r.focal_pubkey, r.seed): r.metrics["focal"]["revenue_msat"]
        for r in results
        if r.strategy == "static"
    }
    groups: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for r in results:
        groups[(r.focal_alias or r.focal_pubkey[:16], r.strategy)].append(r)
    header = (
        f"{'node':<18} {'strategy':<24} {'revenue sat':>20} {'vs static':>16} {'ann. %':>16} "
        f"{'fwds/run':>8} {'depleted':>9} {'full':>7} {'upd/ch/day':>10} {'net success':>11}"
    )
    lines = [header, "-" * len(header)]
    for (alias, strategy), runs in groups.items():
        revenue = mean_ci([r.metrics["focal"]["revenue_msat"] / 1000 for r in runs])
        ratios = [
            r.metrics["focal"]["revenue_msat"] / static[(r.focal_pubkey, r.seed)] - 1
            for r in runs
            if static.get((r.focal_pubkey, r.seed))
        ]
        versus = mean_ci(ratios) if ratios else (float("nan"), 0.0)
        annual = mean_ci([r.metrics["focal"]["annualised_return_pct"] for r in runs])
        depleted = float(np.mean([r.metrics["focal"]["depleted_share"] for r in runs]))
        full = float(np.mean([r.metrics["focal"]["full_share"] for r in runs]))
        updates = float(np.mean([r.metrics["focal"]["updates_per_channel_day"] for r in runs]))
        success = float(np.mean([r.metrics["network"]["success_rate"] for r in runs]))
        forwards = float(np.mean([r.metrics["focal"]["forwards"] for r in runs]))
        lines.append(
            f"{alias[:18]:<18} {strategy:<24} {revenue[0]:>11,.0f} ±{revenue[1]:>7,.0f} "
            f"{versus[0]:>+8.1%} ±{versus[1]:>6.1%} {annual[0]:>8.4f} ±{annual[1]:>6.4f} "
            f"{forwards:>8,.0f} {depleted:>9.1%} {full:>7.1%} {updates:>10.3f} {success:>11.1%}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Parse flags, run every (node, seed, strategy), print the tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nodes", nargs="*", help="focal nodes by alias or pubkey (default: hub, router, small)"
    )
    parser.add_argument(
        "--scout-min-forwards-per-channel",
        type=float,
        default=MIN_FORWARDS_PER_CHANNEL,
        help="forwards per channel a node needs in the scouting run to be picked",
    )
    parser.add_argument(
        "--scout-days",
        type=int,
        default=3,
        help="days of the static run that picks the router and the small node when --nodes is not given",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds")
    parser.add_argument("--strategies", nargs="+", choices=STRATEGY_NAMES, default=list(STRATEGY_NAMES))
    parser.add_argument("--out", type=Path, default=Path("compare_strategies.json"), help="JSON results file")
    parser.add_argument(
        "--profile-set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="run our profiles with this override (e.g. limits.daily_cap=100); repeatable",
    )
    parser.add_argument(
        "--from-json", type=Path, nargs="+", help="print the tables of saved result files instead of running"
    )
    add_config_arguments(parser)
    args = parser.parse_args()
    if args.from_json:
        saved = [RunResult(**d) for path in args.from_json for d in orjson.loads(path.read_bytes())]
        sys.stdout.write(summary_table(saved) + "\n" + calibration_table(saved) + "\n" + run_table(saved))
        return 0
    settings = get_settings()
    graph = load_graph_for_cli(args.graph, settings)
    nodes = [graph.find_node(n) for n in args.nodes] if args.nodes else scouted_nodes(graph, args)
    profiles = load_profiles(settings.thresholds_file)
    centrality: list[CentralityScores] = []

    def shared_centrality() -> CentralityScores:
        if not centrality:
            centrality.append(centrality_for(graph, settings))
        return centrality[0]

    results: list[RunResult] = []
    for node in nodes:
        note(f"focal node {graph.aliases[node] or graph.pubkeys[node]}: {graph.degree(node)} channels")
        tables = None
        for seed in args.seeds:
            config = config_from(args, seed)
            if tables is None:
                tables = routing_tables(seeded_network(graph, config), node, config)
            for name in args.strategies:
                strategy = make_strategy(name, seed, profiles, shared_centrality, args.profile_set)
                result = simulate(graph, node, strategy, config, tables)
                stderr_progress(
                    f"done {name} seed {seed}: revenue {result.metrics['focal']['revenue_msat'] // 1000:,} sat "
                    f"in {result.seconds:.0f} s"
                )
                results.append(result)
                args.out.write_bytes(
                    orjson.dumps([result_document(r) for r in results], option=orjson.OPT_INDENT_2)
                )
    sys.stdout.write(summary_table(results) + "\n" + calibration_table(results) + "\n" + run_table(results))
    note(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
