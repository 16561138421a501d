"""The focal node: its channels, what it forwarded and failed, its policy history, and the view strategies get."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from app.domain.policy import ChannelPolicy
from app.graph.model import ChannelGraph
from app.simulation.network import SimNetwork


@dataclass(frozen=True)
class ForwardRecord:
    """One forward through the focal node (channel indices are positions in FocalNode.channels)."""

    time_s: float
    in_channel: int
    out_channel: int
    amt_in_msat: int
    amt_out_msat: int
    fee_msat: int


@dataclass(frozen=True)
class FailedForward:
    """A payment the focal node could not forward for lack of outbound balance (LNDg's failed HTLCs)."""

    time_s: float
    out_channel: int
    amount_msat: int
    available_msat: int


@dataclass(frozen=True)
class PolicyUpdate:
    """A policy the focal node announced for one of its channels."""

    time_s: float
    channel: int
    policy: ChannelPolicy


@dataclass(frozen=True)
class FocalChannel:
    """One channel of the focal node: graph edge, its outbound half, and a stable id for the engine."""

    index: int
    edge: int
    out_half: int
    peer: int
    chan_id: str
    channel_point: str
    capacity_sat: int


@dataclass
class FocalNode:
    """The node whose fees a strategy sets, and everything that happened to it during a run."""

    node: int
    pubkey: str
    alias: str
    channels: list[FocalChannel]
    forwards: list[ForwardRecord] = field(default_factory=list)
    failures: list[FailedForward] = field(default_factory=list)
    updates: list[PolicyUpdate] = field(default_factory=list)
    revenue_msat: int = 0
    volume_msat: int = 0
    counted_from: int = 0  # forwards and failures before these indices happened in the warm-up
    failures_counted_from: int = 0
    _by_half: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Index channels by both of their halves."""
        for channel in self.channels:
            self._by_half[channel.out_half] = channel.index
            self._by_half[channel.out_half ^ 1] = channel.index

    def start_counting(self) -> None:
        """The strategy takes over: revenue, volume and the counted forwards and failures start from here."""
        self.counted_from, self.failures_counted_from = len(self.forwards), len(self.failures)
        self.revenue_msat = self.volume_msat = 0

    @property
    def counted_forwards(self) -> list[ForwardRecord]:
        """Forwards since the strategy took over."""
        return self.forwards[self.counted_from :]

    @property
    def counted_failures(self) -> int:
        """Failed forwards since the strategy took over."""
        return len(self.failures) - self.failures_counted_from

    def forwarded(
        self, now_s: float, in_half: int, out_half: int, amt_in: int, amt_out: int, fee: int
    ) -> None:
        """Record a forward (called by the payment sender)."""
        self.forwards.append(
            ForwardRecord(now_s, self._by_half[in_half], self._by_half[out_half], amt_in, amt_out, fee)
        )
        self.revenue_msat += fee
        self.volume_msat += amt_out

    def failed(self, now_s: float, out_half: int, amount_msat: int, available_msat: int) -> None:
        """Record a forward that failed for lack of balance (called by the payment sender)."""
        self.failures.append(FailedForward(now_s, self._by_half[out_half], amount_msat, available_msat))

    def local_msat(self, network: SimNetwork, channel: FocalChannel) -> int:
        """Our side of a channel."""
        return network.local_msat[channel.out_half]

    def policy(self, network: SimNetwork, channel: FocalChannel) -> ChannelPolicy:
        """Our current policy on a channel."""
        return network.policy(channel.out_half)


def focal_node(graph: ChannelGraph, node: int) -> FocalNode:
    """The focal node's channels from the graph (ids stable across runs, so runs compare channel by channel)."""
    channels = []
    for index, edge in enumerate(graph.edges_of(node).tolist()):
        first = int(graph.node1[edge]) == node
        peer = int(graph.node2[edge] if first else graph.node1[edge])
        point = graph.chan_points[edge] or f"{hashlib.sha256(f'sim:{edge}'.encode()).hexdigest()}:0"
        channels.append(
            FocalChannel(
                index=index,
                edge=edge,
                out_half=2 * edge + (0 if first else 1),
                peer=peer,
                chan_id=graph.channel_ids[edge],
                channel_point=point,
                capacity_sat=int(graph.capacity_sat[edge]),
            )
        )
    return FocalNode(node=node, pubkey=graph.pubkeys[node], alias=graph.aliases[node], channels=channels)
