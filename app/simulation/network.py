"""The simulated network: every channel split into two directed halves with a balance and a policy each.

Direction `2e` is node1 -> node2 on graph edge `e` (node1's announced policy), `2e + 1` the reverse;
`d ^ 1` is the other half of the same channel. Hot per-payment state lives in Python lists, which are
faster to index one item at a time than numpy arrays; pathfinding reads the numpy copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.domain.policy import ChannelPolicy
from app.graph.model import ChannelGraph

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DUST_LIMIT_MSAT = 354_000  # LND's smallest channel reserve


@dataclass
class SimNetwork:
    """Balances and policies of every channel half, plus the node pairs routes are found on."""

    graph: ChannelGraph
    dir_from: IntArray
    dir_to: IntArray
    capacity_sat: IntArray  # per direction (both halves of a channel share it)
    local_msat: list[int]  # spendable side of each direction: what its `from` node holds in the channel
    reserve_msat: list[int]
    base_fee_msat: list[int]
    fee_rate_ppm: list[int]
    min_htlc_msat: list[int]
    max_htlc_msat: list[int]
    inbound_base_msat: list[int]
    inbound_ppm: list[int]
    enabled: list[bool]
    time_lock_delta: list[int]
    # Node pairs (u, v) with at least one channel, ordered by (v, u) so they are the CSR order of the
    # reversed graph; pair_dirs[p] lists the channel halves from u to v (parallel channels).
    pair_from: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_to: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pair_dirs: list[list[int]] = field(default_factory=list)
    pair_of: dict[int, int] = field(default_factory=dict)  # u * node_count + v -> pair

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return self.graph.node_count

    def pair_id(self, u: int, v: int) -> int:
        """The pair index of u -> v (KeyError when they share no channel)."""
        return self.pair_of[u * self.graph.node_count + v]

    def policy(self, d: int) -> ChannelPolicy:
        """The current policy of one channel half as a domain model."""
        return ChannelPolicy(
            base_fee_msat=self.base_fee_msat[d],
            fee_rate_ppm=self.fee_rate_ppm[d],
            time_lock_delta=self.time_lock_delta[d],
            min_htlc_msat=self.min_htlc_msat[d],
            max_htlc_msat=self.max_htlc_msat[d],
            inbound_base_fee_msat=self.inbound_base_msat[d],
            inbound_fee_rate_ppm=self.inbound_ppm[d],
            disabled=not self.enabled[d],
        )

    def set_policy(self, d: int, policy: ChannelPolicy) -> None:
        """Announce a new policy for one channel half (unknown optional fields keep their value)."""
        self.base_fee_msat[d] = policy.base_fee_msat
        self.fee_rate_ppm[d] = policy.fee_rate_ppm
        self.enabled[d] = not policy.disabled
        if policy.time_lock_delta is not None:
            self.time_lock_delta[d] = policy.time_lock_delta
        if policy.min_htlc_msat is not None:
            self.min_htlc_msat[d] = policy.min_htlc_msat
        if policy.max_htlc_msat is not None:
            self.max_htlc_msat[d] = policy.max_htlc_msat or self.capacity_sat[d] * 1000  # LND: 0 is unset
        if policy.inbound_base_fee_msat is not None:
            self.inbound_base_msat[d] = policy.inbound_base_fee_msat
        if policy.inbound_fee_rate_ppm is not None:
            self.inbound_ppm[d] = policy.inbound_fee_rate_ppm

    def spendable_msat(self, d: int) -> int:
        """What the `from` node can send over this half above its reserve."""
        return self.local_msat[d] - self.reserve_msat[d]

    def dirs_from(self, node: int) -> list[int]:
        """Channel halves leaving `node`."""
        edges = self.graph.edges_of(node)
        own_is_node1 = self.graph.node1[edges] == node
        return [int(2 * e + (0 if first else 1)) for e, first in zip(edges, own_is_node1, strict=True)]


def build_network(
    graph: ChannelGraph, rng: np.random.Generator, balance_beta: tuple[float, float], reserve_ratio: float
) -> SimNetwork:
    """Split every channel with a balance drawn from Beta(a, b) (uniform by default) on node1's side."""
    edges = graph.edge_count
    dir_from = np.empty(2 * edges, dtype=np.int64)
    dir_to = np.empty(2 * edges, dtype=np.int64)
    dir_from[0::2], dir_from[1::2] = graph.node1, graph.node2
    dir_to[0::2], dir_to[1::2] = graph.node2, graph.node1
    capacity = np.repeat(graph.capacity_sat, 2)
    share = rng.beta(balance_beta[0], balance_beta[1], size=edges)
    node1_msat = np.floor(graph.capacity_sat * 1000 * share).astype(np.int64)
    local = np.empty(2 * edges, dtype=np.int64)
    local[0::2] = node1_msat
    local[1::2] = graph.capacity_sat * 1000 - node1_msat
    reserve = np.maximum(np.floor(capacity * 1000 * reserve_ratio), DUST_LIMIT_MSAT).astype(np.int64)

    def interleave(first: IntArray, second: IntArray) -> list[int]:
        both = np.empty(2 * edges, dtype=np.int64)
        both[0::2], both[1::2] = first, second
        return both.tolist()

    p1, p2 = graph.policy1, graph.policy2
    max_htlc = interleave(p1.max_htlc_msat, p2.max_htlc_msat)
    max_htlc = [m or c * 1000 for m, c in zip(max_htlc, capacity.tolist(), strict=True)]
    network = SimNetwork(
        graph=graph,
        dir_from=dir_from,
        dir_to=dir_to,
        capacity_sat=capacity,
        local_msat=local.tolist(),
        reserve_msat=reserve.tolist(),
        base_fee_msat=interleave(p1.base_fee_msat, p2.base_fee_msat),
        fee_rate_ppm=interleave(p1.fee_rate_ppm, p2.fee_rate_ppm),
        min_htlc_msat=interleave(p1.min_htlc_msat, p2.min_htlc_msat),
        max_htlc_msat=max_htlc,
        inbound_base_msat=interleave(p1.inbound_base_fee_msat, p2.inbound_base_fee_msat),
        inbound_ppm=interleave(p1.inbound_fee_rate_ppm, p2.inbound_fee_rate_ppm),
        enabled=[bool(x) for x in interleave(p1.enabled().astype(np.int64), p2.enabled().astype(np.int64))],
        time_lock_delta=interleave(p1.time_lock_delta, p2.time_lock_delta),
    )
    _index_pairs(network)
    return network


def _index_pairs(network: SimNetwork) -> None:
    """Group channel halves by (from, to) node pair, ordered by (to, from), self-loops left out."""
    n = network.node_count
    keep = np.flatnonzero(network.dir_from != network.dir_to)
    keys = network.dir_to[keep] * n + network.dir_from[keep]  # sorted by (to, from): reversed-graph CSR order
    order = np.argsort(keys, kind="stable")
    keys, dirs = keys[order], keep[order]
    unique, starts = np.unique(keys, return_index=True)
    network.pair_to = unique // n
    network.pair_from = unique % n
    bounds = [*starts.tolist(), len(dirs)]
    dir_list = dirs.tolist()
    network.pair_dirs = [dir_list[bounds[i] : bounds[i + 1]] for i in range(len(unique))]
    forward_keys = (network.pair_from * n + network.pair_to).tolist()
    network.pair_of = {key: i for i, key in enumerate(forward_keys)}
