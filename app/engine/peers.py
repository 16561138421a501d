"""Per-peer facts the heuristics need, computed for all of a node's peers at once instead of channel by channel.

A hub has thousands of channels; asking the graph once per channel costs several numpy calls each, while
one vectorised pass over every peer costs a few milliseconds for the whole cycle.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from app.graph.model import BoolArray, ChannelGraph, IntArray


@dataclass(frozen=True, slots=True)
class PeerReach:
    """How a peer's own peers overlap with ours (our node itself left out)."""

    alternatives: int  # our other peers that also reach the peer directly
    new_reach: int  # the peer's peers we do not reach directly
    neighbors: int  # the peer's peers


def _gather(offsets: IntArray, nodes: IntArray) -> tuple[IntArray, IntArray]:
    """Positions of the CSR rows of `nodes`, concatenated, and the index into `nodes` each position belongs to."""
    starts, lengths = offsets[nodes], offsets[nodes + 1] - offsets[nodes]
    group = np.repeat(np.arange(len(nodes)), lengths)
    first_of_group = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(int(lengths.sum())) - first_of_group + np.repeat(starts, lengths)
    return positions, group


def markets_into(graph: ChannelGraph, peers: Collection[int], exclude: int | None) -> dict[int, list[int]]:
    """For each peer, the enabled fee rates the peer's other peers (never `exclude`) charge into it, ascending."""
    nodes = np.fromiter(sorted(set(peers)), dtype=np.int64, count=len(set(peers)))
    offsets, sources, rates, enabled = graph.inbound
    positions, group = _gather(offsets, nodes)
    keep = enabled[positions]
    if exclude is not None:
        keep &= sources[positions] != exclude
    group, chosen = group[keep], rates[positions][keep]
    order = np.lexsort((chosen, group))
    ascending: list[int] = chosen[order].tolist()
    bounds: list[int] = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(nodes)))]).tolist()
    return {peer: ascending[bounds[i] : bounds[i + 1]] for i, peer in enumerate(nodes.tolist())}


def reach_of(
    graph: ChannelGraph, peers: Collection[int], ours: Collection[int], exclude: int | None
) -> dict[int, PeerReach]:
    """For each peer, how many of its peers (never `exclude`) are also ours, and how many are not."""
    nodes = np.fromiter(sorted(set(peers)), dtype=np.int64, count=len(set(peers)))
    offsets, neighbors = graph.adjacency
    positions, group = _gather(offsets, nodes)
    reached = neighbors[positions]
    if exclude is not None:
        keep = reached != exclude
        reached, group = reached[keep], group[keep]
    is_ours: BoolArray = np.zeros(graph.node_count, dtype=bool)
    is_ours[np.fromiter(ours, dtype=np.int64, count=len(ours))] = True
    totals: list[int] = np.bincount(group, minlength=len(nodes)).tolist()
    shared: list[int] = np.bincount(group[is_ours[reached]], minlength=len(nodes)).tolist()
    return {
        peer: PeerReach(alternatives=shared[i], new_reach=totals[i] - shared[i], neighbors=totals[i])
        for i, peer in enumerate(nodes.tolist())
    }


def position_in(fee_rate_ppm: int, ascending: Sequence[int]) -> float:
    """Share of the sorted rates below ours, ties counted half: 0 = cheapest, 1 = most expensive."""
    below = bisect_left(ascending, fee_rate_ppm)
    equal = bisect_right(ascending, fee_rate_ppm) - below
    return (float(below) + 0.5 * float(equal)) / len(ascending)


def quartiles(ascending: Sequence[int]) -> tuple[float, float, float]:
    """np.percentile(rates, [25, 50, 75]) of sorted rates, with numpy's arithmetic, so results are bit-identical.

    numpy's default ("linear") method: index (n - 1) * q, and the lerp a + (b - a) * t below t = 0.5 and
    b - (b - a) * (1 - t) from 0.5 on.
    """
    last = len(ascending) - 1
    values = []
    for quantile in (0.25, 0.5, 0.75):
        index = last * quantile
        below = math.floor(index)
        fraction = index - below
        low, high = ascending[below], ascending[min(below + 1, last)]
        diff = high - low
        values.append(
            float(high - diff * (1 - fraction)) if fraction >= 0.5 else float(low + diff * fraction)
        )
    return values[0], values[1], values[2]
