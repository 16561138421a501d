"""The eight heuristics, one module each, behind the `Heuristic` interface."""

from __future__ import annotations

from app.engine.heuristics.activity import ActivityHeuristic
from app.engine.heuristics.age_stability import AgeStabilityHeuristic
from app.engine.heuristics.base import Heuristic, HeuristicResult
from app.engine.heuristics.centrality import CentralityHeuristic
from app.engine.heuristics.competitiveness import CompetitivenessHeuristic
from app.engine.heuristics.liquidity import LiquidityHeuristic
from app.engine.heuristics.network_position import NetworkPositionHeuristic
from app.engine.heuristics.peer_quality import PeerQualityHeuristic
from app.engine.heuristics.reliability import ReliabilityHeuristic

HEURISTIC_CLASSES: tuple[type[Heuristic], ...] = (
    CentralityHeuristic,
    LiquidityHeuristic,
    ActivityHeuristic,
    CompetitivenessHeuristic,
    ReliabilityHeuristic,
    AgeStabilityHeuristic,
    PeerQualityHeuristic,
    NetworkPositionHeuristic,
)


def default_heuristics() -> list[Heuristic]:
    """A fresh instance of every heuristic, in display order."""
    return [cls() for cls in HEURISTIC_CLASSES]


__all__ = ["HEURISTIC_CLASSES", "Heuristic", "HeuristicResult", "default_heuristics"]
