"""Centrality: how central the peer is in the routing graph."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, unknown

# Betweenness says how many shortest paths cross the peer (routing demand); harmonic closeness says how
# near it is to everyone (cheap reach); PageRank breaks ties among the long tail of peers whose sampled
# betweenness is zero.
PARTS = (("betweenness", 0.5), ("harmonic", 0.3), ("pagerank", 0.2))


class CentralityHeuristic(Heuristic):
    """Percentile of the peer's betweenness, harmonic closeness and PageRank among all nodes.

    Our own node's percentile is reported as a fact but not scored: it is the same for every channel,
    so it cannot tell one channel from another.
    """

    name = "centrality"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Weighted percentile rank of the peer."""
        peer = context.peer_index(channel)
        if peer is None:
            return unknown("peer is not in the public graph")
        facts: dict[str, object] = {}
        value = 0.0
        for metric, weight in PARTS:
            percentile = context.centrality.percentile_list(metric)[peer]
            facts[f"peer_{metric}_percentile"] = round(percentile, 4)
            value += weight * percentile
        facts["peer_betweenness"] = float(context.centrality.betweenness[peer])
        if context.node_index is not None:
            facts["our_betweenness_percentile"] = round(
                context.centrality.percentile_list("betweenness")[context.node_index], 4
            )
        reason = (
            f"peer is more central than {facts['peer_betweenness_percentile']:.0%} of nodes by betweenness"
        )
        return HeuristicResult(value=value, facts=facts, reason=reason)
