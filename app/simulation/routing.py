"""Route finding as a sender does it, fast enough for millions of payments.

Every node except the focal one keeps its snapshot policy, so the cheapest route to a receiver in a graph
where the focal node cannot forward never changes: one reverse Dijkstra per (receiver, amount bucket)
(scipy, compiled) gives it from every sender, and is cached (LRU). The focal node's fees change daily;
a route through it is s -> focal (one tree per bucket, recomputed when its policy changes) + one focal
channel + the cached tree from there on, and the sender takes whichever of the two is cheaper: exact
for the cost model, without recomputing the cached trees. A sender that must avoid channels that failed
takes the cheapest single deviation from its first route onto a cached tree (app/simulation/detours.py),
and searches the whole current graph without them only when no such deviation is valid.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from app.simulation.costs import CostModel, bucket_amount_msat
from app.simulation.detours import Adjacency, detour
from app.simulation.network import SimNetwork

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LIMIT_MARGIN_MSAT = 1_000.0  # extra search radius for cheap routes, where twice the cost is little
Tree = tuple[FloatArray, npt.NDArray[np.int32]]  # cost to the root from every node, next hop towards it


class RoutingTables:
    """Static per-bucket pair costs (focal node unable to forward) and the cache of trees built on them."""

    def __init__(self, network: SimNetwork, focal: int, cost: CostModel, cache_size: int) -> None:
        self.focal = focal
        self.cost = cost
        self.cache_size = cache_size
        n = network.node_count
        counts = np.bincount(network.pair_to, minlength=n)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self.indices = network.pair_from.astype(np.int32)
        self.node_count = n
        flat = [d for dirs in network.pair_dirs for d in dirs]
        self.flat_dirs = np.asarray(flat, dtype=np.int64)
        self.pair_starts = np.concatenate([[0], np.cumsum([len(d) for d in network.pair_dirs])[:-1]]).astype(
            np.int64
        )
        self.adjacency = Adjacency.of(network.pair_from, n)
        self.focal_out = np.flatnonzero(network.pair_from == focal)
        self.focal_in = np.flatnonzero(network.pair_to == focal)
        self._network = network
        self._static: dict[int, tuple[FloatArray, IntArray]] = {}
        self._static_matrix: dict[int, CompactMatrix] = {}
        self._trees: OrderedDict[tuple[int, int], Tree] = OrderedDict()
        self.trees_built = 0

    def pair_costs(self, network: SimNetwork, bucket: int) -> tuple[FloatArray, IntArray]:
        """Cheapest half per pair and its cost, from the network's current policies."""
        weights = self.cost.weights(network, self.flat_dirs, bucket)
        best = np.minimum.reduceat(weights, self.pair_starts)
        # The cheapest parallel channel of each pair: the first position holding the pair's minimum.
        is_best = weights == np.repeat(best, np.diff(np.append(self.pair_starts, len(weights))))
        positions = np.flatnonzero(is_best)
        pair_of_position = np.searchsorted(self.pair_starts, positions, side="right") - 1
        chosen = np.full(len(best), -1, dtype=np.int64)
        chosen[pair_of_position[::-1]] = self.flat_dirs[positions[::-1]]
        return best, chosen

    def static(self, bucket: int) -> tuple[FloatArray, IntArray]:
        """Pair costs of a bucket with the focal node unable to forward (its snapshot policy elsewhere)."""
        if bucket not in self._static:
            costs, chosen = self.pair_costs(self._network, bucket)
            costs = costs.copy()
            costs[self.focal_out] = np.inf
            self._static[bucket] = (costs, chosen)
        return self._static[bucket]

    def matrix(self, costs: FloatArray) -> CompactMatrix:
        """The reversed graph with the usable pairs only (rows are the receiving ends of each pair)."""
        usable = np.isfinite(costs)
        counts = np.add.reduceat(usable.astype(np.int32), self.indptr[:-1]) if len(costs) else np.zeros(0)
        counts = np.where(np.diff(self.indptr) > 0, counts, 0)  # reduceat repeats a value for empty rows
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        position = np.full(len(costs), -1, dtype=np.int64)
        position[usable] = np.arange(int(usable.sum()))
        matrix = sp.csr_matrix(
            (costs[usable], self.indices[usable], indptr), shape=(self.node_count, self.node_count)
        )
        return CompactMatrix(matrix, position)

    def static_matrix(self, bucket: int) -> CompactMatrix:
        """The static bucket's compact matrix, built once."""
        if bucket not in self._static_matrix:
            self._static_matrix[bucket] = self.matrix(self.static(bucket)[0])
        return self._static_matrix[bucket]

    def tree(self, root: int, bucket: int) -> Tree:
        """Cheapest cost from every node to `root` avoiding the focal node as a forwarder (cached)."""
        key = (root, bucket)
        cached = self._trees.get(key)
        if cached is not None:
            self._trees.move_to_end(key)
            return cached
        tree = shortest_tree(self.static_matrix(bucket).matrix, root)
        self.trees_built += 1
        self._trees[key] = tree
        if len(self._trees) > self.cache_size:
            self._trees.popitem(last=False)
        return tree


@dataclass(frozen=True)
class CompactMatrix:
    """A reversed-graph matrix holding only usable pairs, and where each pair sits in its data."""

    matrix: sp.csr_matrix
    position: IntArray  # pair -> index into matrix.data, -1 when the pair is unusable

    def without(self, pairs: set[int]) -> sp.csr_matrix:
        """The same graph with some pairs removed (their cost made infinite)."""
        data = self.matrix.data.copy()
        positions = self.position[list(pairs)]
        data[positions[positions >= 0]] = np.inf
        return sp.csr_matrix(
            (data, self.matrix.indices, self.matrix.indptr), shape=self.matrix.shape, copy=False
        )


def shortest_tree(matrix: sp.csr_matrix, root: int, limit: float = np.inf) -> Tree:
    """Reverse Dijkstra from `root`: cost to reach it from every node (up to `limit`) and each next hop."""
    found = dijkstra(matrix, directed=True, indices=[root], return_predecessors=True, limit=limit)
    return found[0][0], found[1][0]


@dataclass
class _FocalBucket:
    """The focal node's current part of one bucket: full pair costs, chosen halves, its tree and channels."""

    costs: CompactMatrix
    pair_costs: FloatArray
    chosen: IntArray
    tree: Tree
    out_peers: IntArray
    out_costs: FloatArray


class RouteFinder:
    """One run's router: the shared static tables plus the focal node's current policies."""

    def __init__(self, tables: RoutingTables, network: SimNetwork) -> None:
        self.tables = tables
        self.network = network
        self.focal = tables.focal
        self._focal: dict[int, _FocalBucket] = {}
        self.slow_searches = 0
        self.detours = 0

    def focal_policy_changed(self) -> None:
        """Forget everything computed from the focal node's policies."""
        self._focal.clear()

    def _focal_bucket(self, bucket: int) -> _FocalBucket:
        state = self._focal.get(bucket)
        if state is not None:
            return state
        tables, network = self.tables, self.network
        static_costs, static_chosen = tables.static(bucket)
        costs, chosen = static_costs.copy(), static_chosen.copy()
        touched = np.concatenate([tables.focal_out, tables.focal_in])
        if len(touched):
            sizes = np.asarray([len(network.pair_dirs[p]) for p in touched.tolist()], dtype=np.int64)
            dirs = np.asarray([d for p in touched.tolist() for d in network.pair_dirs[p]], dtype=np.int64)
            weights = tables.cost.weights(network, dirs, bucket)
            entering = np.repeat(network.pair_to[touched] == self.focal, sizes)
            weights = np.where(entering, weights + self._inbound_fee(dirs, bucket), weights)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            for i, pair in enumerate(touched.tolist()):  # a few parallel channels per pair at most
                segment = weights[starts[i] : starts[i] + sizes[i]]
                best = int(np.argmin(segment))
                costs[pair] = max(float(segment[best]), 0.0)  # a discount cannot make a hop pay the sender
                chosen[pair] = int(dirs[starts[i] + best])
        compact = tables.matrix(costs)
        tree = shortest_tree(compact.matrix, self.focal)
        out = tables.focal_out
        state = _FocalBucket(compact, costs, chosen, tree, network.pair_to[out], costs[out])
        self._focal[bucket] = state
        return state

    def _inbound_fee(self, dirs: IntArray, bucket: int) -> FloatArray:
        """The focal node's inbound fee (usually a discount) on each channel a payment enters it through."""
        amount = bucket_amount_msat(bucket)
        net = self.network
        return np.asarray(
            [net.inbound_base_msat[d ^ 1] + net.inbound_ppm[d ^ 1] * amount / 1e6 for d in dirs.tolist()],
            dtype=np.float64,
        )

    def chosen_half(self, pair: int, bucket: int) -> int:
        """The channel half a sender names for a pair (the cheapest of parallel channels)."""
        return int(self._focal_bucket(bucket).chosen[pair])

    def route(
        self, sender: int, receiver: int, bucket: int, avoid: set[int] | None = None
    ) -> list[int] | None:
        """The cheapest route as a node list, avoiding the `avoid` pairs; None when there is none."""
        route = self._cheapest(sender, receiver, bucket)
        if route is None or not avoid:
            return route
        network = self.network
        pairs = [network.pair_id(route[i], route[i + 1]) for i in range(len(route) - 1)]
        if not any(pair in avoid for pair in pairs):
            return route
        found = self._detour(route, pairs, receiver, bucket, avoid)  # the best route uses an avoided pair
        if found is not None:
            self.detours += 1
            return found
        return self._search(sender, receiver, bucket, avoid)

    def _detour(
        self, route: list[int], pairs: list[int], receiver: int, bucket: int, avoid: set[int]
    ) -> list[int] | None:
        """The cheapest single deviation from `route` onto the receiver's cached tree (or via the focal node)."""
        focal = self._focal_bucket(bucket)
        dist, pred = self.tables.tree(receiver, bucket)
        tail_cost = dist.copy()
        focal_peer = -1
        if len(focal.out_peers):  # the focal node forwards onto the cached tree through its best channel
            onward = focal.out_costs + dist[focal.out_peers]
            best = int(np.argmin(onward))
            tail_cost[self.focal] = onward[best]
            focal_peer = int(focal.out_peers[best])

        def tail_walk(node: int) -> list[int] | None:
            if node != self.focal:
                return _walk(pred, node, receiver)
            rest = _walk(pred, focal_peer, receiver) if focal_peer >= 0 else None
            return None if rest is None else [node, *rest]

        return detour(
            route,
            pairs,
            avoid,
            focal.pair_costs,
            self.network.pair_to,
            self.tables.adjacency,
            tail_cost,
            tail_walk,
            self.network.pair_id,
        )

    def _cheapest(self, sender: int, receiver: int, bucket: int) -> list[int] | None:
        """The cheapest route with nothing avoided: a cached tree, or the focal tree plus a cached tree."""
        dist, pred = self.tables.tree(receiver, bucket)
        direct = float(dist[sender])
        focal = self._focal_bucket(bucket)
        via, peer = np.inf, -1
        focal_dist, focal_pred = focal.tree
        if sender != self.focal and len(focal.out_peers) and np.isfinite(focal_dist[sender]):
            onward = focal.out_costs + dist[focal.out_peers]
            best = int(np.argmin(onward))
            via = float(focal_dist[sender] + onward[best])
            peer = int(focal.out_peers[best])
        if not np.isfinite(direct) and not np.isfinite(via):
            return None
        if via < direct:
            head = _walk(focal_pred, sender, self.focal)
            tail = _walk(pred, peer, receiver)
            if head is None or tail is None or set(head) & set(tail):
                return self._search(sender, receiver, bucket, set())  # rare loop: search it exactly
            return head + tail
        return _walk(pred, sender, receiver)

    def _search(self, sender: int, receiver: int, bucket: int, avoid: set[int]) -> list[int] | None:
        """A full Dijkstra on the current graph without the avoided pairs.

        Avoiding pairs only makes routes dearer, so it first searches only as far as twice the best cost
        without them (a fraction of the graph), and the whole graph only when the sender lies beyond that.
        """
        self.slow_searches += 1
        matrix = self._focal_bucket(bucket).costs.without(avoid)
        best = self._best_cost(sender, receiver, bucket)
        for limit in (1.5 * best + LIMIT_MARGIN_MSAT, np.inf):
            dist, pred = shortest_tree(matrix, receiver, limit)
            if np.isfinite(dist[sender]):
                return _walk(pred, sender, receiver)
        return None

    def _best_cost(self, sender: int, receiver: int, bucket: int) -> float:
        """The cheapest cost from sender to receiver with nothing avoided (a lower bound for any search)."""
        dist, _ = self.tables.tree(receiver, bucket)
        best = float(dist[sender])
        focal = self._focal_bucket(bucket)
        focal_dist = focal.tree[0]
        if sender != self.focal and len(focal.out_peers) and np.isfinite(focal_dist[sender]):
            best = min(best, float(focal_dist[sender] + np.min(focal.out_costs + dist[focal.out_peers])))
        return best


def _walk(pred: npt.NDArray[np.int32], start: int, root: int) -> list[int] | None:
    """Follow next hops from `start` to the tree's root."""
    path = [start]
    node = start
    limit = len(pred)
    while node != root:
        node = int(pred[node])
        if node < 0 or len(path) > limit:
            return None
        path.append(node)
    return path
