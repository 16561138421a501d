"""`simulate`: one routing-traffic simulation of a focal node under one fee strategy (results JSON or table)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from app.cli.progress import load_graph_for_cli, note
from app.engine.profile import load_profiles
from app.graph.centrality import centrality_for
from app.settings import get_settings
from app.simulation.config import DemandModel, SimulationConfig
from app.simulation.report import calibration_table, result_document, run_table
from app.simulation.simulator import simulate, stderr_progress
from app.simulation.strategies import STRATEGY_NAMES, make_strategy


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every simulation command shares (also used by scripts/compare_strategies.py)."""
    defaults = SimulationConfig()
    parser.add_argument("--graph", type=Path, help="LND GET /v1/graph JSON (.json or .json.gz)")
    parser.add_argument("--days", type=int, default=defaults.days, help="simulated days")
    parser.add_argument(
        "--warmup-days",
        type=int,
        default=defaults.warmup_days,
        help="days under the snapshot's fees before the strategy takes over (gives it a forwarding history)",
    )
    parser.add_argument(
        "--rate", type=float, default=defaults.payments_per_s, help="network payments per second"
    )
    parser.add_argument(
        "--demand",
        choices=[m.value for m in DemandModel],
        default=defaults.demand.value,
        help="endpoint model",
    )
    parser.add_argument(
        "--amount-median", type=int, default=defaults.amount_median_sat, help="median payment, sat"
    )
    parser.add_argument("--amount-sigma", type=float, default=defaults.amount_sigma, help="lognormal sigma")
    parser.add_argument(
        "--max-attempts", type=int, default=defaults.max_attempts, help="routes a sender tries"
    )
    parser.add_argument(
        "--balance-beta", type=float, nargs=2, default=defaults.balance_beta, help="balance prior"
    )
    parser.add_argument(
        "--refill-half-life-h",
        type=float,
        default=defaults.refill_half_life_s / 3600,
        help="other nodes' channels drift back to their prior split with this half-life (0: never)",
    )


def config_from(args: argparse.Namespace, seed: int) -> SimulationConfig:
    """A SimulationConfig from parsed flags."""
    return SimulationConfig(
        days=args.days,
        warmup_days=args.warmup_days,
        seed=seed,
        payments_per_s=args.rate,
        demand=DemandModel(args.demand),
        amount_median_sat=args.amount_median,
        amount_sigma=args.amount_sigma,
        max_attempts=args.max_attempts,
        balance_beta=(float(args.balance_beta[0]), float(args.balance_beta[1])),
        refill_half_life_s=args.refill_half_life_h * 3600,
    )


def add_parser(commands: Any) -> None:
    """Register the `simulate` subcommand."""
    parser = commands.add_parser(
        "simulate",
        help="simulate routing traffic on the channel graph with one fee strategy on a focal node",
        description="Routing-traffic simulation: payments on the public graph, a focal node's fees set by a strategy.",
    )
    parser.add_argument("--node", required=True, help="focal node: pubkey or alias (e.g. ACINQ)")
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="ours_balanced", help="fee strategy")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of balances, demand and strategy randomness"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the graph, simulate, print."""
    settings = get_settings()
    graph = load_graph_for_cli(args.graph, settings)
    node = graph.find_node(args.node)
    profiles = load_profiles(settings.thresholds_file)
    strategy = make_strategy(args.strategy, args.seed, profiles, lambda: centrality_for(graph, settings))
    note(
        f"simulating {args.warmup_days} + {args.days} days on {graph.source} "
        f"({graph.node_count} nodes, {graph.edge_count} channels)"
    )
    result = simulate(graph, node, strategy, config_from(args, args.seed), progress=stderr_progress)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result_document(result), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(run_table([result]) + "\n" + calibration_table([result]))
    return 0
