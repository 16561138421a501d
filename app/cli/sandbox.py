"""`sandbox lnd`: serve a SIMULATED node of the graph with LND's REST API, macaroons and TLS."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from app.cli.progress import load_graph_for_cli, note, step
from app.cli.sandbox_folder import claim_folder, default_folder
from app.parent_watch import exit_with_parent
from app.sandbox.lnd.app import LndSimulator
from app.sandbox.lnd.auth import Macaroons
from app.sandbox.lnd.clock import SimulatedClock
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import load_root_key, serve, write_credentials
from app.sandbox.lnd.tls import write_certificate
from app.sandbox.state import generate_sandbox_state
from app.settings import Settings, get_settings


def add_parser(commands: Any) -> None:
    """Register `sandbox` and its `lnd` subcommand."""
    parser = commands.add_parser(
        "sandbox", help="SIMULATED nodes for demos and tests", description="Simulated Lightning nodes."
    )
    kinds = parser.add_subparsers(dest="sandbox_command", required=True)
    lnd = kinds.add_parser(
        "lnd",
        help="serve a simulated node of the graph with LND's REST API",
        description="Serve any node of the channel graph as a SIMULATED LND REST API (macaroons, TLS, "
        "chanpolicy, forwarding history). Prints the URL and the credential files, then serves until Ctrl-C.",
    )
    lnd.add_argument("--node", required=True, help="pubkey or alias of the node (e.g. ACINQ)")
    lnd.add_argument("--host", help="address to listen on (default MCP_SANDBOX_LND_HOST, 127.0.0.1)")
    lnd.add_argument("--port", type=int, help="port (default MCP_SANDBOX_LND_PORT, 18080; 0: any free port)")
    lnd.add_argument(
        "--tls", action=argparse.BooleanOptionalAction, default=True, help="serve HTTPS (default)"
    )
    lnd.add_argument("--seed", type=int, help="sandbox seed (default MCP_SANDBOX_SEED)")
    lnd.add_argument(
        "--data-dir",
        type=Path,
        help="where to write macaroons, tls.cert and sandbox.token (default MCP_SANDBOX_LND_DIR when set, "
        "else <MCP_DATA_DIR>/sandbox-lnd-standalone: never the demo's data/sandbox-lnd); a folder in use by "
        "another running simulator is refused",
    )
    lnd.add_argument("--graph", type=Path, help="LND GET /v1/graph JSON (.json or .json.gz)")
    lnd.add_argument("--clock-speed", type=float, help="simulated seconds per second (default 1; 0 freezes)")
    lnd.add_argument(
        "--accept-positive-inbound-fees", action="store_true", help="like LND's flag of the same name"
    )
    lnd.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the process that started this one exits"
    )
    lnd.set_defaults(handler=run_lnd)


def run_lnd(args: argparse.Namespace) -> int:
    """Claim the credentials folder, build the simulated node, write its credentials and serve."""
    if args.exit_with_parent:
        exit_with_parent()
    settings = get_settings()
    data_dir: Path = (args.data_dir or default_folder(settings)).resolve()
    with claim_folder(data_dir):  # before the simulation, so a refusal comes at once
        return _serve_in(data_dir, args, settings)


def _serve_in(data_dir: Path, args: argparse.Namespace, settings: Settings) -> int:
    """Simulate the node, write its credentials into the claimed folder, print where they are, serve."""
    graph = load_graph_for_cli(args.graph, settings)
    index = graph.find_node(args.node)
    seed = settings.sandbox_seed if args.seed is None else args.seed
    with step(f"simulating {graph.aliases[index] or graph.pubkeys[index]} (seed {seed})"):
        # Simulated history ends now, so a service asking for "the last 30 days" sees it.
        state = generate_sandbox_state(graph, index, seed=seed, now_s=int(time.time()))
    host = args.host or settings.sandbox_lnd_host
    port = settings.sandbox_lnd_port if args.port is None else args.port
    speed = settings.sandbox_lnd_clock_speed if args.clock_speed is None else args.clock_speed
    clock = SimulatedClock(state.now_s, speed=speed)
    node = SimulatedNode(state, graph, clock, accept_positive_inbound_fees=args.accept_positive_inbound_fees)
    app = LndSimulator(node, Macaroons.mint(load_root_key(data_dir)))
    tls = write_certificate(data_dir, hosts=[host]) if args.tls else None
    files = write_credentials(data_dir, app)
    note(f"{state.label}: {len(state.channels)} channels, {len(state.forwards)} forwards")

    def ready(url: str) -> None:
        lines = [f"url: {url}"]
        if tls is not None:
            lines.append(f"tls_cert: {tls.cert_path}")
        lines += [f"{name}: {path}" for name, path in files.items()]
        print("\n".join(lines), flush=True)
        note("serving; Ctrl-C stops")

    try:
        asyncio.run(serve(app, host, port, tls, ready))
    except KeyboardInterrupt:
        note("stopped")
    return 0
