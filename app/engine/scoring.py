"""Run every heuristic on a channel and combine them into a weighted total with failures isolated."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.domain.channel import Channel
from app.domain.scoring import HeuristicScore, ScoreBreakdown, ScoreStatus
from app.domain.trusted import trusted
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult, clamp
from app.observability.metrics import HEURISTIC_FAILURES, HEURISTIC_UNKNOWN

log = logging.getLogger(__name__)


def run_heuristic(
    heuristic: Heuristic, channel: Channel, context: ScoringContext
) -> tuple[ScoreStatus, HeuristicResult]:
    """One heuristic's result; an exception becomes an ERROR result (logged and counted), never a crash."""
    try:
        result = heuristic.score(channel, context)
    except Exception as exc:  # a broken heuristic must never stop the cycle
        HEURISTIC_FAILURES.labels(heuristic=heuristic.name).inc()
        log.exception("heuristic %s failed on channel %s", heuristic.name, channel.chan_id)
        reason = f"heuristic failed and was excluded ({type(exc).__name__}: {exc})"
        return ScoreStatus.ERROR, HeuristicResult(value=None, reason=reason)
    if result.value is None:
        HEURISTIC_UNKNOWN.labels(heuristic=heuristic.name).inc()
        return ScoreStatus.UNKNOWN, result
    return ScoreStatus.OK, result


def score_channel(
    channel: Channel, context: ScoringContext, heuristics: Sequence[Heuristic]
) -> ScoreBreakdown:
    """Weighted total over the heuristics that produced a value; unknown or failed ones are renormalised away.

    A result with confidence below 1 counts with its weight scaled down, in the total and in the known weight.
    Every value is in range by construction (HeuristicResult checks its own), so the models are built trusted.
    """
    weights = context.profile.weights
    outcomes: list[tuple[str, ScoreStatus, HeuristicResult]] = []
    counted: dict[str, float] = {}
    for heuristic in heuristics:
        name = heuristic.name
        status, result = run_heuristic(heuristic, channel, context)
        outcomes.append((name, status, result))
        if status is ScoreStatus.OK:
            counted[name] = weights[name] * result.confidence
    known_weight = sum(counted.values())
    scores: list[HeuristicScore] = []
    total = 0.0
    for name, status, result in outcomes:
        effective = counted[name] / known_weight if name in counted and known_weight else 0.0
        value = result.value
        total += effective * (value or 0.0)
        scores.append(
            trusted(
                HeuristicScore,
                name=name,
                status=status,
                value=None if value is None else round(value, 6),
                weight=weights[name],
                effective_weight=round(effective, 6),
                facts=result.facts,
                reason=result.reason,
                confidence=result.confidence,
            )
        )
    return trusted(
        ScoreBreakdown,
        chan_id=channel.chan_id,
        total=round(clamp(total), 6),
        known_weight=round(min(known_weight, 1.0), 6),
        scores=scores,
    )
