"""What the decision rules look at for one channel, gathered once per cycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.channel import Channel
from app.domain.policy import ChannelPolicy
from app.domain.scoring import HeuristicScore, ScoreBreakdown
from app.engine.flow import NO_HISTORY, FlowStats


@dataclass(frozen=True)
class ChannelFacts:
    """What the rules look at for one channel, gathered once."""

    channel: Channel
    breakdown: ScoreBreakdown
    flow: FlowStats | None  # None: no flow known (no forwarding history and too little balance history)
    age_days: float | None
    flow_unknown_reason: str = NO_HISTORY
    # Days since the channel's policy last changed (our history or the node's gossip stamp); None: unknown.
    fee_age_days: float | None = None
    # Derived once here: the rules read them several times per channel.
    ratio: float = field(init=False)  # local balance ratio
    _scores: dict[str, HeuristicScore] = field(init=False, repr=False)  # first score of each heuristic name

    def __post_init__(self) -> None:
        """Derive the ratio and the scores by name (the first of each name, as ScoreBreakdown.get finds it)."""
        scores: dict[str, HeuristicScore] = {}
        for score in self.breakdown.scores:
            scores.setdefault(score.name, score)
        object.__setattr__(self, "ratio", self.channel.local_ratio)  # frozen: set once, here
        object.__setattr__(self, "_scores", scores)

    @property
    def policy(self) -> ChannelPolicy:
        """Our current policy."""
        return self.channel.local_policy

    def reason_of(self, heuristic: str) -> str | None:
        """The named heuristic's reason, when it produced a value."""
        score = self._scores.get(heuristic)
        return score.reason if score and score.value is not None else None

    def value_of(self, heuristic: str) -> float | None:
        """The named heuristic's value, or None."""
        score = self._scores.get(heuristic)
        return score.value if score else None

    def market_median_ppm(self) -> float | None:
        """Median enabled fee other nodes charge into the peer, when enough compete (competitiveness facts)."""
        score = self._scores.get("competitiveness")
        median = score.facts.get("market_median_ppm") if score else None
        return float(median) if median is not None else None
