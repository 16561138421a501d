"""Age and stability: old channels with a calm policy history are trusted more."""

from __future__ import annotations

from app.domain.channel import Channel, channel_age_days
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, blend, clamp, unknown


class AgeStabilityHeuristic(Heuristic):
    """Channel age up to maturity (60 %) and few policy changes in the window (40 %)."""

    name = "age_stability"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Age from the short channel id's funding block; stability from the policy change count."""
        params = context.profile.age_stability
        age_days = channel_age_days(channel.chan_id, context.block_height)
        changes = context.changes_in_window(channel.chan_id)
        age_part = None if age_days is None else clamp(age_days / params.mature_days)
        stability_part = None if changes is None else clamp(1.0 - changes / params.max_changes)
        value = blend({"age": (age_part, 0.6), "stability": (stability_part, 0.4)})
        facts = {
            "age_days": None if age_days is None else round(age_days, 1),
            "mature_days": params.mature_days,
            "policy_changes_in_window": changes,
        }
        if value is None:
            return unknown("neither the block height nor the policy history is known", **facts)
        parts = []
        if age_days is not None:
            parts.append(f"{age_days:.0f} days old")
        if changes is not None:
            parts.append(f"{changes} policy changes in {context.profile.activity.window_days} days")
        return HeuristicResult(value=value, facts=facts, reason=", ".join(parts))
