"""The channel graph as the simulated node's LND serves it: the node's edges carry its ids and live policies.

The snapshot's channel ids are synthetic, so the node's own edges are served with the sandbox's realistic
short channel ids and channel points and with its current policies. `GET /v1/graph` is ~40 MB of JSON for
the public snapshot: every other edge is rendered once and kept as bytes; after a policy change only the
node's own edges are rendered again.

The snapshot carries no gossip timestamps, but a real graph has one on every node and policy (a client
such as LNbits caches a peer only when its node announcement has one). Other nodes and their policies get
SIMULATED timestamps, stable per pubkey and channel, within the two weeks before the simulator started (a
policy older than that would have been re-announced or pruned); a timestamp the graph file does carry is
kept. Our own node and policies keep theirs: the start time, and when each policy last changed.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from app.graph.model import PolicyColumns
from app.sandbox.lnd.encoding import (
    ROUTING_FIELDS,
    auth_proof,
    lightning_node,
    routing_policy,
    routing_record,
)
from app.sandbox.lnd.model import Policy
from app.sandbox.lnd.node import KEEPALIVE_S, SimulatedNode, stable_hash


class GraphView:
    """Read access to the graph in LND's shapes, with cached rendering of the whole graph."""

    def __init__(self, node: SimulatedNode) -> None:
        self.node = node
        self.graph = node.graph
        self._lock = threading.Lock()
        self._chunks: dict[bool, list[bytes]] = {}  # per include_auth_proof: one JSON chunk per edge
        self._nodes: bytes | None = None
        self._documents: dict[bool, tuple[int, bytes]] = {}  # per include_auth_proof: (policy version, body)
        self._by_id: dict[int, int] | None = None
        self._by_point: dict[str, int] | None = None

    def find_edge(self, chan_id: int) -> int | None:
        """The edge with this channel id (the sandbox's id for the node's own channels)."""
        if self._by_id is None:
            by_id = {int(channel_id): edge for edge, channel_id in enumerate(self.graph.channel_ids)}
            for edge, own in self.node.edge_channels.items():
                by_id.pop(int(self.graph.channel_ids[edge]), None)
                by_id[int(own)] = edge
            self._by_id = by_id
        return self._by_id.get(chan_id)

    def find_edge_by_point(self, chan_point: str) -> int | None:
        """The edge funded at `txid:index` (the snapshot has no channel points for other edges)."""
        if self._by_point is None:
            by_point = {point: edge for edge, point in enumerate(self.graph.chan_points) if point}
            for edge, chan_id in self.node.edge_channels.items():
                by_point[self.node.channels[chan_id].channel.channel_point] = edge
            self._by_point = by_point
        return self._by_point.get(chan_point)

    def edge(self, edge: int, include_proof: bool = False) -> dict[str, Any]:
        """`lnrpcChannelEdge` for one edge of the graph."""
        graph = self.graph
        own = self.node.edge_channels.get(edge)
        if own is None:
            channel_id, chan_point = graph.channel_ids[edge], graph.chan_points[edge]
            first = _column_policy(graph.policy1, edge, self.gossip_s(channel_id, 1))
            second = _column_policy(graph.policy2, edge, self.gossip_s(channel_id, 2))
            return self._edge_record(edge, channel_id, chan_point, first, second, include_proof)
        live = self.node.channels[own]
        ours = routing_policy(live.policy, live.policy_updated_s)
        remote = live.channel.remote_policy
        theirs = routing_policy(
            Policy.from_domain(remote) if remote else None,
            self.node.started_s - stable_hash(f"{own}:remote") % KEEPALIVE_S,
        )
        first, second = (ours, theirs) if graph.node1[edge] == self.node.index else (theirs, ours)
        return self._edge_record(edge, own, live.channel.channel_point, first, second, include_proof)

    def _edge_record(
        self,
        edge: int,
        channel_id: str,
        chan_point: str,
        first: dict[str, Any] | None,
        second: dict[str, Any] | None,
        include_proof: bool,
    ) -> dict[str, Any]:
        graph = self.graph
        updates = [policy["last_update"] for policy in (first, second) if policy is not None]
        pubkeys = (graph.pubkeys[int(graph.node1[edge])], graph.pubkeys[int(graph.node2[edge])])
        proof = auth_proof(channel_id) if include_proof else None
        capacity = int(graph.capacity_sat[edge])
        return _channel_edge(
            channel_id, chan_point, max(updates, default=0), pubkeys, capacity, first, second, proof
        )

    def gossip_s(self, channel_id: str, side: int) -> int:
        """SIMULATED announcement time of another node's policy (`side` 1 or 2 of the edge)."""
        return self.node.started_s - stable_hash(f"{channel_id}:node{side}") % KEEPALIVE_S

    def announced_s(self, index: int) -> int:
        """When a node last announced itself: our start time, or a SIMULATED time for any other node."""
        if index == self.node.index:
            return self.node.started_s
        return self.node.started_s - stable_hash(f"node:{self.graph.pubkeys[index]}") % KEEPALIVE_S

    def lightning_node(self, index: int) -> dict[str, Any]:
        """`lnrpcLightningNode` for a node of the graph."""
        own = index == self.node.index
        pubkey = self.graph.pubkeys[index]
        return lightning_node(pubkey, self.graph.aliases[index], own, self.announced_s(index))

    def node_info(self, index: int, include_channels: bool, include_proof: bool) -> dict[str, Any]:
        """`lnrpcNodeInfo`: the node, its channel count and capacity, and its edges when asked."""
        edges = self.graph.edges_of(index).tolist()
        return {
            "node": self.lightning_node(index),
            "num_channels": len(edges),
            "total_capacity": str(int(self.graph.capacity_sat[edges].sum()) if edges else 0),
            "channels": [self.edge(edge, include_proof) for edge in edges] if include_channels else [],
        }

    def is_ready(self, include_proof: bool) -> bool:
        """Whether `document` can answer without the one-off render of every edge."""
        cached = self._documents.get(include_proof)
        return cached is not None and cached[0] == self.node.policy_version

    def document(self, include_proof: bool = False) -> bytes:
        """`lnrpcChannelGraph` as JSON bytes; slow the first time (run it in a worker thread then)."""
        version = self.node.policy_version
        cached = self._documents.get(include_proof)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            chunks = self._static_chunks(include_proof)
            for edge in self.node.edge_channels:
                chunks[edge] = orjson.dumps(self.edge(edge, include_proof))
            assert self._nodes is not None
            body = b'{"nodes":[' + self._nodes + b'],"edges":[' + b",".join(chunks) + b"]}"
            self._documents[include_proof] = (version, body)
            return body

    def _static_chunks(self, include_proof: bool) -> list[bytes]:
        """One JSON chunk per edge for every edge the node does not own (rendered once)."""
        if self._nodes is None:
            count = self.graph.node_count
            self._nodes = b",".join(orjson.dumps(self.lightning_node(index)) for index in range(count))
        chunks = self._chunks.get(include_proof)
        if chunks is None:
            chunks = self._render_all(include_proof)
            self._chunks[include_proof] = chunks
        return chunks

    def _render_all(self, include_proof: bool) -> list[bytes]:
        graph = self.graph
        # Python lists index much faster than numpy scalars in a 50,000-edge loop.
        rows1 = _policy_rows(graph.policy1, [self.gossip_s(cid, 1) for cid in graph.channel_ids])
        rows2 = _policy_rows(graph.policy2, [self.gossip_s(cid, 2) for cid in graph.channel_ids])
        node1, node2 = graph.node1.tolist(), graph.node2.tolist()
        capacity = graph.capacity_sat.tolist()
        pubkeys = graph.pubkeys
        chunks: list[bytes] = []
        for edge in range(graph.edge_count):
            # Unrolled, no comprehension: that would be one more function call per edge in 3.11.
            row1, row2 = rows1[edge], rows2[edge]
            first = routing_record(*row1) if row1 is not None else None
            second = routing_record(*row2) if row2 is not None else None
            channel_id = graph.channel_ids[edge]
            proof = auth_proof(channel_id) if include_proof else None
            ends = (pubkeys[node1[edge]], pubkeys[node2[edge]])
            # LND's edge-level last_update (deprecated) is the newer of its two policies' timestamps.
            updated = max(row1[-1] if row1 is not None else 0, row2[-1] if row2 is not None else 0)
            record = _channel_edge(
                channel_id, graph.chan_points[edge], updated, ends, capacity[edge], first, second, proof
            )
            chunks.append(orjson.dumps(record))
        return chunks


def _channel_edge(
    channel_id: str,
    chan_point: str,
    last_update: int,
    pubkeys: tuple[str, str],
    capacity_sat: int,
    first: dict[str, Any] | None,
    second: dict[str, Any] | None,
    proof: dict[str, Any] | None,
) -> dict[str, Any]:
    """`lnrpcChannelEdge` from its parts (positional: the whole-graph render builds one per edge)."""
    return {
        "channel_id": channel_id,
        "chan_point": chan_point,
        "last_update": last_update,
        "node1_pub": pubkeys[0],
        "node2_pub": pubkeys[1],
        "capacity": str(capacity_sat),
        "node1_policy": first,
        "node2_policy": second,
        "custom_records": {},
        "auth_proof": proof,
    }


def _policy_rows(columns: PolicyColumns, simulated: list[int]) -> list[tuple[Any, ...] | None]:
    """Each edge's policy as routing_record's arguments, or None where that side never announced one.

    The last argument is the policy's timestamp: the graph file's, or the simulated one when it has none.
    Whole tuples make `routing_record(*row)` cheap.
    """
    fields = [getattr(columns, name).tolist() for name in ROUTING_FIELDS]
    stamps = [
        known or fallback for known, fallback in zip(columns.last_update.tolist(), simulated, strict=True)
    ]
    rows = zip(*fields, stamps, strict=True)
    return [row if present else None for row, present in zip(rows, columns.present.tolist(), strict=True)]


def _column_policy(columns: PolicyColumns, edge: int, simulated_s: int) -> dict[str, Any] | None:
    policy = columns.policy(edge)
    if policy is None:
        return None
    return routing_policy(Policy.from_domain(policy), int(columns.last_update[edge]) or simulated_s)
