"""Weighted totals: unknown heuristics are renormalised away, failing ones are isolated and counted."""

from __future__ import annotations

from typing import ClassVar

import pytest
from prometheus_client import REGISTRY

from app.domain.channel import Channel
from app.domain.scoring import ScoreStatus
from app.engine.context import ScoringContext
from app.engine.heuristics import default_heuristics
from app.engine.heuristics.base import Heuristic, HeuristicResult
from app.engine.scoring import score_channel
from tests.engine.heuristics.conftest import HAND_GRAPH_EDGES
from tests.factories import make_channel, make_context, make_graph


class Exploding(Heuristic):
    """Stands in for a buggy heuristic."""

    name: ClassVar[str] = "activity"

    def score(self, channel: Channel, context: ScoringContext) -> HeuristicResult:
        raise ZeroDivisionError("boom")


@pytest.fixture(scope="module")
def graph():
    return make_graph(HAND_GRAPH_EDGES)


def test_total_is_weighted_mean_of_known_scores(graph):
    channel = make_channel("p")
    context = make_context(graph, "us", [channel], flows=None)
    breakdown = score_channel(channel, context, default_heuristics())
    known = [s for s in breakdown.scores if s.status is ScoreStatus.OK]
    # activity (0.20) needs forwarding history and age_stability (0.05) block height or policy history
    unknown = {s.name for s in breakdown.scores if s.status is ScoreStatus.UNKNOWN}
    assert unknown == {"activity", "age_stability"}
    assert breakdown.known_weight == pytest.approx(0.75)
    expected = sum(s.weight * (s.value or 0.0) for s in known) / 0.75
    assert breakdown.total == pytest.approx(expected, abs=1e-6)
    assert sum(s.effective_weight for s in known) == pytest.approx(1.0, abs=1e-5)
    activity = breakdown.get("activity")
    assert activity is not None
    assert activity.value is None


def test_failing_heuristic_is_isolated_logged_and_counted(graph, caplog):
    channel = make_channel("p")
    context = make_context(graph, "us", [channel], flows={})
    heuristics = [h for h in default_heuristics() if h.name != "activity"] + [Exploding()]
    before = REGISTRY.get_sample_value("mcp_heuristic_failures_total", {"heuristic": "activity"}) or 0.0
    breakdown = score_channel(channel, context, heuristics)
    after = REGISTRY.get_sample_value("mcp_heuristic_failures_total", {"heuristic": "activity"})
    failed = breakdown.get("activity")
    assert failed is not None
    assert failed.status is ScoreStatus.ERROR
    assert "ZeroDivisionError" in failed.reason
    assert after == before + 1
    assert "heuristic activity failed" in caplog.text
    assert 0 < breakdown.total <= 1


def test_heuristic_result_refuses_values_outside_unit_interval():
    with pytest.raises(ValueError, match="outside"):
        HeuristicResult(value=1.5)
