"""The interface every heuristic implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.domain.channel import Channel
from app.engine.context import ScoringContext


@dataclass(frozen=True, slots=True)
class HeuristicResult:
    """A value in [0, 1] (None when the input is missing), the facts that explain it, and how far to trust it.

    `confidence` below 1 scales the heuristic's weight down (e.g. activity from inferred flow).
    """

    value: float | None
    facts: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    confidence: float = 1.0

    def __post_init__(self) -> None:
        """Refuse values outside [0, 1]: a heuristic bug must not leak into the total."""
        if self.value is not None and not 0.0 <= self.value <= 1.0:
            raise ValueError(f"heuristic value {self.value} is outside [0, 1]")
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError(f"heuristic confidence {self.confidence} is outside (0, 1]")


def unknown(reason: str, **facts: Any) -> HeuristicResult:
    """A result for missing input: excluded from the total, shown as unknown."""
    return HeuristicResult(value=None, facts=facts, reason=reason)


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """Bound a value to [low, high]."""
    return max(low, min(high, value))


def blend(parts: dict[str, tuple[float | None, float]]) -> float | None:
    """Weighted mean of the known sub-scores ({name: (value or None, weight)}), or None when none is known."""
    known = [(value, weight) for value, weight in parts.values() if value is not None]
    total_weight = sum(weight for _, weight in known)
    if not known or total_weight == 0:
        return None
    return clamp(sum(value * weight for value, weight in known) / total_weight)


class Heuristic(ABC):
    """One way of judging a channel; small, pure, and isolated from the others."""

    name: ClassVar[str]

    @abstractmethod
    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        """Judge one channel of the node described by `context`."""
