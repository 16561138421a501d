"""Property: whatever the channel, the engine never proposes a write the validator must reject.

Cooldowns and the daily cap depend on history, not on the proposal, so the context here has none; every
other limit must already hold for each proposal the engine makes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.capabilities import NodeCapabilities
from app.domain.policy import ChannelPolicy
from app.domain.scoring import HeuristicScore, ScoreBreakdown, ScoreStatus
from app.domain.validation import Verdict
from app.engine.decisions import DecisionEngine
from app.engine.facts import ChannelFacts
from app.engine.flow import FlowStats
from app.engine.profile import load_profiles
from app.policy.limits import SafetyLimits, ValidationContext
from app.policy.validator import PolicyValidator
from app.settings import DEFAULT_THRESHOLDS_FILE
from tests.factories import make_channel

BOOK = load_profiles(DEFAULT_THRESHOLDS_FILE)
CHAN = str(800_000 << 40 | 7 << 16)


@st.composite
def channel_facts(draw: st.DrawFn) -> ChannelFacts:
    capacity = draw(st.integers(20_000, 50_000_000))
    # the interesting ratios (empty, depleted, in band, full) are drawn often, not by luck
    local = int(
        capacity * draw(st.sampled_from([0.0, 0.05, 0.19, 0.3, 0.5, 0.81, 0.95, 1.0]) | st.floats(0, 1))
    )
    fee = draw(st.sampled_from([0, 1, 5, 9, 10, 11, 100, 499, 2_499, 2_500, 2_600]) | st.integers(0, 3_000))
    base = draw(st.sampled_from([0, 1_000, 1_000, 10_000, 20_000]))
    inbound = draw(st.sampled_from([0, -1, -50, -fee]) | st.integers(-fee, 0))
    max_htlc = draw(
        st.sampled_from([capacity * 990, capacity * 990, 0, capacity * 1_000])
        | st.integers(1_000, capacity * 990)
    )
    policy = ChannelPolicy(
        base_fee_msat=base,
        fee_rate_ppm=fee,
        time_lock_delta=draw(st.sampled_from([24, 40, 40, 80, 144, 18, 222])),
        min_htlc_msat=draw(st.sampled_from([1_000, 1_000, 1, 0])),
        max_htlc_msat=max_htlc,
        inbound_fee_rate_ppm=inbound,
        inbound_base_fee_msat=0,
        disabled=draw(st.integers(0, 4)) == 0,
    )
    channel = make_channel(
        "p",
        capacity_sat=capacity,
        local_sat=local,
        chan_id=CHAN,
        local_policy=policy,
        active=draw(st.integers(0, 4)) != 0,
        local_reserve_sat=draw(st.sampled_from([0, capacity // 100])),
        uptime_s=draw(st.integers(0, 1_000)),
        lifetime_s=1_000,
    )
    recent = draw(st.sampled_from([0, 0, 1, 2, 5]) | st.integers(0, 30))
    flow = draw(
        st.just(FlowStats(out_count=recent + draw(st.integers(0, 50)), recent_out_count=recent)) | st.none()
    )
    activity = draw(st.none() | st.floats(0, 1))
    total = draw(st.floats(0, 1))
    scores = [
        HeuristicScore(
            name="activity",
            status=ScoreStatus.OK if activity is not None else ScoreStatus.UNKNOWN,
            value=activity,
            weight=0.2,
            effective_weight=0.2,
        )
    ]
    breakdown = ScoreBreakdown(chan_id=CHAN, total=total, known_weight=draw(st.floats(0, 1)), scores=scores)
    return ChannelFacts(
        channel=channel,
        breakdown=breakdown,
        flow=flow,
        age_days=draw(st.floats(0, 2_000) | st.just(400.0) | st.none()),
    )


@st.composite
def limits(draw: st.DrawFn) -> SafetyLimits:
    fee_min = draw(st.sampled_from([0, 0, 1, 50, 100]))
    step_floor = draw(st.integers(1, 100))
    return SafetyLimits(
        fee_rate_min_ppm=fee_min,
        fee_rate_max_ppm=draw(st.integers(fee_min, 5_000)),
        max_step_ratio=draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])),
        step_floor_ppm=step_floor,
        min_change_ppm=draw(st.integers(1, step_floor)),
        min_change_ratio=draw(st.sampled_from([0.0, 0.01, 0.05, 0.1])),
        require_manual_approval=draw(st.booleans()),
    )


@settings(max_examples=1_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    facts=channel_facts(),
    profile_name=st.sampled_from(sorted(BOOK.profiles)),
    custom_limits=st.none() | limits(),
    inbound=st.booleans(),
    htlc=st.booleans(),
)
def test_engine_proposals_pass_every_proposal_rule(facts, profile_name, custom_limits, inbound, htlc):
    profile = BOOK.get(profile_name)
    if custom_limits is not None:
        profile = profile.model_copy(update={"limits": custom_limits})
    capabilities = NodeCapabilities(inbound_fees=inbound, htlc_limits=htlc)
    decision = DecisionEngine(profile, capabilities).decide(facts)
    context = ValidationContext.for_channel(facts.channel, now_s=1_770_000_000, capabilities=capabilities)
    result = PolicyValidator(profile.limits).validate(decision, context)
    assert result.verdict is not Verdict.REJECTED, (decision.kind, decision.reasons, result.issues)
    if decision.kind.writes_policy:
        assert result.verdict in (Verdict.APPROVED, Verdict.NEEDS_APPROVAL)
