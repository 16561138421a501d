"""Choosing focal nodes that earn: a short static run counts every node's forwards and fees.

Picking by capacity chose nodes that forward nothing in the model (a large custodian with zero fees, say),
where every strategy ties at zero and the comparison says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.graph.model import ChannelGraph
from app.simulation.payments import PaymentStats

# (label, fewest channels, most channels) of the classes the comparison covers below the hub.
SIZE_CLASSES = (("router", 50, 200), ("small", 5, 20))


@dataclass(frozen=True)
class Earner:
    """One node's showing in the scouting run."""

    node: int
    channels: int
    forwards: int
    fees_msat: int


# Forwards per channel a node needs in the scouting run to be picked: a node earning from a handful of
# large payments (7 forwards, 981 sat in 3 days) gives every strategy the same few payments or none, and
# the comparison measures luck. Two per channel in 3 days leaves a 30-day run some twenty per channel.
MIN_FORWARDS_PER_CHANNEL = 2.0


def earners(
    graph: ChannelGraph,
    stats: PaymentStats,
    low: int,
    high: int,
    min_forwards_per_channel: float = MIN_FORWARDS_PER_CHANNEL,
) -> list[Earner]:
    """Nodes with `low`-`high` channels that forwarded enough in the scouting run, best-earning first."""
    degrees = graph.degrees
    found = [
        Earner(node, int(degrees[node]), stats.node_forwards[node], stats.node_fees_msat[node])
        for node in stats.node_forwards
        if low <= degrees[node] <= high
        and stats.node_forwards[node] >= min_forwards_per_channel * degrees[node]
    ]
    return sorted(found, key=lambda e: (-e.fees_msat, -e.forwards, e.node))


def hub(graph: ChannelGraph) -> int:
    """The node with the most channels."""
    return int(np.argmax(graph.degrees))


def pick_focal_nodes(
    graph: ChannelGraph, stats: PaymentStats, min_forwards_per_channel: float = MIN_FORWARDS_PER_CHANNEL
) -> list[tuple[str, int]]:
    """The hub, then the best-earning node of each size class (a class without an earner is left out)."""
    picks = [("hub", hub(graph))]
    for label, low, high in SIZE_CLASSES:
        ranked = earners(graph, stats, low, high, min_forwards_per_channel)
        if ranked:
            picks.append((label, ranked[0].node))
    return picks
