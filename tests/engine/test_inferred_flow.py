"""Flow inferred from balance changes: counting, evidence, the activity score and the decisions built on it."""

from __future__ import annotations

import pytest

from app.domain.balance import BalanceInterval
from app.domain.capabilities import NodeCapabilities
from app.domain.decision import DecisionKind
from app.engine.decisions import DecisionEngine
from app.engine.facts import ChannelFacts
from app.engine.flow import DAY_S, FlowStats, InferredEvidence
from app.engine.inferred_flow import infer_flows
from tests.engine.test_decisions import CHAN, breakdown, facts
from tests.factories import balanced_profile

NOW = 1_800_000_000
LNBITS = NodeCapabilities(
    forwarding_history=False, channel_graph=False, inbound_fees=False, htlc_limits=False, time_lock=False
)


def daily(moves: list[dict[str, int]], days_back: int | None = None) -> list[BalanceInterval]:
    """One interval per day ending at NOW, oldest first, with the given moves."""
    start = NOW - (days_back or len(moves)) * DAY_S
    return [BalanceInterval(start + i * DAY_S, start + (i + 1) * DAY_S, move) for i, move in enumerate(moves)]


def test_falls_and_rises_are_counted_per_channel_inside_the_window():
    history = daily([{"a": -100, "b": 50}, {}, {"a": -20}, {"a": 30}] * 10)  # 40 days, window 30
    inferred = infer_flows(history, NOW, window_days=30, recent_days=7, min_samples=3)
    assert inferred.flows is not None
    assert inferred.evidence == InferredEvidence(samples=30, observed_days=30.0)
    a = inferred.flows["a"]
    # the last 30 days are days 10..39 (pattern index i % 4): falls at 0 and 2 (7 + 8), rises at 3 (8)
    assert (a.out_count, a.in_count) == (15, 8)
    assert a.out_volume_msat == (8 * 20 + 7 * 100) * 1000
    assert a.out_fee_msat == 0  # never known per channel
    assert a.inferred is inferred.evidence
    # days 33..39 are recent: indexes 1,2,3,0,1,2,3 -> falls at 2, 0, 2
    assert a.recent_out_count == 3 and a.recent_out_volume_msat == 140_000
    assert "c" not in inferred.flows  # a channel that never moved has no entry (the context gives zeros)


def test_too_few_syncs_give_no_flow_and_say_why():
    inferred = infer_flows(daily([{"a": -5}, {"a": -5}]), NOW, 30, 7, min_samples=3)
    assert inferred.flows is None
    assert inferred.evidence.samples == 2
    assert "needs 3 compared syncs; 2 so far" in inferred.unknown_reason


def test_observed_days_count_from_the_first_compared_sync():
    inferred = infer_flows(daily([{}] * 3), NOW, 30, 7, min_samples=3)
    assert inferred.evidence.observed_days == 3.0
    flow = FlowStats(inferred=inferred.evidence)
    assert flow.covers(3) and not flow.covers(7)
    assert FlowStats().covers(365)  # forwarding history covers its whole window


def inferred_flow(out=0, recent_out=0, recent_volume_sat=0, observed_days=10.0, samples=10) -> FlowStats:
    return FlowStats(
        out_count=out,
        out_volume_msat=recent_volume_sat * 1000,
        recent_out_count=recent_out,
        recent_out_volume_msat=recent_volume_sat * 1000,
        inferred=InferredEvidence(samples=samples, observed_days=observed_days),
    )


@pytest.fixture
def engine():
    return DecisionEngine(balanced_profile(), LNBITS)


def test_raise_on_inferred_outflow_says_so_and_trusts_it_less(engine):
    real = DecisionEngine(balanced_profile(), NodeCapabilities()).decide(
        facts(50_000, FlowStats(out_count=3, recent_out_count=3))
    )
    decision = engine.decide(facts(50_000, inferred_flow(out=3, recent_out=3, recent_volume_sat=120_000)))
    assert decision.kind is DecisionKind.RAISE_FEE
    assert decision.proposed_policy.fee_rate_ppm == real.proposed_policy.fee_rate_ppm
    assert "local balance fell in 3 sync intervals" in decision.reasons[0]
    assert "-120,000 sat net" in decision.reasons[0]
    assert "inferred from balance changes" in decision.reasons[0]
    assert decision.confidence < real.confidence


def test_lower_needs_the_recent_window_watched(engine):
    young = engine.decide(facts(950_000, inferred_flow(observed_days=3.0)))
    assert young.kind is DecisionKind.HOLD
    assert "idleness needs 7 days of evidence" in young.reasons[0]
    assert "watched 3.0 days" in young.reasons[0]
    assert "inferred from balance changes" in young.reasons[0]
    watched = engine.decide(facts(950_000, inferred_flow(observed_days=8.0, samples=8)))
    assert watched.kind is DecisionKind.LOWER_FEE
    assert "the local balance fell in none of 8 syncs over 7 days" in watched.reasons[0]


def test_close_needs_the_whole_window_watched(engine):
    short = facts(500_000, inferred_flow(observed_days=10.0), age=200.0, total=0.1, activity=0.0)
    assert engine.decide(short).kind is DecisionKind.HOLD
    decision = engine.decide(
        facts(500_000, inferred_flow(observed_days=30.0), age=200.0, total=0.1, activity=0.0)
    )
    assert decision.kind is DecisionKind.SUGGEST_CLOSE
    assert "no balance change in 30 days" in decision.reasons[0]


def test_unknown_flow_holds_with_the_reason_given(engine):
    reason = "no forwarding history from this backend, and flow is inferred ... 1 so far"
    facts_ = ChannelFacts(
        channel=facts(50_000, None).channel, breakdown=breakdown(), flow=None, age_days=200.0,
        flow_unknown_reason=reason,
    )  # fmt: skip
    decision = engine.decide(facts_)
    assert decision.kind is DecisionKind.HOLD
    assert decision.reasons[0].startswith(reason + ": fee changes need flow confirmation")
    assert decision.chan_id == CHAN
