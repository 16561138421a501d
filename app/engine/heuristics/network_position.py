"""Network position: how much our reach depends on this channel."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, unknown


class NetworkPositionHeuristic(Heuristic):
    """Few alternative 2-hop routes to the peer (50 %) and many nodes reached only through it (50 %)."""

    name = "network_position"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Redundancy of the peer within 2 hops and the new reach it brings."""
        peer = context.peer_index(channel)
        if peer is None:
            return unknown("peer is not in the public graph")
        reach = context.reach_of(peer)
        alternatives = reach.alternatives  # our other peers that also reach the peer directly
        new_reach = reach.new_reach
        unique_share = new_reach / reach.neighbors if reach.neighbors else 0.0
        value = 0.5 / (1 + alternatives) + 0.5 * unique_share
        facts = {
            "alternative_two_hop_routes": alternatives,
            "nodes_reached_only_via_peer": new_reach,
            "unique_reach_share": round(unique_share, 4),
        }
        if alternatives == 0:
            reason = "the only way to the peer within 2 hops"
        else:
            reason = f"{alternatives} other peers of ours also reach the peer"
        return HeuristicResult(value=value, facts=facts, reason=reason)
