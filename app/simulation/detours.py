"""Retries without a new search: the best route that leaves the first route once and then follows a cached tree.

When a sender must avoid channels that failed, a full Dijkstra per retry dominated the run time. Yen's
algorithm finds the next-best route by deviating from the best one at each of its nodes; here each
deviation takes one more channel and then the receiver's cached shortest-path tree, which is already the
cheapest way on from there. A candidate whose tree tail crosses an avoided channel or loops back is
skipped; when no candidate is valid the caller falls back to a full search. The result is the cheapest
single-deviation route on cached trees: exact when the avoided channels are not on the best tails, a close
next-best otherwise (a real sender's search is exact; the difference is a slightly dearer retry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CANDIDATES_PER_NODE = 16  # cheapest deviations checked at each node of the first route


@dataclass(frozen=True)
class Adjacency:
    """Node pairs grouped by their sending node: pairs out of u are out_pairs[out_ptr[u]:out_ptr[u + 1]]."""

    out_ptr: IntArray
    out_pairs: IntArray

    @classmethod
    def of(cls, pair_from: IntArray, node_count: int) -> Adjacency:
        """Index pairs by sending node."""
        order = np.argsort(pair_from, kind="stable").astype(np.int64)
        counts = np.bincount(pair_from, minlength=node_count)
        return cls(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), order)


def detour(
    route: list[int],
    pairs: list[int],
    avoid: set[int],
    pair_cost: FloatArray,
    pair_to: IntArray,
    adjacency: Adjacency,
    tail_cost: FloatArray,
    tail_walk: Callable[[int], list[int] | None],
    pair_id: Callable[[int, int], int],
) -> list[int] | None:
    """The cheapest valid single-deviation route avoiding `avoid`, or None when no candidate is valid.

    `pairs[i]` is the pair route[i] -> route[i + 1]; `tail_cost[w]` is the cost from w to the receiver along
    `tail_walk(w)`.
    """
    first_bad = next(i for i, pair in enumerate(pairs) if pair in avoid)
    candidates: list[tuple[float, int, int]] = []  # (total cost, deviation index, next node)
    prefix_cost = 0.0
    for i in range(first_bad + 1):
        u = route[i]
        out = adjacency.out_pairs[adjacency.out_ptr[u] : adjacency.out_ptr[u + 1]]
        if len(out):
            nexts = pair_to[out]
            cost = pair_cost[out] + tail_cost[nexts]
            # At most this many of the cheapest are banned (the first route's own next step, which is the
            # deviation at i + 1, an avoided pair, or a step back into the prefix): take enough to keep K.
            prefix = set(route[: i + 1])
            take = min(CANDIDATES_PER_NODE + len(avoid) + len(prefix) + 1, len(cost))
            best = np.argpartition(cost, take - 1)[:take] if take < len(cost) else np.arange(len(cost))
            kept = 0
            for j in best[np.argsort(cost[best])].tolist():
                pair, node, total = int(out[j]), int(nexts[j]), float(cost[j])
                if total == np.inf or kept == CANDIDATES_PER_NODE:
                    break
                if pair == pairs[i] or pair in avoid or node in prefix:
                    continue
                candidates.append((prefix_cost + total, i, node))
                kept += 1
        prefix_cost += float(pair_cost[pairs[i]])
    for _, i, w in sorted(candidates):
        tail = tail_walk(w)
        if tail is None:
            continue
        path = route[: i + 1] + tail
        if len(set(path)) == len(path) and all(
            pair_id(path[k], path[k + 1]) not in avoid for k in range(i, len(path) - 1)
        ):
            return path
    return None
