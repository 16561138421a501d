"""Run every heuristic on a channel and combine them into a weighted total with failures isolated."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.domain.channel import Channel
from app.domain.scoring import HeuristicScore, ScoreBreakdown, ScoreStatus
from app.engine.context import ScoringContext
from app.engine.heuristics.base import Heuristic, HeuristicResult
from app.observability.metrics import HEURISTIC_FAILURES, HEURISTIC_UNKNOWN

log = logging.getLogger(__name__)


def score_channel(
    channel: Channel, context: ScoringContext, heuristics: Sequence[Heuristic]
) -> ScoreBreakdown:
    """Weighted total over the heuristics that produced a value; unknown or failed ones are renormalised away."""
    weights = context.profile.weights
    results: list[tuple[Heuristic, HeuristicResult | None, str]] = []
    for heuristic in heuristics:
        try:
            results.append((heuristic, heuristic.score(channel, context), ""))
        except Exception as exc:  # a broken heuristic must never stop the cycle
            HEURISTIC_FAILURES.labels(heuristic=heuristic.name).inc()
            log.exception("heuristic %s failed on channel %s", heuristic.name, channel.chan_id)
            results.append((heuristic, None, f"{type(exc).__name__}: {exc}"))
    known_weight = sum(
        weights[h.name] for h, result, _ in results if result is not None and result.value is not None
    )
    scores: list[HeuristicScore] = []
    total = 0.0
    for heuristic, result, error in results:
        weight = weights[heuristic.name]
        if result is None:
            scores.append(
                HeuristicScore(
                    name=heuristic.name,
                    status=ScoreStatus.ERROR,
                    weight=weight,
                    effective_weight=0.0,
                    reason=f"heuristic failed and was excluded ({error})",
                )
            )
            continue
        if result.value is None:
            HEURISTIC_UNKNOWN.labels(heuristic=heuristic.name).inc()
            scores.append(
                HeuristicScore(
                    name=heuristic.name,
                    status=ScoreStatus.UNKNOWN,
                    weight=weight,
                    effective_weight=0.0,
                    facts=result.facts,
                    reason=result.reason,
                )
            )
            continue
        effective = weight / known_weight if known_weight else 0.0
        total += effective * result.value
        scores.append(
            HeuristicScore(
                name=heuristic.name,
                status=ScoreStatus.OK,
                value=round(result.value, 6),
                weight=weight,
                effective_weight=round(effective, 6),
                facts=result.facts,
                reason=result.reason,
            )
        )
    return ScoreBreakdown(
        chan_id=channel.chan_id,
        total=round(min(max(total, 0.0), 1.0), 6),
        known_weight=round(min(known_weight, 1.0), 6),
        scores=scores,
    )
