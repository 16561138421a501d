"""Small hand-built channel graphs for the simulator tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.graph.loader import parse_graph
from app.graph.model import ChannelGraph
from app.simulation.network import SimNetwork, build_network


def pubkey(name: str) -> str:
    """A valid compressed pubkey derived from a one-letter name."""
    return "02" + name.encode().hex().rjust(64, "0")


def policy(base: int = 0, ppm: int = 100, max_htlc: int = 0) -> dict[str, Any]:
    """An LND routing policy."""
    return {
        "fee_base_msat": str(base),
        "fee_rate_milli_msat": str(ppm),
        "time_lock_delta": 40,
        "min_htlc": "1000",
        "max_htlc_msat": str(max_htlc),
        "disabled": False,
    }


def graph_of(channels: list[tuple[str, str, int, dict[str, Any], dict[str, Any]]]) -> ChannelGraph:
    """A graph from (a, b, capacity_sat, policy of a, policy of b) with a < b alphabetically (node1 = a)."""
    names = sorted({name for a, b, *_ in channels for name in (a, b)})
    edges = []
    for i, (a, b, capacity, first, second) in enumerate(channels):
        assert pubkey(a) < pubkey(b)
        edges.append(
            {
                "channel_id": str((i + 1) << 40),
                "chan_point": "",
                "node1_pub": pubkey(a),
                "node2_pub": pubkey(b),
                "capacity": str(capacity),
                "node1_policy": first,
                "node2_policy": second,
            }
        )
    document = {"nodes": [{"pub_key": pubkey(n), "alias": n} for n in names], "edges": edges}
    return parse_graph(document)


def half_balanced(graph: ChannelGraph) -> SimNetwork:
    """The graph as a network with every channel split exactly in half."""
    return build_network(graph, np.random.default_rng(0), (1e9, 1e9), reserve_ratio=0.01)


def diamond(c_ppm: int = 10, b_ppm: int = 500, capacity: int = 10_000_000) -> ChannelGraph:
    """A -> B -> D and A -> C -> D; C is cheaper than B by default."""
    return graph_of(
        [
            ("A", "B", capacity, policy(), policy(ppm=b_ppm)),
            ("A", "C", capacity, policy(), policy(ppm=c_ppm)),
            ("B", "D", capacity, policy(ppm=b_ppm), policy()),
            ("C", "D", capacity, policy(ppm=c_ppm), policy()),
        ]
    )
