"""A whole shadow cycle on the real snapshot for a named node: deterministic and internally consistent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain.capabilities import NodeCapabilities
from app.domain.decision import DecisionKind
from app.domain.validation import Verdict
from app.engine.context import ScoringContext
from app.engine.cycle import ChannelEvaluation, run_cycle
from app.engine.flow import summarize_forwards
from app.sandbox.state import generate_sandbox_state
from tests.factories import balanced_profile, known


@pytest.fixture(scope="module")
def acinq(real_graph):
    state = generate_sandbox_state(real_graph, real_graph.find_node("ACINQ"), seed=42)
    return state.snapshot()


def test_cycle_is_deterministic(real_graph, real_centrality, acinq):
    profile = balanced_profile()
    first = run_cycle(acinq, real_graph, real_centrality, profile)
    second = run_cycle(acinq, real_graph, real_centrality, profile)
    assert [e.decision for e in first.evaluations] == [e.decision for e in second.evaluations]
    assert [e.validation for e in first.evaluations] == [e.validation for e in second.evaluations]
    assert first.summary()["channels"] == real_graph.degree(real_graph.find_node("ACINQ")) == 1_989


def test_decisions_follow_their_rules_on_real_data(real_graph, real_centrality, acinq):
    profile = balanced_profile()
    params = profile.decisions
    report = run_cycle(acinq, real_graph, real_centrality, profile)
    flows = summarize_forwards(
        acinq.forwards or [], acinq.now_s, profile.activity.window_days, profile.activity.recent_days
    )
    kinds = {e.decision.kind for e in report.evaluations}
    assert {DecisionKind.RAISE_FEE, DecisionKind.LOWER_FEE, DecisionKind.HOLD} <= kinds
    for evaluation in report.evaluations:
        decision, channel = evaluation.decision, evaluation.channel
        recent_out = flows[channel.chan_id].recent_out_count if channel.chan_id in flows else 0
        if decision.kind is DecisionKind.RAISE_FEE:
            assert channel.local_ratio < params.depleted_ratio and recent_out >= params.min_recent_forwards
            assert decision.proposed_policy.fee_rate_ppm > decision.current_policy.fee_rate_ppm
        if decision.kind is DecisionKind.LOWER_FEE:
            assert channel.local_ratio > params.excess_ratio and recent_out == 0
            assert decision.proposed_policy.fee_rate_ppm < decision.current_policy.fee_rate_ppm
        if decision.kind is DecisionKind.SET_INBOUND_DISCOUNT:
            inbound = known(decision.proposed_policy.inbound_fee_rate_ppm)
            assert -decision.proposed_policy.fee_rate_ppm <= inbound < 0
        if decision.kind.is_advisory or decision.kind is DecisionKind.HOLD:
            assert decision.proposed_policy == decision.current_policy
            assert evaluation.validation.verdict is Verdict.NO_WRITE
        # Decision enforces a non-empty list of strings and the confidence range; not non-empty strings
        assert all(decision.reasons)


def test_daily_cap_admits_raises_first_then_the_most_confident_writes(real_graph, real_centrality, acinq):
    report = run_cycle(acinq, real_graph, real_centrality, balanced_profile())
    approved = [e for e in report.evaluations if e.validation.verdict is Verdict.APPROVED]
    assert len(approved) == 5
    capped = [e for e in report.evaluations if e.validation.codes == ["daily_cap_reached"]]
    assert capped

    def rank(evaluation: ChannelEvaluation) -> tuple[bool, float]:
        return evaluation.decision.kind is not DecisionKind.RAISE_FEE, -evaluation.decision.confidence

    assert max(map(rank, approved)) <= min(map(rank, capped))


def test_without_forwarding_history_activity_is_unknown_and_fees_hold(real_graph, real_centrality, acinq):
    lnbits_like = replace(
        acinq,
        capabilities=NodeCapabilities(
            forwarding_history=False, inbound_fees=False, htlc_limits=False, time_lock=False
        ),
        forwards=None,
    )
    report = run_cycle(lnbits_like, real_graph, real_centrality, balanced_profile())
    for evaluation in report.evaluations:
        assert evaluation.decision.breakdown.values()["activity"] is None
        assert evaluation.decision.kind not in (DecisionKind.RAISE_FEE, DecisionKind.LOWER_FEE)


def test_unknown_policy_history_refuses_every_write(real_graph, real_centrality, acinq):
    blind = replace(acinq, policy_changes=None)
    report = run_cycle(blind, real_graph, real_centrality, balanced_profile())
    writes = [e for e in report.evaluations if e.decision.kind.writes_policy]
    assert writes
    for evaluation in writes:
        assert evaluation.validation.verdict is Verdict.REJECTED
        assert "cooldown_unknown" in evaluation.validation.codes


def test_the_node_earns_what_its_forwards_paid_per_unit_forwarded(real_graph, real_centrality, acinq):
    # The cut floor of the decision rules: fees over outbound volume of the window's forwards.
    flows = summarize_forwards(acinq.forwards, acinq.now_s, 30, 7)
    fees = sum(flow.out_fee_msat for flow in flows.values())
    volume = sum(flow.out_volume_msat for flow in flows.values())
    assert fees > 0 and volume > 0
    context = ScoringContext(
        graph=real_graph,
        centrality=real_centrality,
        node_pubkey=acinq.node.pubkey,
        now_s=acinq.now_s,
        channels=acinq.channels,
        profile=balanced_profile(),
        flows=flows,
    )
    assert context.earned_fee_ppm == pytest.approx(fees * 1e6 / volume)
    assert replace(context, flows={}).earned_fee_ppm is None  # nothing forwarded: no floor from it
    assert replace(context, flows=None).earned_fee_ppm is None
