"""Activity: how much the channel is used, what it earns, and where the trend goes."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.flow import FlowStats, InferredEvidence
from app.engine.heuristics.base import Heuristic, HeuristicResult, blend, clamp, unknown
from app.engine.profile import ActivityParams


class ActivityHeuristic(Heuristic):
    """Turnover (35 %), fee revenue (25 %), forward count (20 %) and volume trend (20 %) over the window.

    Each part saturates at a configured target, so one huge forward cannot dominate and the value stays
    comparable across channel sizes (turnover and revenue are relative to capacity). Flow inferred from
    balance changes (no forwarding history) counts with the profile's lower confidence, see `_inferred`.
    """

    name = "activity"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Blend of saturating usage measures."""
        flow = context.flow(channel.chan_id)
        if flow is None:
            return unknown(context.flow_unknown_reason)
        if channel.capacity_sat == 0:
            return unknown("channel has no capacity")
        if flow.inferred is not None:
            return self._inferred(channel, flow, flow.inferred, context)
        params = context.profile.activity
        capacity_msat = channel.capacity_sat * 1000
        turnover = flow.total_volume_msat / capacity_msat
        revenue_ppm = flow.out_fee_msat * 1_000_000 / capacity_msat
        trend = _trend(flow)
        value = _usage(params, turnover, revenue_ppm, flow.out_count, trend)
        facts = {
            "flow_source": "forwarding_history",
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

    def _inferred(
        self, channel: Channel, flow: FlowStats, evidence: InferredEvidence, context: ScoringContext
    ) -> HeuristicResult:
        """Activity from net balance moves between syncs: turnover, count of moves, trend, estimated revenue.

        Only net flow is known (forwards both ways inside one interval cancel out), so turnover is a lower
        bound; a move may be the node's own payment or a rebalance rather than a forward. Revenue per channel
        is unknown; when the backend reports the node's 30-day fee sum, it is shared out by net outflow and
        labelled an estimate.
        """
        params = context.profile.activity
        capacity_msat = channel.capacity_sat * 1000
        turnover = flow.total_volume_msat / capacity_msat
        trend = _trend(flow) if flow.covers(params.window_days) else None  # an unseen half says nothing
        revenue_ppm = None
        if context.node_fees_month_msat is not None and context.inferred_out_volume_msat:
            share = flow.out_volume_msat / context.inferred_out_volume_msat
            revenue_ppm = context.node_fees_month_msat * share * 1_000_000 / capacity_msat
        value = _usage(params, turnover, revenue_ppm, flow.out_count, trend)
        facts = {
            "flow_source": "inferred_from_balance_changes",
            "window_days": params.window_days,
            "syncs_compared": evidence.samples,
            "observed_days": evidence.observed_days,
            "balance_falls": flow.out_count,
            "balance_rises": flow.in_count,
            "net_out_msat": flow.out_volume_msat,
            "net_in_msat": flow.in_volume_msat,
            "fees_earned_msat": None,  # unknown per channel
            "estimated_revenue_ppm_of_capacity": None if revenue_ppm is None else round(revenue_ppm, 2),
            "turnover_lower_bound": round(turnover, 4),
            "trend": None if trend is None else round(trend, 4),
            "balance_falls_recent": flow.recent_out_count,
        }
        reason = (
            f"inferred from balance changes over {evidence.samples} syncs in {evidence.observed_days:.1f} days "
            f"(net flow only, no fees per channel): local balance fell {flow.out_count} times "
            f"(-{flow.out_volume_msat // 1000:,} sat) and rose {flow.in_count} times "
            f"(+{flow.in_volume_msat // 1000:,} sat)"
        )
        return HeuristicResult(value=value, facts=facts, reason=reason, confidence=params.inferred_confidence)


def _usage(
    params: ActivityParams, turnover: float, revenue_ppm: float | None, out_count: int, trend: float | None
) -> float | None:
    """The weighted blend of the saturating parts; an unknown part is left out."""
    return blend(
        {
            "turnover": (clamp(turnover / params.turnover_target), 0.35),
            "revenue": (
                None if revenue_ppm is None else clamp(revenue_ppm / params.revenue_target_ppm),
                0.25,
            ),
            "count": (clamp(out_count / params.count_target), 0.20),
            "trend": (None if trend is None else (trend + 1.0) / 2.0, 0.20),
        }
    )


def _trend(flow: FlowStats) -> float | None:
    """Later half against earlier half of the window, in [-1, 1] (None when nothing moved)."""
    moved = flow.total_volume_msat
    earlier = moved - flow.later_volume_msat  # every move in the window falls in one half or the other
    return (flow.later_volume_msat - earlier) / moved if moved else None
