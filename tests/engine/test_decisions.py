"""Every decision kind, from hand-made channel facts."""

from __future__ import annotations

import pytest

from app.domain.capabilities import NodeCapabilities
from app.domain.decision import DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.scoring import HeuristicScore, ScoreBreakdown, ScoreStatus
from app.engine.decisions import DecisionEngine
from app.engine.facts import ChannelFacts
from app.engine.flow import FlowStats
from app.engine.profile import Profile
from tests.factories import balanced_profile, make_channel

CHAN = str(800_000 << 40 | 1 << 16)


def breakdown(
    total: float = 0.5, activity: float | None = 0.3, known: float = 1.0, market_median: float | None = None
) -> ScoreBreakdown:
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
    if market_median is not None:
        scores.append(
            HeuristicScore(
                name="competitiveness",
                status=ScoreStatus.OK,
                value=0.2,
                weight=0.1,
                effective_weight=0.1,
                facts={"market_median_ppm": market_median, "competitors": 12},
                reason="competitiveness reason",
            )
        )
    return ScoreBreakdown(chan_id=CHAN, total=total, known_weight=known, scores=scores)


def facts(
    local_sat: int,
    flow: FlowStats | None,
    fee: int = 500,
    age: float | None = 200.0,
    total: float = 0.5,
    activity: float | None = 0.3,
    fee_age: float | None = None,
    market_median: float | None = None,
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
    return ChannelFacts(
        channel=channel,
        breakdown=breakdown(total, activity, market_median=market_median),
        flow=flow,
        age_days=age,
        fee_age_days=fee_age,
    )


def lowering_max_htlc() -> Profile:
    """The balanced profile with the opt-in max HTLC rule on (off in the shipped profiles)."""
    profile = balanced_profile()
    return profile.model_copy(
        update={"decisions": profile.decisions.model_copy(update={"lower_max_htlc": True})}
    )


@pytest.fixture
def engine():
    return DecisionEngine(lowering_max_htlc(), NodeCapabilities())


def test_the_shipped_profile_leaves_max_htlc_alone():
    # Opt-in: a lowered max HTLC is never raised again with the balance (README, "Does it earn more?").
    decision = DecisionEngine(balanced_profile(), NodeCapabilities()).decide(
        facts(300_000, FlowStats(out_count=5, recent_out_count=1))
    )
    assert decision.kind is DecisionKind.HOLD


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


def test_an_inbound_discount_is_sized_on_the_cheapest_exit():
    # LND takes the discount off whatever channel the payment leaves by: sized on this channel's 500 ppm,
    # it would make a forward out through a 60 ppm channel free.
    depleted = facts(50_000, FlowStats(out_count=3, recent_out_count=0))
    cheap_exit = DecisionEngine(balanced_profile(), NodeCapabilities(), cheapest_exit_ppm=60)
    decision = cheap_exit.decide(depleted)
    assert decision.kind is DecisionKind.SET_INBOUND_DISCOUNT
    assert decision.proposed_policy.inbound_fee_rate_ppm == -15  # 25 % of 60
    # With an exit at 3 ppm no discount is left to give: the channel is held (or gets another rule).
    free_exit = DecisionEngine(balanced_profile(), NodeCapabilities(), cheapest_exit_ppm=3)
    assert free_exit.decide(depleted).kind is not DecisionKind.SET_INBOUND_DISCOUNT


def test_a_cut_stops_at_what_the_node_earns_per_unit():
    # A forward out of this channel spends inbound liquidity the node's other forwards sell for 417.5 ppm.
    earning = DecisionEngine(balanced_profile(), NodeCapabilities(), earned_fee_ppm=417.5)
    idle = FlowStats(out_count=0, recent_out_count=0)
    assert earning.decide(facts(950_000, idle)).proposed_policy.fee_rate_ppm == 420  # not 360
    held = earning.decide(facts(950_000, idle, fee=400))
    assert held.kind is DecisionKind.HOLD
    assert (
        "400 ppm is already at or below what the node's forwards earned on average (418 ppm"
        in held.reasons[0]
    )


def test_no_inbound_discount_when_backend_cannot_set_it():
    engine = DecisionEngine(lowering_max_htlc(), NodeCapabilities(inbound_fees=False))
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


def test_fee_rate_outside_the_limits_is_held_with_the_reason(engine):
    policy = ChannelPolicy(fee_rate_ppm=3_200, time_lock_delta=40, max_htlc_msat=990_000_000)
    decision = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6), local_policy=policy))
    assert decision.kind is DecisionKind.HOLD
    assert "fee_rate_ppm 3200 is above the maximum 2500" in decision.reasons[0]


def test_other_fields_outside_the_limits_do_not_stop_a_fee_change(engine):
    # A time lock or min_htlc the operator set outside the limits is left as it is; the fee still moves.
    policy = ChannelPolicy(fee_rate_ppm=500, time_lock_delta=222, min_htlc_msat=0, max_htlc_msat=990_000_000)
    decision = engine.decide(facts(50_000, FlowStats(out_count=20, recent_out_count=6), local_policy=policy))
    assert decision.kind is DecisionKind.RAISE_FEE
    assert decision.changed_fields == ["fee_rate_ppm"]


def test_a_cut_waits_for_a_full_idle_week_at_the_current_fee(engine):
    idle = FlowStats(out_count=0, recent_out_count=0)
    recent = engine.decide(facts(950_000, idle, fee_age=3.0))
    assert recent.kind is DecisionKind.HOLD
    assert "the fee changed 3.0 days ago; a cut needs 7 idle days at the current fee" in recent.reasons[0]
    assert engine.decide(facts(950_000, idle, fee_age=7.0)).kind is DecisionKind.LOWER_FEE


def test_a_cut_stops_at_the_median_fee_into_the_peer(engine):
    idle = FlowStats(out_count=0, recent_out_count=0)
    # 500 ppm would be cut to 360; the market into the peer has a median of 420: the cut stops there.
    decision = engine.decide(facts(950_000, idle, market_median=417.5))
    assert decision.kind is DecisionKind.LOWER_FEE
    assert decision.proposed_policy.fee_rate_ppm == 420
    # At or below the median nothing is cut: the idleness is not the price's fault.
    held = engine.decide(facts(950_000, idle, fee=400, market_median=417.5))
    assert held.kind is DecisionKind.HOLD
    assert "400 ppm is already at or below the median 417.5 ppm" in held.reasons[0]
    # Just above the median, a cut to it would be too small to be worth an update: held too.
    assert engine.decide(facts(950_000, idle, fee=425, market_median=417.5)).kind is DecisionKind.HOLD


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
        lowering_max_htlc(), NodeCapabilities(htlc_limits=False, inbound_fees=False)
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
