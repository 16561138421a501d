"""Seeded whole-cycle scenarios whose complete output is pinned by digest, so speed work cannot change results.

Each scenario runs `run_cycle` on a sandbox node and renders the report exactly as `python -m app shadow
--json` prints it (decisions, every heuristic's value, facts and reason, verdicts and issue messages).
The digests in `golden/cycle_digests.json` were written by the engine before its speed rework
(commit 5b53d13). Regenerate them (`.venv/bin/python -m tests.engine.cycle_scenarios --write`) only for a
deliberate change of the rules, never to make a refactoring pass.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from app.cli.render import render_json
from app.domain.balance import BalanceInterval
from app.domain.capabilities import NodeCapabilities
from app.domain.snapshot import NodeSnapshot
from app.engine.cycle import run_cycle
from app.engine.flow import DAY_S
from app.engine.profile import Profile, load_profiles
from app.graph.centrality import CentralityScores, compute_centrality
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.sandbox.state import generate_sandbox_state
from app.settings import DEFAULT_THRESHOLDS_FILE

GOLDEN_FILE = Path(__file__).parent / "golden" / "cycle_digests.json"
LNBITS = NodeCapabilities(
    forwarding_history=False, channel_graph=False, inbound_fees=False, htlc_limits=False, time_lock=False
)
# Synthetic nodes of three sizes: the ACINQ-like hub, a mid-size router and a small node.
SYNTHETIC_NODES = ("ACINQ (synthetic)", "synthetic-node-00028", "synthetic-node-00018")


def report_digest(
    snapshot: NodeSnapshot, graph: ChannelGraph, centrality: CentralityScores, profile: Profile
) -> str:
    """SHA-256 of the cycle's report rendered as the shadow command's JSON."""
    report = run_cycle(snapshot, graph, centrality, profile)
    return hashlib.sha256(render_json(report, {"graph_source": "golden"})).hexdigest()


def daily_balance_history(snapshot: NodeSnapshot) -> list[BalanceInterval]:
    """Net daily balance moves derived from the sandbox forwards, as an LNbits node's syncs would see them."""
    days: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in snapshot.forwards or ():
        day = (snapshot.now_s - event.timestamp_ns // 1_000_000_000) // DAY_S
        days[day][event.chan_id_out] -= event.amt_out_msat // 1000
        days[day][event.chan_id_in] += event.amt_in_msat // 1000
    return [
        BalanceInterval(
            snapshot.now_s - (day + 1) * DAY_S,
            snapshot.now_s - day * DAY_S,
            {chan_id: move for chan_id, move in sorted(days[day].items()) if move},
        )
        for day in sorted(days, reverse=True)
    ]


def variants(
    snapshot: NodeSnapshot, profiles: dict[str, Profile]
) -> Iterator[tuple[str, NodeSnapshot, Profile]]:
    """The same node under every profile, backend and history situation the rules distinguish."""
    balanced = profiles["balanced"]
    for name, profile in profiles.items():
        yield f"lnd/{name}", snapshot, profile
    channels = snapshot.channels
    yield (
        "lnd/balanced/busy-day",
        replace(
            snapshot,
            optimizer_updates_last_24h=3,
            external_changes={c.chan_id: snapshot.now_s - 3_600 for c in channels[::7]},
        ),
        balanced,
    )
    yield "lnd/balanced/history-unknown", replace(snapshot, policy_changes=None), balanced
    pinned = balanced.limits.model_copy(
        update={
            "pinned_channels": frozenset(c.chan_id for c in channels[::5]),
            "excluded_channels": frozenset(c.chan_id for c in channels[1::9]),
            "require_manual_approval": True,
            "daily_cap": 50,
        }
    )
    yield "lnd/balanced/pinned-manual", snapshot, balanced.model_copy(update={"limits": pinned})
    node = snapshot.node.model_copy(update={"fees_month_msat": 12_345_678})
    lnbits = replace(snapshot, capabilities=LNBITS, forwards=None, node=node)
    yield "lnbits/balanced/no-history", lnbits, balanced
    yield (
        "lnbits/balanced/inferred",
        replace(lnbits, balance_history=daily_balance_history(snapshot)),
        balanced,
    )


def synthetic_digests() -> dict[str, str]:
    """Digest of every variant for three synthetic nodes (no ../shared needed)."""
    graph = generate_graph()
    centrality = compute_centrality(graph)
    profiles = {
        name: load_profiles(DEFAULT_THRESHOLDS_FILE).get(name)
        for name in ("conservative", "balanced", "aggressive")
    }
    digests = {}
    for alias in SYNTHETIC_NODES:
        snapshot = generate_sandbox_state(graph, graph.find_node(alias), seed=42).snapshot()
        for name, variant, profile in variants(snapshot, profiles):
            digests[f"{alias}/{name}"] = report_digest(variant, graph, centrality, profile)
    return digests


def real_graph_digests(graph: ChannelGraph, centrality: CentralityScores) -> dict[str, str]:
    """Digest of ACINQ's balanced cycle on the public snapshot, the shadow command's own case."""
    profile = load_profiles(DEFAULT_THRESHOLDS_FILE).get("balanced")
    snapshot = generate_sandbox_state(graph, graph.find_node("ACINQ"), seed=42).snapshot()
    return {"ACINQ/lnd/balanced": report_digest(snapshot, graph, centrality, profile)}


def load_golden() -> dict[str, Any]:
    """The pinned digests."""
    document: dict[str, Any] = orjson.loads(GOLDEN_FILE.read_bytes())
    return document


def main() -> int:
    """Print the digests, or write them to the golden file with --write."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="overwrite the golden file")
    args = parser.parse_args()
    from app.graph.loader import load_graph
    from app.settings import DEFAULT_GRAPH_FILE

    document: dict[str, Any] = {"synthetic": synthetic_digests()}
    if DEFAULT_GRAPH_FILE.exists():
        graph = load_graph(DEFAULT_GRAPH_FILE)
        document["real"] = real_graph_digests(graph, compute_centrality(graph))
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if args.write:
        GOLDEN_FILE.parent.mkdir(exist_ok=True)
        GOLDEN_FILE.write_bytes(text + b"\n")
    sys.stdout.buffer.write(text + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
