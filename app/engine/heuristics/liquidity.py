"""Liquidity: is the balance where it can earn in both directions."""

from __future__ import annotations

from app.domain.channel import Channel
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, clamp, unknown

BAND_WEIGHT = 0.6
USABLE_WEIGHT = 0.4


def band_score(ratio: float, low: float, high: float) -> float:
    """1 inside the target band, falling linearly to 0 at an empty or full channel."""
    if ratio < low:
        return clamp(ratio / low)
    if ratio > high:
        return clamp((1.0 - ratio) / (1.0 - high))
    return 1.0


class LiquidityHeuristic(Heuristic):
    """Local ratio against the target band (60 %) and liquidity usable both ways above reserves (40 %)."""

    name = "liquidity"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Band score blended with two-way usable liquidity."""
        if channel.capacity_sat == 0:
            return unknown("channel has no capacity")
        low, high = context.profile.liquidity.target_band
        ratio = channel.local_ratio
        in_band = band_score(ratio, low, high)
        # Half the capacity on each side is the most a channel can offer in both directions at once.
        usable = clamp(min(channel.usable_local_sat, channel.usable_remote_sat) / (channel.capacity_sat / 2))
        value = BAND_WEIGHT * in_band + USABLE_WEIGHT * usable
        facts = {
            "local_ratio": round(ratio, 4),
            "target_band": [low, high],
            "band_score": round(in_band, 4),
            "usable_local_sat": channel.usable_local_sat,
            "usable_remote_sat": channel.usable_remote_sat,
            "two_way_usable": round(usable, 4),
            "capacity_sat": channel.capacity_sat,
        }
        if ratio < low:
            reason = f"outbound is low: local ratio {ratio:.2f} below the band {low:.2f}-{high:.2f}"
        elif ratio > high:
            reason = f"outbound is high: local ratio {ratio:.2f} above the band {low:.2f}-{high:.2f}"
        else:
            reason = f"local ratio {ratio:.2f} is inside the band {low:.2f}-{high:.2f}"
        return HeuristicResult(value=value, facts=facts, reason=reason)
