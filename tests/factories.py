"""Small hand-made graphs, channels and contexts for tests whose expectations are computed by hand."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from app.domain.channel import Channel
from app.domain.policy import ChannelPolicy
from app.engine.context import ScoringContext
from app.engine.flow import FlowStats
from app.engine.profile import Profile, load_profiles
from app.graph.centrality import CentralityMode, compute_centrality
from app.graph.loader import parse_graph
from app.graph.model import ChannelGraph
from app.settings import DEFAULT_THRESHOLDS_FILE, get_settings


def known(value: int | None) -> int:
    """A policy field the test's backend always reports (narrows `int | None` for type checking)."""
    assert value is not None
    return value


def pubkey(name: str) -> str:
    """A deterministic valid-looking pubkey for a node name."""
    return "02" + hashlib.sha256(name.encode()).hexdigest()


def policy_json(fee_rate_ppm: int = 100, base_fee_msat: int = 1000, disabled: bool = False) -> dict[str, Any]:
    """An LND routing policy as `GET /v1/graph` encodes it."""
    return {
        "time_lock_delta": 40,
        "min_htlc": "1000",
        "fee_base_msat": str(base_fee_msat),
        "fee_rate_milli_msat": str(fee_rate_ppm),
        "disabled": disabled,
        "max_htlc_msat": "990000000",
        "last_update": 0,
        "inbound_fee_base_msat": 0,
        "inbound_fee_rate_milli_msat": 0,
    }


Edge = tuple[str, str, int, int | None, int | None]


def graph_document(edges: Sequence[Edge]) -> dict[str, Any]:
    """A `GET /v1/graph` document from (a, b, capacity, fee a->, fee b->) tuples; fee None = no policy."""
    names = sorted({name for a, b, *_ in edges for name in (a, b)})
    nodes = [{"pub_key": pubkey(name), "alias": name} for name in names]
    records = []
    for position, (a, b, capacity, fee_a, fee_b) in enumerate(edges):
        key_a, key_b = pubkey(a), pubkey(b)
        if key_a > key_b:  # node1 is the lexicographically smaller pubkey, as in LND
            key_a, key_b, fee_a, fee_b = key_b, key_a, fee_b, fee_a
        records.append(
            {
                "channel_id": str(800_000 << 40 | position << 16),
                "chan_point": "",
                "node1_pub": key_a,
                "node2_pub": key_b,
                "capacity": str(capacity),
                "node1_policy": None if fee_a is None else policy_json(fee_a),
                "node2_policy": None if fee_b is None else policy_json(fee_b),
            }
        )
    return {"nodes": nodes, "edges": records}


def make_graph(edges: Sequence[Edge]) -> ChannelGraph:
    """Parse a small hand-made graph."""
    return parse_graph(graph_document(edges))


@cache  # Profile is frozen, so every test can share one parse of the YAML file
def balanced_profile() -> Profile:
    """The shipped balanced profile."""
    return load_profiles(DEFAULT_THRESHOLDS_FILE).get("balanced")


def service_profile() -> Profile:
    """The balanced profile the services under test run (tests/conftest.py: the max HTLC rule on)."""
    return load_profiles(get_settings().thresholds_file).get("balanced")


def make_channel(
    peer: str,
    capacity_sat: int = 1_000_000,
    local_sat: int = 500_000,
    fee_rate_ppm: int = 100,
    chan_id: str | None = None,
    **fields: Any,
) -> Channel:
    """One of our channels with the given peer and balance; everything else realistic."""
    remote = fields.pop("remote_balance_sat", capacity_sat - local_sat)
    policy = fields.pop("local_policy", None) or ChannelPolicy(
        base_fee_msat=1000, fee_rate_ppm=fee_rate_ppm, time_lock_delta=40, max_htlc_msat=capacity_sat * 990
    )
    return Channel(
        chan_id=chan_id or str(800_000 << 40 | 1 << 16),
        channel_point="ab" * 32 + ":0",
        remote_pubkey=pubkey(peer),
        capacity_sat=capacity_sat,
        local_balance_sat=local_sat,
        remote_balance_sat=remote,
        local_policy=policy,
        **fields,
    )


def make_context(
    graph: ChannelGraph,
    us: str,
    channels: list[Channel],
    flows: dict[str, FlowStats] | None = None,
    policy_changes: dict[str, list[int]] | None = None,
    block_height: int | None = None,
    now_s: int = 1_770_076_800,
    profile: Profile | None = None,
) -> ScoringContext:
    """A scoring context over a small graph with exact centrality."""
    return ScoringContext(
        graph=graph,
        centrality=compute_centrality(graph, mode=CentralityMode.EXACT),
        node_pubkey=pubkey(us),
        now_s=now_s,
        channels=channels,
        profile=profile or balanced_profile(),
        flows=flows,
        policy_changes=policy_changes,
        block_height=block_height,
    )
