"""Heuristic results and the weighted score breakdown of one channel."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from app.domain.base import ChannelId, DomainModel


class ScoreStatus(StrEnum):
    """Whether a heuristic produced a value."""

    OK = "ok"
    UNKNOWN = "unknown"  # input missing (e.g. no forwarding history): excluded, never guessed
    ERROR = "error"  # the heuristic raised: isolated and excluded


class HeuristicScore(DomainModel):
    """One heuristic's verdict on one channel."""

    name: str
    status: ScoreStatus
    value: float | None = Field(default=None, ge=0.0, le=1.0)
    weight: float = Field(ge=0.0, le=1.0, description="configured weight")
    effective_weight: float = Field(
        ge=0.0, le=1.0, description="weight after renormalising over known scores"
    )
    facts: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    confidence: float = Field(
        default=1.0, gt=0.0, le=1.0, description="how far the value is trusted (below 1: inferred input)"
    )


class ScoreBreakdown(DomainModel):
    """Weighted total over the heuristics that produced a value."""

    chan_id: ChannelId
    total: float = Field(ge=0.0, le=1.0)
    known_weight: float = Field(ge=0.0, le=1.0, description="share of configured weight that was known")
    scores: list[HeuristicScore]

    def get(self, name: str) -> HeuristicScore | None:
        """The score of the named heuristic, if it is part of the breakdown."""
        return next((score for score in self.scores if score.name == name), None)

    def values(self) -> dict[str, float | None]:
        """Heuristic name to value (None when unknown or failed)."""
        return {score.name: score.value for score in self.scores}
