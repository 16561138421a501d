"""Columnar, read-only channel graph: numpy columns instead of one object per edge, for speed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from app.domain.policy import ChannelPolicy
from app.errors import AmbiguousNodeError, NodeNotFoundError

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PolicyColumns:
    """The policies announced by one end of every edge (node1 or node2)."""

    present: BoolArray
    disabled: BoolArray
    base_fee_msat: IntArray
    fee_rate_ppm: IntArray
    time_lock_delta: IntArray
    min_htlc_msat: IntArray
    max_htlc_msat: IntArray
    inbound_base_fee_msat: IntArray
    inbound_fee_rate_ppm: IntArray
    last_update: IntArray  # unix seconds of the channel_update; 0 when unknown (the snapshot has none)

    def updated_at(self, edge: int) -> int | None:
        """When this policy was last announced, or None when unknown."""
        value = int(self.last_update[edge])
        return value or None

    def policy(self, edge: int) -> ChannelPolicy | None:
        """The policy of one edge as a domain model, or None when never announced."""
        if not self.present[edge]:
            return None
        return ChannelPolicy(
            base_fee_msat=int(self.base_fee_msat[edge]),
            fee_rate_ppm=int(self.fee_rate_ppm[edge]),
            time_lock_delta=int(self.time_lock_delta[edge]),
            min_htlc_msat=int(self.min_htlc_msat[edge]),
            max_htlc_msat=int(self.max_htlc_msat[edge]),
            inbound_base_fee_msat=int(self.inbound_base_fee_msat[edge]),
            inbound_fee_rate_ppm=int(self.inbound_fee_rate_ppm[edge]),
            disabled=bool(self.disabled[edge]),
        )

    def enabled(self) -> BoolArray:
        """Edges whose policy from this end exists and is not disabled."""
        return self.present & ~self.disabled


@dataclass(frozen=True)
class ChannelGraph:
    """The public channel graph: nodes by index, edges as parallel columns."""

    pubkeys: list[str]
    aliases: list[str]
    channel_ids: list[str]
    chan_points: list[str]
    node1: IntArray
    node2: IntArray
    capacity_sat: IntArray
    policy1: PolicyColumns
    policy2: PolicyColumns
    source: str = "memory"
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    # SHA-256 of the file the graph was read from (None when generated or built in memory); keys caches.
    content_digest: str | None = None

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self.pubkeys)

    @property
    def edge_count(self) -> int:
        """Number of channels (parallel channels counted separately)."""
        return len(self.channel_ids)

    @cached_property
    def index(self) -> dict[str, int]:
        """Pubkey to node index."""
        return {pubkey: i for i, pubkey in enumerate(self.pubkeys)}

    @cached_property
    def _incidence(self) -> tuple[IntArray, IntArray]:
        """CSR incidence (offsets, edge ids): the edges of node i are ids[offsets[i]:offsets[i+1]]."""
        edge_ids = np.arange(self.edge_count, dtype=np.int64)
        ends = np.concatenate([self.node1, self.node2])
        ids = np.concatenate([edge_ids, edge_ids])
        loops = np.concatenate([self.node1 == self.node2, np.zeros(self.edge_count, dtype=bool)])
        ends, ids = ends[~loops], ids[~loops]  # a self-loop is listed once
        order = np.argsort(ends, kind="stable")
        counts = np.bincount(ends, minlength=self.node_count)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return offsets, ids[order]

    @cached_property
    def node_capacity_sat(self) -> IntArray:
        """Total capacity of each node's channels."""
        caps = np.bincount(self.node1, weights=self.capacity_sat, minlength=self.node_count)
        caps += np.bincount(self.node2, weights=self.capacity_sat, minlength=self.node_count)
        return caps.astype(np.int64)

    def degree(self, node: int) -> int:
        """Number of channels of a node."""
        offsets, _ = self._incidence
        return int(offsets[node + 1] - offsets[node])

    @cached_property
    def degrees(self) -> IntArray:
        """Channel count of every node."""
        offsets, _ = self._incidence
        return np.diff(offsets)

    def edges_of(self, node: int) -> IntArray:
        """Edge ids of a node's channels."""
        offsets, ids = self._incidence
        return ids[offsets[node] : offsets[node + 1]]

    def other_ends(self, node: int, edges: IntArray) -> IntArray:
        """For each edge of `node`, the node at the other end."""
        return np.where(self.node1[edges] == node, self.node2[edges], self.node1[edges])

    @cached_property
    def adjacency(self) -> tuple[IntArray, IntArray]:
        """CSR of distinct peers (offsets, peers): node i's peers are peers[offsets[i]:offsets[i+1]], ascending.

        A node with a self-loop is its own peer, as `other_ends` says.
        """
        count = max(self.node_count, 1)
        pairs = np.unique(np.concatenate([self.node1 * count + self.node2, self.node2 * count + self.node1]))
        ends, peers = np.divmod(pairs, count)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=self.node_count))])
        return offsets.astype(np.int64), peers

    def neighbors(self, node: int) -> IntArray:
        """Distinct peers of a node, ascending (a read-only view: copy before changing it)."""
        offsets, peers = self.adjacency
        return peers[offsets[node] : offsets[node + 1]]

    def announced_by(self, edge: int, node: int) -> PolicyColumns:
        """The policy columns holding what `node` announced for `edge`."""
        return self.policy1 if self.node1[edge] == node else self.policy2

    def policy_of(self, edge: int, node: int) -> ChannelPolicy | None:
        """The policy `node` announced for `edge`."""
        return self.announced_by(edge, node).policy(edge)

    @cached_property
    def _enabled(self) -> tuple[BoolArray, BoolArray]:
        """Enabled flags of node1's and node2's policies, computed once."""
        return self.policy1.enabled(), self.policy2.enabled()

    @cached_property
    def disabled_shares(self) -> npt.NDArray[np.float64]:
        """Per node, the share of its own announced directions that are disabled or missing."""
        enabled1, enabled2 = self._enabled
        on = np.bincount(self.node1, weights=enabled1, minlength=self.node_count)
        on += np.bincount(self.node2, weights=enabled2, minlength=self.node_count)
        total = np.bincount(self.node1, minlength=self.node_count) + np.bincount(
            self.node2, minlength=self.node_count
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 1.0 - on / np.maximum(total, 1), 0.0)

    @cached_property
    def inbound(self) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
        """CSR of what peers charge to forward into each node: (offsets, peer, fee rate, enabled) per channel.

        Node i's entries are at offsets[i]:offsets[i+1]; a self-loop counts once, under node1's policy,
        exactly as `fee_rates_into` reads it.
        """
        enabled1, enabled2 = self._enabled
        both = self.node1 != self.node2
        targets = np.concatenate([self.node2, self.node1[both]])
        order = np.argsort(targets, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(targets, minlength=self.node_count))])
        return (
            offsets.astype(np.int64),
            np.concatenate([self.node1, self.node2[both]])[order],
            np.concatenate([self.policy1.fee_rate_ppm, self.policy2.fee_rate_ppm[both]])[order],
            np.concatenate([enabled1, enabled2[both]])[order],
        )

    def fee_rates_into(self, node: int, exclude: int | None = None) -> IntArray:
        """Enabled fee rates other nodes charge to forward into `node` (their policy on channels with it)."""
        edges = self.edges_of(node)
        peers = self.other_ends(node, edges)
        if exclude is not None:
            keep = peers != exclude
            edges, peers = edges[keep], peers[keep]
        peer_is_node1 = self.node1[edges] == peers
        enabled1, enabled2 = self._enabled
        rates = np.where(peer_is_node1, self.policy1.fee_rate_ppm[edges], self.policy2.fee_rate_ppm[edges])
        enabled = np.where(peer_is_node1, enabled1[edges], enabled2[edges])
        return rates[enabled]

    def disabled_share(self, node: int) -> float:
        """Share of a node's own announced directions that are disabled or missing."""
        return float(self.disabled_shares[node])

    def simple_edges(self) -> tuple[IntArray, IntArray]:
        """Distinct undirected node pairs without self-loops (parallel channels merged), for centrality."""
        low = np.minimum(self.node1, self.node2)
        high = np.maximum(self.node1, self.node2)
        keep = low != high
        pairs = np.unique(np.stack([low[keep], high[keep]], axis=1), axis=0)
        return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])

    def alias_of(self, pubkey: str) -> str:
        """The alias of a node, or "" for a pubkey the graph does not know."""
        index = self.index.get(pubkey)
        return self.aliases[index] if index is not None else ""

    def find_node(self, query: str) -> int:
        """Resolve a pubkey, an exact alias (case-insensitive) or a unique alias prefix to a node index."""
        if query in self.index:
            return self.index[query]
        wanted = query.casefold()
        exact = [i for i, alias in enumerate(self.aliases) if alias.casefold() == wanted]
        matches = exact or [i for i, alias in enumerate(self.aliases) if alias.casefold().startswith(wanted)]
        if not matches:
            raise NodeNotFoundError(f"no node with pubkey or alias {query!r} in the graph", {"query": query})
        if len(matches) > 1:
            # Several nodes may share an alias; the operator must pick a pubkey.
            candidates = [{"pubkey": self.pubkeys[i], "alias": self.aliases[i]} for i in matches[:10]]
            raise AmbiguousNodeError(
                f"{len(matches)} nodes match {query!r}; pass a pubkey", {"candidates": candidates}
            )
        return matches[0]
