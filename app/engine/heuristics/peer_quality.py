"""Peer quality: a well-funded, well-connected, central peer."""

from __future__ import annotations

import math

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, clamp, unknown

SAT_PER_BTC = 100_000_000


class PeerQualityHeuristic(Heuristic):
    """Mean of the peer's capacity (log, 0.1 to 100 BTC), channel count (log, 1 to 1,000) and betweenness rank."""

    name = "peer_quality"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Log scales because peer sizes span five orders of magnitude."""
        peer = context.peer_index(channel)
        if peer is None:
            return unknown("peer is not in the public graph")
        capacity_btc = float(context.graph.node_capacity_sat[peer]) / SAT_PER_BTC
        channels = int(context.graph.degrees[peer])
        capacity_part = clamp(math.log10(max(capacity_btc, 1e-9) / 0.1) / 3.0)
        channels_part = clamp(math.log10(max(channels, 1)) / 3.0)
        rank_part = context.centrality.percentile_list("betweenness")[peer]
        value = (capacity_part + channels_part + rank_part) / 3.0
        facts = {
            "peer_capacity_btc": round(capacity_btc, 4),
            "peer_channels": channels,
            "peer_betweenness_percentile": round(rank_part, 4),
        }
        reason = f"peer has {channels} channels and {capacity_btc:.2f} BTC"
        return HeuristicResult(value=value, facts=facts, reason=reason)
