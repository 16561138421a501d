"""Every decision kind, from hand-made channel facts."""

from __future__ import annotations

import pytest

from app.domain.capabilities import NodeCapabilities
from app.domain.decision import DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.scoring import HeuristicScore, ScoreBreakdown, ScoreStatus
from app.engine.decisions import ChannelFacts, DecisionEngine
from app.engine.flow import FlowStats
from tests.factories import balanced_profile, make_channel

CHAN = str(800_000 << 40 | 1 << 16)


def breakdown(total: float = 0.5, activity: float | None = 0.3, known: float = 1.0) -> ScoreBreakdown:
    scores = [
        HeuristicScore(
            name="liquidity",
            status=ScoreStatus.OK,
            value=0.4,
            weight=0.25,
            effective_weight=0.25,
            reason="liquidity reason",
        ),
        HeuristicScore(
            name="activity",
            status=ScoreStatus.OK if activity is not None else ScoreStatus.UNKNOWN,
            value=activity,
            weight=0.2,
            effective_weight=0.2,
            reason="activity reason",
        ),
    ]
    return ScoreBreakdown(chan_id=CHAN, total=total, known_weight=known, scores=scores)


def facts(
    local_sat: int,
    flow: FlowStats | None,
    fee: int = 500,
    age: float | None = 200.0,
    total: float = 0.5,
    activity: float | None = 0.3,
    **channel_fields,
) -> ChannelFacts:
    channel = make_channel(
        "p",
        capacity_sat=1_000_000,
        local_sat=local_sat,
        fee_rate_ppm=fee,
        chan_id=CHAN,
        local_reserve_sat=10_000,
        **channel_fields,
    )
    return ChannelFacts(channel=channel, breakdown=breakdown(total, activity), flow=flow, age_days=age)


@pytest.fixture
def engine():
    return DecisionEngine(balanced_profile(), NodeCapabilities())


def test_raise_when_depleted_and_outflow_continues(engine):
    decision = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6)))
    assert decision.kind is DecisionKind.RAISE_FEE
    # depth (0.2-0.05)/0.2 = 0.75 -> step 0.2*1.75 = 0.35 -> 675 ppm, rounded up to 680
    assert decision.proposed_policy.fee_rate_ppm == 680
    assert decision.changed_fields == ["fee_rate_ppm"]
    assert "outflow continues" in decision.reasons[0]
    assert decision.confidence == pytest.approx(0.4 + 0.6 * (0.5 * 0.75 + 0.5 * 1.0))


def test_lower_when_full_and_nothing_flowed_for_a_week(engine):
    decision = engine.decide(facts(950_000, FlowStats(out_count=0, recent_out_count=0)))
    assert decision.kind is DecisionKind.LOWER_FEE
    # depth (0.95-0.8)/0.2 = 0.75 -> step 0.15*1.75 = 0.2625 -> 368.75 -> 360
    assert decision.proposed_policy.fee_rate_ppm == 360
    assert "nothing flowed out" in decision.reasons[0]


def test_full_channel_that_still_flows_is_held(engine):
    decision = engine.decide(facts(950_000, FlowStats(out_count=9, recent_out_count=2)))
    assert decision.kind is DecisionKind.HOLD
    assert "still flows out" in decision.reasons[0]
    assert decision.proposed_policy == decision.current_policy


def test_idle_full_channel_at_the_fee_floor_is_held_with_the_reason(engine):
    decision = engine.decide(facts(950_000, FlowStats(), fee=1, total=0.9))
    assert decision.kind is DecisionKind.HOLD
    assert "cannot be lowered" in decision.reasons[0]


def test_inbound_discount_when_depleted_without_outflow(engine):
    decision = engine.decide(facts(50_000, FlowStats(out_count=3, recent_out_count=0)))
    assert decision.kind is DecisionKind.SET_INBOUND_DISCOUNT
    assert decision.proposed_policy.inbound_fee_rate_ppm == -120  # 25 % of 500, rounded down to a clean value
    assert decision.proposed_policy.fee_rate_ppm == 500
    assert -decision.proposed_policy.inbound_fee_rate_ppm <= decision.proposed_policy.fee_rate_ppm


def test_no_inbound_discount_when_backend_cannot_set_it():
    engine = DecisionEngine(balanced_profile(), NodeCapabilities(inbound_fees=False))
    decision = engine.decide(facts(50_000, FlowStats(out_count=3, recent_out_count=0)))
    assert decision.kind is DecisionKind.SET_MAX_HTLC  # next rule: max HTLC far above usable outbound
    assert decision.proposed_policy.max_htlc_msat == 40_000_000  # usable 40,000 sat


def test_max_htlc_lowered_to_usable_outbound(engine):
    # below the band (0.3 < 0.35) but not depleted: no fee rule fires; max HTLC 990k sat > 2 x 290k usable
    decision = engine.decide(facts(300_000, FlowStats(out_count=5, recent_out_count=1)))
    assert decision.kind is DecisionKind.SET_MAX_HTLC
    assert decision.proposed_policy.max_htlc_msat == 290_000_000
    assert decision.changed_fields == ["max_htlc_msat"]


def test_max_htlc_is_never_raised_towards_the_balance(engine):
    # raising it would publish the balance and need a new gossip update whenever the balance moves
    policy = ChannelPolicy(fee_rate_ppm=500, max_htlc_msat=100_000_000, min_htlc_msat=1000)
    decision = engine.decide(facts(500_000, FlowStats(out_count=5, recent_out_count=1), local_policy=policy))
    assert decision.kind is DecisionKind.HOLD


def test_lowering_a_full_channel_also_removes_its_inbound_discount(engine):
    policy = ChannelPolicy(fee_rate_ppm=130, inbound_fee_rate_ppm=-120, max_htlc_msat=990_000_000)
    decision = engine.decide(facts(950_000, FlowStats(), local_policy=policy))
    assert decision.kind is DecisionKind.LOWER_FEE
    assert decision.proposed_policy.fee_rate_ppm < 130
    assert decision.proposed_policy.inbound_fee_rate_ppm == 0
    assert any("remove the inbound discount of 120 ppm" in reason for reason in decision.reasons)


def test_full_channel_that_still_flows_loses_its_discount(engine):
    policy = ChannelPolicy(fee_rate_ppm=500, inbound_fee_rate_ppm=-100, max_htlc_msat=990_000_000)
    decision = engine.decide(facts(950_000, FlowStats(out_count=9, recent_out_count=3), local_policy=policy))
    assert decision.kind is DecisionKind.SET_INBOUND_DISCOUNT
    assert decision.proposed_policy.inbound_fee_rate_ppm == 0
    assert decision.proposed_policy.fee_rate_ppm == 500


def test_young_channels_are_not_cut_for_a_quiet_week(engine):
    assert engine.decide(facts(950_000, FlowStats(), age=3.0)).kind is DecisionKind.HOLD
    assert (
        engine.decide(facts(50_000, FlowStats(out_count=3), age=3.0)).kind
        is not DecisionKind.SET_INBOUND_DISCOUNT
    )


def test_policy_outside_the_limits_is_held_with_the_reason(engine):
    policy = ChannelPolicy(fee_rate_ppm=500, time_lock_delta=222, max_htlc_msat=990_000_000)
    decision = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6), local_policy=policy))
    assert decision.kind is DecisionKind.HOLD
    assert "time_lock_delta 222 is above the maximum 144" in decision.reasons[0]


def test_suggest_close_for_old_idle_low_scoring_channel(engine):
    decision = engine.decide(facts(500_000, FlowStats(), total=0.2, age=400.0))
    assert decision.kind is DecisionKind.SUGGEST_CLOSE
    assert decision.kind.is_advisory
    assert decision.proposed_policy == decision.current_policy
    assert "advisory only" in decision.reasons[0]


def test_young_idle_channel_is_not_suggested_for_closing(engine):
    decision = engine.decide(facts(500_000, FlowStats(), total=0.2, age=30.0))
    assert decision.kind is DecisionKind.HOLD


def test_suggest_rebalance_for_busy_unbalanced_channel(engine):
    # full channel that still flows out (no lower), busy: advisory rebalance
    decision = engine.decide(facts(950_000, FlowStats(out_count=40, recent_out_count=5), activity=0.8))
    assert decision.kind is DecisionKind.SUGGEST_REBALANCE
    assert decision.proposed_policy == decision.current_policy


def test_inactive_channel_is_held_or_suggested_for_close(engine):
    held = engine.decide(facts(500_000, FlowStats(), active=False, age=10.0))
    assert held.kind is DecisionKind.HOLD
    assert "inactive" in held.reasons[0]
    close = engine.decide(facts(500_000, FlowStats(), active=False, uptime_s=100, lifetime_s=1000, age=200.0))
    assert close.kind is DecisionKind.SUGGEST_CLOSE


def test_without_forwarding_history_fees_are_held(engine):
    decision = engine.decide(facts(50_000, None, activity=None))
    assert decision.kind is DecisionKind.SET_MAX_HTLC  # max HTLC needs no flow confirmation
    only_fee_rules = DecisionEngine(
        balanced_profile(), NodeCapabilities(htlc_limits=False, inbound_fees=False)
    )
    held = only_fee_rules.decide(facts(50_000, None, activity=None))
    assert held.kind is DecisionKind.HOLD
    assert "no forwarding history" in held.reasons[0]


def test_at_fee_ceiling_a_depleted_flowing_channel_is_held_with_the_reason():
    engine = DecisionEngine(balanced_profile(), NodeCapabilities(htlc_limits=False))
    decision = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6), fee=2_500))
    assert decision.kind is DecisionKind.HOLD
    assert "cannot be raised" in decision.reasons[0]


def test_confidence_scales_with_known_weight(engine):
    full = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6)))
    partial_facts = facts(50_000, FlowStats(out_count=20, recent_out_count=6))
    partial = engine.decide(
        ChannelFacts(
            channel=partial_facts.channel,
            breakdown=breakdown(known=0.5),
            flow=partial_facts.flow,
            age_days=200.0,
        )
    )
    assert partial.confidence == pytest.approx(full.confidence * 0.5, abs=1e-3)
