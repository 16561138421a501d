"""SIMULATED state of one node of the channel graph, for the demo, tests and benchmarks.

Everything here is made up (deterministically from a seed) around the public facts of the graph: the
node's channels, capacities and announced policies are real when the graph is; balances, liveness,
short channel ids, forwards and policy history are simulated and labelled as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, PrivateAttr

from app.domain.base import DomainModel
from app.domain.channel import Channel
from app.domain.forwarding import ForwardingEvent, PolicyChange
from app.domain.node import NodeInfo
from app.domain.snapshot import NodeSnapshot
from app.errors import InvalidInputError, NotFoundError
from app.graph.model import ChannelGraph
from app.graph.synthetic import SNAPSHOT_NOW_S, block_height_at
from app.sandbox.channels import simulate_channels
from app.sandbox.forwards import simulate_forwards, simulate_policy_changes

__all__ = ["SIMULATED_LABEL", "SNAPSHOT_NOW_S", "SandboxState", "generate_sandbox_state"]

SIMULATED_LABEL = "SIMULATED sandbox state — not a real node"
SIMULATED_VERSION = "0.21.2-beta (sandbox simulation)"


class SandboxState(DomainModel):
    """A simulated node at one moment: info, channels, forwarding and policy history, clearly labelled."""

    label: str = SIMULATED_LABEL
    seed: int
    now_s: int = Field(ge=0)
    days: int = Field(ge=1)
    graph_source: str
    node: NodeInfo
    channels: list[Channel]
    graph_edges: list[int]  # graph edge index of channels[i]: sandbox chan_ids are not the graph's ids
    forwards: list[ForwardingEvent]
    policy_changes: list[PolicyChange]
    _positions: dict[str, int] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index the channels by chan_id once (private state is allowed on a frozen model)."""
        self._positions = {channel.chan_id: i for i, channel in enumerate(self.channels)}

    def snapshot(self) -> NodeSnapshot:
        """The state as one cycle's node snapshot (an LND-like node: every capability)."""
        return NodeSnapshot(
            node=self.node,
            channels=self.channels,
            now_s=self.now_s,
            forwards=self.forwards,
            policy_changes=self.policy_changes,
            optimizer_updates_last_24h=0,  # a fresh sandbox: the optimizer has written nothing yet
        )

    def channel(self, chan_id: str) -> Channel:
        """The channel with this short channel id; NotFoundError when the node has no such channel."""
        return self.channels[self._position(chan_id)]

    def graph_edge(self, chan_id: str) -> int:
        """The graph edge index that a sandbox channel stands for."""
        return self.graph_edges[self._position(chan_id)]

    def _position(self, chan_id: str) -> int:
        try:
            return self._positions[chan_id]
        except KeyError:
            raise NotFoundError(
                f"sandbox node has no channel {chan_id}", {"chan_id": chan_id, "pubkey": self.node.pubkey}
            ) from None


def generate_sandbox_state(
    graph: ChannelGraph, node: int, seed: int = 42, days: int = 30, now_s: int = SNAPSHOT_NOW_S
) -> SandboxState:
    """Simulate node `node` of `graph` over the `days` days ending at `now_s`; same inputs, same state."""
    if not 0 <= node < graph.node_count:
        raise InvalidInputError(f"node index {node} is not in the graph", {"node": node})
    if days < 1:
        raise InvalidInputError(f"days must be at least 1, got {days}", {"days": days})
    pubkey = graph.pubkeys[node]
    # Keyed by the pubkey rather than the index, and one stream per part, so changing one part of the
    # simulation does not reshuffle the others.
    streams = np.random.SeedSequence([seed, int(pubkey[2:18], 16)]).spawn(3)
    channel_rng, forward_rng, change_rng = (np.random.default_rng(stream) for stream in streams)
    sim = simulate_channels(graph, node, channel_rng, seed, now_s)
    active = sum(1 for channel in sim.channels if channel.active)
    info = NodeInfo(
        pubkey=pubkey,
        alias=graph.aliases[node],
        block_height=block_height_at(now_s),
        num_active_channels=active,
        num_inactive_channels=len(sim.channels) - active,
        num_peers=len({channel.remote_pubkey for channel in sim.channels if channel.active}),
        synced_to_chain=True,
        version=SIMULATED_VERSION,
        simulated=True,
    )
    return SandboxState(
        seed=seed,
        now_s=now_s,
        days=days,
        graph_source=graph.source,
        node=info,
        channels=sim.channels,
        graph_edges=sim.edges.tolist(),
        forwards=simulate_forwards(forward_rng, graph, sim, now_s, days),
        policy_changes=simulate_policy_changes(change_rng, sim, now_s, days),
    )
