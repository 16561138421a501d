"""Everything a cycle builds without validation (app/domain/trusted.py) passes validation unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import BaseModel

from app.domain.policy import ChannelPolicy
from app.domain.trusted import trusted
from app.domain.validation import IssueCode, ValidationIssue
from app.engine.cycle import run_cycle
from app.engine.profile import load_profiles
from app.graph.centrality import compute_centrality
from app.graph.synthetic import generate_graph
from app.sandbox.state import generate_sandbox_state
from app.settings import DEFAULT_THRESHOLDS_FILE
from tests.engine.cycle_scenarios import LNBITS, daily_balance_history


def revalidated(model: BaseModel) -> BaseModel:
    computed = set(type(model).model_computed_fields)
    return type(model).model_validate(model.model_dump(exclude=computed))


@pytest.fixture(scope="module")
def reports():
    graph = generate_graph(seed=11, node_count=3_000, channel_count=9_000)
    centrality = compute_centrality(graph, betweenness_samples=64, closeness_samples=32)
    hub = max(range(graph.node_count), key=graph.degree)
    snapshot = generate_sandbox_state(graph, hub, seed=3).snapshot()
    lnbits = replace(
        snapshot, capabilities=LNBITS, forwards=None, balance_history=daily_balance_history(snapshot)
    )
    return [
        run_cycle(variant, graph, centrality, load_profiles(DEFAULT_THRESHOLDS_FILE).get(name))
        for variant in (snapshot, lnbits)
        for name in ("conservative", "balanced", "aggressive")
    ]


def test_every_model_of_a_cycle_survives_validation(reports):
    checked = 0
    for report in reports:
        for evaluation in report.evaluations:
            decision, result = evaluation.decision, evaluation.validation
            models: list[BaseModel] = [
                decision,
                decision.breakdown,
                *decision.breakdown.scores,
                result,
                *result.issues,
            ]
            for model in models:
                assert revalidated(model) == model
                checked += 1
    assert checked > 10_000


def test_a_trusted_model_equals_the_validated_one_and_copies_safely():
    issue = trusted(ValidationIssue, code=IssueCode.NO_CHANGE, message="hold", field=None)
    assert issue == ValidationIssue(code=IssueCode.NO_CHANGE, message="hold")
    policy = trusted(ChannelPolicy, **ChannelPolicy().model_dump())
    moved = policy.model_copy(update={"fee_rate_ppm": 7})
    assert moved.fee_rate_ppm == 7 and policy.fee_rate_ppm == 0
    assert policy.model_fields_set == set(
        ChannelPolicy.model_fields
    )  # the shared set was copied, not changed
