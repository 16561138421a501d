"""Everything a heuristic may look at besides the channel itself, computed once per node and cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from app.domain.channel import Channel
from app.engine.flow import DAY_S, NO_HISTORY, FlowStats, InferredEvidence
from app.engine.peers import PeerReach, markets_into, reach_of
from app.engine.profile import Profile
from app.graph.centrality import CentralityScores
from app.graph.model import ChannelGraph


@dataclass(frozen=True)
class ScoringContext:
    """Read-only inputs shared by all heuristics for one node; `None` marks data the backend cannot give."""

    graph: ChannelGraph
    centrality: CentralityScores
    node_pubkey: str
    now_s: int
    channels: Sequence[Channel]
    profile: Profile
    flows: Mapping[str, FlowStats] | None = None  # None: no flow known (no history, too few syncs to infer)
    # Set when `flows` is inferred from balance changes (channels without a move get empty inferred stats).
    flow_evidence: InferredEvidence | None = None
    flow_unknown_reason: str = NO_HISTORY
    # The node's fees over the last 30 days when its backend reports only the sum (LNbits), else None.
    node_fees_month_msat: int | None = None
    policy_changes: Mapping[str, Sequence[int]] | None = None  # chan_id -> change times; None: unknown
    block_height: int | None = None

    @cached_property
    def node_index(self) -> int | None:
        """Our node's index in the graph (None for a node the graph does not know)."""
        return self.graph.index.get(self.node_pubkey)

    @cached_property
    def our_neighbors(self) -> frozenset[int]:
        """Graph indices of our direct peers, from our channels and the public graph."""
        peers = set(self.channel_peers)
        if self.node_index is not None:
            peers.update(int(peer) for peer in self.graph.neighbors(self.node_index))
        return frozenset(peers)

    @cached_property
    def channel_peers(self) -> frozenset[int]:
        """Graph indices of the peers of our channels that the public graph knows."""
        index = self.graph.index
        return frozenset(index[c.remote_pubkey] for c in self.channels if c.remote_pubkey in index)

    @cached_property
    def _markets(self) -> dict[int, list[int]]:
        return markets_into(self.graph, self.channel_peers, exclude=self.node_index)

    def market_into(self, peer: int) -> list[int]:
        """Enabled fee rates other nodes charge to forward into `peer` (never ours), ascending."""
        market = self._markets.get(peer)
        return market if market is not None else markets_into(self.graph, [peer], self.node_index)[peer]

    @cached_property
    def _reach(self) -> dict[int, PeerReach]:
        return reach_of(self.graph, self.channel_peers, self.our_neighbors, exclude=self.node_index)

    def reach_of(self, peer: int) -> PeerReach:
        """How the peer's own peers overlap with ours."""
        reach = self._reach.get(peer)
        return (
            reach
            if reach is not None
            else reach_of(self.graph, [peer], self.our_neighbors, self.node_index)[peer]
        )

    @cached_property
    def own_fee_rates_ascending(self) -> list[int]:
        """Our outbound fee rates over our enabled channels, ascending."""
        return sorted(self.own_fee_rates.tolist())

    @cached_property
    def own_fee_rates(self) -> npt.NDArray[np.int64]:
        """Our outbound fee rates over our enabled channels."""
        rates = [c.local_policy.fee_rate_ppm for c in self.channels if not c.local_policy.disabled]
        return np.asarray(rates, dtype=np.int64)

    @cached_property
    def own_fee_median(self) -> float | None:
        """Median of our enabled outbound fee rates (None without any)."""
        return float(np.median(self.own_fee_rates)) if len(self.own_fee_rates) else None

    def peer_index(self, channel: Channel) -> int | None:
        """The peer's index in the graph, or None for a peer the public graph does not know."""
        return self.graph.index.get(channel.remote_pubkey)

    def flow(self, chan_id: str) -> FlowStats | None:
        """Flow totals of a channel: zeros when nothing flowed, None when history is unavailable."""
        if self.flows is None:
            return None
        return self.flows.get(chan_id) or FlowStats(inferred=self.flow_evidence)

    @cached_property
    def inferred_out_volume_msat(self) -> int:
        """Net outflow over every channel (inferred flow), to share the node's fee sum out by."""
        if self.flows is None or self.flow_evidence is None:
            return 0
        return sum(flow.out_volume_msat for flow in self.flows.values())

    @cached_property
    def earned_fee_ppm(self) -> float | None:
        """What the node's forwards earned per unit forwarded over the window, in ppm (None: unknown or none).

        From forwarding history, or for inferred flow the node's 30-day fee sum over the inferred outflow.
        """
        if self.flows is None:
            return None
        if self.flow_evidence is None:
            volume = sum(flow.out_volume_msat for flow in self.flows.values())
            fees = sum(flow.out_fee_msat for flow in self.flows.values())
        else:
            volume, fees = self.inferred_out_volume_msat, self.node_fees_month_msat or 0
        return fees * 1e6 / volume if volume > 0 and fees > 0 else None

    def changes_in_window(self, chan_id: str) -> int | None:
        """Policy updates of a channel inside the activity window, or None when history is unknown."""
        if self.policy_changes is None:
            return None
        start = self.now_s - self.profile.activity.window_days * DAY_S
        return sum(1 for moment in self.policy_changes.get(chan_id, ()) if start <= moment <= self.now_s)
