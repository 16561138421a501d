"""Activity: how much the channel is used, what it earns, and where the trend goes."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, blend, clamp, unknown


class ActivityHeuristic(Heuristic):
    """Turnover (35 %), fee revenue (25 %), forward count (20 %) and volume trend (20 %) over the window.

    Each part saturates at a configured target, so one huge forward cannot dominate and the value stays
    comparable across channel sizes (turnover and revenue are relative to capacity).
    """

    name = "activity"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Blend of saturating usage measures."""
        flow = context.flow(channel.chan_id)
        if flow is None:
            return unknown("the node backend gives no forwarding history")
        if channel.capacity_sat == 0:
            return unknown("channel has no capacity")
        params = context.profile.activity
        capacity_msat = channel.capacity_sat * 1000
        turnover = flow.total_volume_msat / capacity_msat
        revenue_ppm = flow.out_fee_msat * 1_000_000 / capacity_msat
        moved = flow.total_volume_msat
        earlier = moved - flow.later_volume_msat  # every forward in the window falls in one half or the other
        trend = (flow.later_volume_msat - earlier) / moved if moved else None
        value = blend(
            {
                "turnover": (clamp(turnover / params.turnover_target), 0.35),
                "revenue": (clamp(revenue_ppm / params.revenue_target_ppm), 0.25),
                "count": (clamp(flow.out_count / params.count_target), 0.20),
                "trend": (None if trend is None else (trend + 1.0) / 2.0, 0.20),
            }
        )
        facts = {
            "window_days": params.window_days,
            "forwards_out": flow.out_count,
            "forwards_in": flow.in_count,
            "volume_out_msat": flow.out_volume_msat,
            "volume_in_msat": flow.in_volume_msat,
            "fees_earned_msat": flow.out_fee_msat,
            "turnover": round(turnover, 4),
            "revenue_ppm_of_capacity": round(revenue_ppm, 2),
            "trend": None if trend is None else round(trend, 4),
            "forwards_out_recent": flow.recent_out_count,
        }
        if flow.out_count == 0 and flow.in_count == 0:
            reason = f"no forwards in either direction in {params.window_days} days"
        else:
            reason = (
                f"{flow.out_count} forwards out and {flow.in_count} in over {params.window_days} days, "
                f"turnover {turnover:.2f}x capacity"
            )
        return HeuristicResult(value=value, facts=facts, reason=reason)
