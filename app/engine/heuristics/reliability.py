"""Reliability: is the channel up, and does the peer keep its channels enabled."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, blend


class ReliabilityHeuristic(Heuristic):
    """Uptime over lifetime (50 %), the peer's enabled share in the graph (30 %) and the active flag (20 %)."""

    name = "reliability"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Blend of liveness signals; parts the node does not report are left out."""
        uptime = channel.uptime_s / channel.lifetime_s if channel.lifetime_s > 0 else None
        peer = context.peer_index(channel)
        peer_enabled = None if peer is None else 1.0 - context.graph.disabled_share(peer)
        active = 1.0 if channel.active else 0.0
        value = blend({"uptime": (uptime, 0.5), "peer_enabled": (peer_enabled, 0.3), "active": (active, 0.2)})
        facts = {
            "active": channel.active,
            "uptime_ratio": None if uptime is None else round(min(uptime, 1.0), 4),
            "peer_enabled_share": None if peer_enabled is None else round(peer_enabled, 4),
        }
        if not channel.active:
            reason = "channel is inactive (peer offline or channel disabled)"
        elif uptime is not None:
            reason = f"up {min(uptime, 1.0):.0%} of its monitored lifetime"
        else:
            reason = "active; the node reports no uptime for it"
        return HeuristicResult(value=value, facts=facts, reason=reason)
