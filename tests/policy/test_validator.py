"""PolicyValidator: one test per issue code, verdict logic, several issues at once, the batch daily cap."""

from __future__ import annotations

import pytest

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel
from app.domain.decision import DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.validation import IssueCode, ValidationResult, Verdict
from app.errors import InvalidInputError
from app.policy import PolicyValidator, SafetyLimits, ValidationContext

from .conftest import ContextFactory, DecisionFactory, PolicyFactory

HOUR = 3_600
DEFAULT = PolicyValidator(SafetyLimits())


def only_issue(result: ValidationResult, code: IssueCode) -> str:
    """The message of the single issue of a rejected result, after checking its code."""
    assert result.verdict is Verdict.REJECTED
    assert result.codes == [code]
    return result.issues[0].message


# --- verdicts ---------------------------------------------------------------------------------------


def test_change_within_all_limits_is_approved(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    result = DEFAULT.validate(make_decision(fee_rate_ppm=140), make_context())
    assert result.verdict is Verdict.APPROVED
    assert result.issues == []
    assert result.chan_id == make_decision().chan_id


def test_manual_approval_turns_approval_into_needs_approval(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    validator = PolicyValidator(SafetyLimits(require_manual_approval=True))
    result = validator.validate(make_decision(fee_rate_ppm=140), make_context())
    assert result.verdict is Verdict.NEEDS_APPROVAL
    assert result.codes == [IssueCode.MANUAL_APPROVAL_REQUIRED]


def test_manual_approval_never_rescues_a_rejection(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    validator = PolicyValidator(SafetyLimits(require_manual_approval=True))
    result = validator.validate(make_decision(fee_rate_ppm=1_000), make_context())
    assert result.verdict is Verdict.REJECTED
    assert IssueCode.MANUAL_APPROVAL_REQUIRED not in result.codes


def test_hold_is_no_write_even_on_a_pinned_channel(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    decision = make_decision(kind=DecisionKind.HOLD)
    validator = PolicyValidator(SafetyLimits(pinned_channels=frozenset({decision.chan_id})))
    result = validator.validate(decision, make_context(node_updates_last_24h=99))
    assert result.verdict is Verdict.NO_WRITE
    assert result.codes == [IssueCode.NO_CHANGE]


@pytest.mark.parametrize("kind", [DecisionKind.SUGGEST_REBALANCE, DecisionKind.SUGGEST_CLOSE])
def test_advisory_kinds_are_never_written(
    kind: DecisionKind, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # Even a proposal that would break every limit: an advisory never reaches the node.
    result = DEFAULT.validate(make_decision(kind=kind, fee_rate_ppm=99_999), make_context())
    assert result.verdict is Verdict.NO_WRITE
    assert result.codes == [IssueCode.ADVISORY_ONLY]


def test_writing_kind_with_unchanged_policy_is_no_write(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    result = DEFAULT.validate(make_decision(kind=DecisionKind.LOWER_FEE), make_context(last_change_s=0))
    assert result.verdict is Verdict.NO_WRITE
    assert result.codes == [IssueCode.NO_CHANGE]


def test_validation_is_pure(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision, context = make_decision(fee_rate_ppm=1_000, base_fee_msat=50_000), make_context()
    assert DEFAULT.validate(decision, context) == DEFAULT.validate(decision, context)


# --- one test per hard-limit issue code -------------------------------------------------------------


def test_fee_rate_above_maximum(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    result = DEFAULT.validate(
        make_decision(make_policy(fee_rate_ppm=2_400), fee_rate_ppm=3_000), make_context()
    )
    assert (
        only_issue(result, IssueCode.FEE_RATE_OUT_OF_BOUNDS) == "fee_rate_ppm 3000 is above the maximum 2500"
    )
    assert result.issues[0].field == "fee_rate_ppm"


def test_fee_rate_below_minimum(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    validator = PolicyValidator(SafetyLimits(fee_rate_min_ppm=100))
    result = validator.validate(make_decision(make_policy(fee_rate_ppm=150), fee_rate_ppm=90), make_context())
    assert only_issue(result, IssueCode.FEE_RATE_OUT_OF_BOUNDS) == "fee_rate_ppm 90 is below the minimum 100"


def test_fee_rate_on_the_bounds_is_approved(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    validator = PolicyValidator(SafetyLimits(fee_rate_min_ppm=100))
    up = make_decision(make_policy(fee_rate_ppm=2_000), fee_rate_ppm=2_500)
    down = make_decision(make_policy(fee_rate_ppm=150), fee_rate_ppm=100)
    assert validator.validate(up, make_context()).verdict is Verdict.APPROVED
    assert validator.validate(down, make_context()).verdict is Verdict.APPROVED
    over = make_decision(make_policy(fee_rate_ppm=2_000), fee_rate_ppm=2_501)
    under = make_decision(make_policy(fee_rate_ppm=150), fee_rate_ppm=99)
    assert validator.validate(over, make_context()).codes == [IssueCode.FEE_RATE_OUT_OF_BOUNDS]
    assert validator.validate(under, make_context()).codes == [IssueCode.FEE_RATE_OUT_OF_BOUNDS]


def test_base_fee_out_of_bounds(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    result = DEFAULT.validate(make_decision(base_fee_msat=20_000), make_context())
    assert (
        only_issue(result, IssueCode.BASE_FEE_OUT_OF_BOUNDS)
        == "base_fee_msat 20000 is above the maximum 10000"
    )
    low = PolicyValidator(SafetyLimits(base_fee_min_msat=500)).validate(
        make_decision(base_fee_msat=0), make_context()
    )
    assert only_issue(low, IssueCode.BASE_FEE_OUT_OF_BOUNDS) == "base_fee_msat 0 is below the minimum 500"


def test_time_lock_out_of_bounds(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    high = DEFAULT.validate(make_decision(time_lock_delta=200), make_context())
    assert (
        only_issue(high, IssueCode.TIME_LOCK_OUT_OF_BOUNDS) == "time_lock_delta 200 is above the maximum 144"
    )
    low = DEFAULT.validate(make_decision(time_lock_delta=18), make_context())
    assert only_issue(low, IssueCode.TIME_LOCK_OUT_OF_BOUNDS) == "time_lock_delta 18 is below the minimum 24"


def test_max_htlc_above_capacity_minus_assumed_reserve(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # 1 M sat, reserve unknown -> 1 % (10,000 sat) assumed -> limit 990,000,000 msat.
    at_limit = DEFAULT.validate(make_decision(max_htlc_msat=990_000_000), make_context())
    assert at_limit.verdict is Verdict.APPROVED
    result = DEFAULT.validate(make_decision(max_htlc_msat=990_000_001), make_context())
    message = only_issue(result, IssueCode.MAX_HTLC_ABOVE_CAPACITY)
    assert "990000001" in message and "990000000" in message and "1000000 sat" in message
    assert "reserve 10000 sat" in message


def test_max_htlc_uses_the_channel_reserve_when_known(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    context = make_context(local_reserve_sat=50_000)
    assert DEFAULT.validate(make_decision(max_htlc_msat=950_000_000), context).verdict is Verdict.APPROVED
    result = DEFAULT.validate(make_decision(max_htlc_msat=950_000_001), context)
    assert "reserve 50000 sat" in only_issue(result, IssueCode.MAX_HTLC_ABOVE_CAPACITY)


def test_assumed_reserve_is_exact_decimal_rounded_up(make_context: ContextFactory) -> None:
    # 1 % of 100 sat is exactly 1 sat (the float 0.01 is a hair above 1/100); 1 % of 101 rounds up to 2.
    assert DEFAULT.max_htlc_limit_msat(make_context(capacity_sat=100)) == 99_000
    assert DEFAULT.max_htlc_limit_msat(make_context(capacity_sat=101)) == 99_000


def test_min_htlc_not_positive(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    result = DEFAULT.validate(make_decision(min_htlc_msat=0), make_context())
    assert only_issue(result, IssueCode.MIN_HTLC_NOT_POSITIVE) == "min_htlc_msat 0 must be positive"


def test_min_htlc_above_max_htlc(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    result = DEFAULT.validate(make_decision(min_htlc_msat=5_000, max_htlc_msat=4_000), make_context())
    assert (
        only_issue(result, IssueCode.MIN_HTLC_ABOVE_MAX_HTLC)
        == "min_htlc_msat 5000 is above max_htlc_msat 4000"
    )


def test_max_htlc_zero_is_unset_only_when_it_already_was(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    unset = make_decision(make_policy(max_htlc_msat=0), fee_rate_ppm=140)
    assert DEFAULT.validate(unset, make_context()).verdict is Verdict.APPROVED
    # LND ignores 0: the write would silently keep 500,000,000, so it is refused.
    result = DEFAULT.validate(make_decision(max_htlc_msat=0), make_context())
    message = only_issue(result, IssueCode.MAX_HTLC_UNSET)
    assert "max_htlc_msat 0" in message and "500000000" in message and "LND" in message
    assert result.issues[0].field == "max_htlc_msat"


def test_step_too_large(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # 50 % of 1,000 is 500: 1,000 -> 1,600 moves 600.
    result = DEFAULT.validate(
        make_decision(make_policy(fee_rate_ppm=1_000), fee_rate_ppm=1_600), make_context()
    )
    message = only_issue(result, IssueCode.STEP_TOO_LARGE)
    assert message.startswith("fee_rate_ppm 1000 -> 1600 moves 600 ppm, above the step cap of 500 ppm")
    ok = make_decision(make_policy(fee_rate_ppm=1_000), fee_rate_ppm=500)
    assert DEFAULT.validate(ok, make_context()).verdict is Verdict.APPROVED


def test_step_floor_lets_a_zero_fee_channel_move(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    zero = make_policy(fee_rate_ppm=0)
    assert DEFAULT.validate(make_decision(zero, fee_rate_ppm=50), make_context()).verdict is Verdict.APPROVED
    result = DEFAULT.validate(make_decision(zero, fee_rate_ppm=51), make_context())
    assert "step cap of 50 ppm" in only_issue(result, IssueCode.STEP_TOO_LARGE)


def test_change_too_small_in_ppm(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    result = DEFAULT.validate(make_decision(fee_rate_ppm=105), make_context())
    message = only_issue(result, IssueCode.CHANGE_TOO_SMALL)
    assert message.startswith("fee_rate_ppm 100 -> 105 moves only 5 ppm; a change must be at least 10 ppm")


def test_change_too_small_in_ratio(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # 5 % of 1,000 is 50: a 40 ppm move passes the ppm rule but not the ratio rule.
    result = DEFAULT.validate(
        make_decision(make_policy(fee_rate_ppm=1_000), fee_rate_ppm=960), make_context()
    )
    message = only_issue(result, IssueCode.CHANGE_TOO_SMALL)
    assert "moves only 40 ppm; a change must be at least 50 ppm" in message and "5 %" in message
    ok = make_decision(make_policy(fee_rate_ppm=1_000), fee_rate_ppm=1_050)
    assert DEFAULT.validate(ok, make_context()).verdict is Verdict.APPROVED


def test_change_from_zero_needs_only_the_ppm_part(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    zero = make_policy(fee_rate_ppm=0)
    assert DEFAULT.validate(make_decision(zero, fee_rate_ppm=10), make_context()).verdict is Verdict.APPROVED
    only_issue(
        DEFAULT.validate(make_decision(zero, fee_rate_ppm=9), make_context()), IssueCode.CHANGE_TOO_SMALL
    )


def test_small_changes_of_other_fields_are_fine(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    decision = make_decision(kind=DecisionKind.SET_MAX_HTLC, max_htlc_msat=500_000_001)
    assert DEFAULT.validate(decision, make_context()).verdict is Verdict.APPROVED


def test_cooldown_active(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    now = make_context().now_s
    result = DEFAULT.validate(make_decision(fee_rate_ppm=140), make_context(last_change_s=now - 6 * HOUR))
    message = only_issue(result, IssueCode.COOLDOWN_ACTIVE)
    assert "24 h cooldown ends at 2026-02-02 20:40:00 UTC (in 18.0 h)" in message
    assert "updated at 2026-02-01 20:40:00 UTC" in message


def test_cooldown_ends_exactly_after_the_configured_hours(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    now = make_context().now_s
    decision = make_decision(fee_rate_ppm=140)
    assert DEFAULT.validate(decision, make_context(last_change_s=now - 24 * HOUR)).verdict is Verdict.APPROVED
    late = DEFAULT.validate(decision, make_context(last_change_s=now - 24 * HOUR + 1))
    assert late.codes == [IssueCode.COOLDOWN_ACTIVE]


def test_daily_cap_reached(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision = make_decision(fee_rate_ppm=140)
    assert DEFAULT.validate(decision, make_context(node_updates_last_24h=4)).verdict is Verdict.APPROVED
    result = DEFAULT.validate(decision, make_context(node_updates_last_24h=5))
    message = only_issue(result, IssueCode.DAILY_CAP_REACHED)
    assert message == "the node already made 5 policy updates in the last 24 h; the daily cap is 5"


def test_channel_pinned(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision = make_decision(fee_rate_ppm=140)
    validator = PolicyValidator(SafetyLimits(pinned_channels=frozenset({decision.chan_id})))
    assert decision.chan_id in only_issue(
        validator.validate(decision, make_context()), IssueCode.CHANNEL_PINNED
    )


def test_channel_excluded(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision = make_decision(fee_rate_ppm=140)
    validator = PolicyValidator(SafetyLimits(excluded_channels=frozenset({decision.chan_id})))
    message = only_issue(validator.validate(decision, make_context()), IssueCode.CHANNEL_EXCLUDED)
    assert decision.chan_id in message


def test_inbound_fee_positive(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision = make_decision(kind=DecisionKind.SET_INBOUND_DISCOUNT, inbound_fee_rate_ppm=10)
    message = only_issue(DEFAULT.validate(decision, make_context()), IssueCode.INBOUND_FEE_POSITIVE)
    assert message.startswith("inbound_fee_rate_ppm 10 is positive")
    allowing = PolicyValidator(SafetyLimits(allow_positive_inbound=True))
    assert allowing.validate(decision, make_context()).verdict is Verdict.APPROVED


def test_inbound_discount_exceeds_outbound(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    rate = make_decision(kind=DecisionKind.SET_INBOUND_DISCOUNT, inbound_fee_rate_ppm=-150)
    message = only_issue(DEFAULT.validate(rate, make_context()), IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND)
    assert message == "inbound_fee_rate_ppm -150 is a discount of 150, larger than fee_rate_ppm 100"
    base = make_decision(kind=DecisionKind.SET_INBOUND_DISCOUNT, inbound_base_fee_msat=-1_001)
    message = only_issue(DEFAULT.validate(base, make_context()), IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND)
    assert message == "inbound_base_fee_msat -1001 is a discount of 1001, larger than base_fee_msat 1000"
    exact = make_decision(
        kind=DecisionKind.SET_INBOUND_DISCOUNT, inbound_fee_rate_ppm=-100, inbound_base_fee_msat=-1_000
    )
    assert DEFAULT.validate(exact, make_context()).verdict is Verdict.APPROVED


@pytest.mark.parametrize(
    ("capability", "change"),
    [
        ("inbound_fees", {"inbound_fee_rate_ppm": -50}),
        ("inbound_fees", {"inbound_base_fee_msat": -500}),
        ("htlc_limits", {"max_htlc_msat": 400_000_000}),
        ("htlc_limits", {"min_htlc_msat": 2_000}),
        ("time_lock", {"time_lock_delta": 80}),
    ],
)
def test_unsupported_by_backend(
    capability: str, change: dict[str, int], make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    decision = make_decision(**change)
    assert DEFAULT.validate(decision, make_context()).verdict is Verdict.APPROVED
    result = DEFAULT.validate(decision, make_context(capabilities=NodeCapabilities(**{capability: False})))
    ((name, value),) = change.items()
    message = only_issue(result, IssueCode.UNSUPPORTED_BY_BACKEND)
    assert message.startswith(f"{name} ") and f"-> {value} cannot be written" in message
    assert result.issues[0].field == name


def test_unchanged_fields_need_no_capability(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # LNbits can write only fees: a fee-only change passes although HTLC limits and time lock are unsupported.
    context = make_context(
        capabilities=NodeCapabilities(inbound_fees=False, htlc_limits=False, time_lock=False)
    )
    assert DEFAULT.validate(make_decision(fee_rate_ppm=140), context).verdict is Verdict.APPROVED


def test_disabled_flag_is_never_part_of_a_policy_write(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    result = DEFAULT.validate(make_decision(disabled=True), make_context())
    assert only_issue(result, IssueCode.UNSUPPORTED_BY_BACKEND) == (
        "disabled False -> True is not part of a policy update"
    )


# --- several issues, whole-policy checks --------------------------------------------------------------


def test_all_issues_are_collected(make_decision: DecisionFactory, make_context: ContextFactory) -> None:
    decision = make_decision(
        fee_rate_ppm=5_000, base_fee_msat=20_000, min_htlc_msat=0, inbound_fee_rate_ppm=5
    )
    validator = PolicyValidator(SafetyLimits(pinned_channels=frozenset({decision.chan_id})))
    now = make_context().now_s
    context = make_context(
        last_change_s=now - HOUR, node_updates_last_24h=5, capabilities=NodeCapabilities(inbound_fees=False)
    )
    result = validator.validate(decision, context)
    assert result.verdict is Verdict.REJECTED
    assert set(result.codes) == {
        IssueCode.CHANNEL_PINNED,
        IssueCode.FEE_RATE_OUT_OF_BOUNDS,
        IssueCode.BASE_FEE_OUT_OF_BOUNDS,
        IssueCode.MIN_HTLC_NOT_POSITIVE,
        IssueCode.STEP_TOO_LARGE,
        IssueCode.COOLDOWN_ACTIVE,
        IssueCode.DAILY_CAP_REACHED,
        IssueCode.INBOUND_FEE_POSITIVE,
        IssueCode.UNSUPPORTED_BY_BACKEND,
    }
    assert len(result.issues) == len(result.codes) == 9


def test_a_write_is_judged_on_the_fields_it_moves(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    # A hand-set fee above the maximum, a min_htlc of 0 and a max_htlc above the capacity are the node's
    # state, not the write's doing: a write that sends them back unchanged is not refused for them.
    odd = make_policy(fee_rate_ppm=3_000, min_htlc_msat=0, max_htlc_msat=1_000_000_000)
    max_htlc = make_decision(odd, kind=DecisionKind.SET_MAX_HTLC, max_htlc_msat=1_000_000)
    assert DEFAULT.validate(max_htlc, make_context()).verdict is Verdict.APPROVED
    fee = make_decision(make_policy(min_htlc_msat=0), fee_rate_ppm=120)
    assert DEFAULT.validate(fee, make_context()).verdict is Verdict.APPROVED
    # What it moves is checked as before: the fee it proposes, the min_htlc it sets.
    higher = make_decision(odd, fee_rate_ppm=3_300)
    assert only_issue(DEFAULT.validate(higher, make_context()), IssueCode.FEE_RATE_OUT_OF_BOUNDS)
    assert only_issue(
        DEFAULT.validate(make_decision(min_htlc_msat=0), make_context()), IssueCode.MIN_HTLC_NOT_POSITIVE
    )


def test_a_rule_between_two_fields_binds_a_write_that_moves_either(
    make_policy: PolicyFactory, make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    discounted = make_policy(fee_rate_ppm=200, inbound_fee_rate_ppm=-150)
    # Cutting the outbound fee below the existing discount makes the discount a subsidy: refused.
    cut = make_decision(discounted, kind=DecisionKind.LOWER_FEE, fee_rate_ppm=140)
    message = only_issue(DEFAULT.validate(cut, make_context()), IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND)
    assert message == "inbound_fee_rate_ppm -150 is a discount of 150, larger than fee_rate_ppm 140"
    # Lowering max_htlc below an unchanged min_htlc is refused too.
    below = make_decision(
        make_policy(min_htlc_msat=2_000_000), kind=DecisionKind.SET_MAX_HTLC, max_htlc_msat=1_000_000
    )
    assert only_issue(DEFAULT.validate(below, make_context()), IssueCode.MIN_HTLC_ABOVE_MAX_HTLC)


# --- batch: the daily cap is shared, most confident first -------------------------------------------


def channels(make_context: ContextFactory, count: int) -> tuple[list[str], dict[str, ValidationContext]]:
    """`count` channel ids and a default context for each."""
    chan_ids = [str(1_000 + index) for index in range(count)]
    return chan_ids, {chan_id: make_context() for chan_id in chan_ids}


def test_batch_spends_the_daily_cap_on_the_most_confident(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    confidences = [0.3, 0.9, 0.1, 0.7, 0.5, 0.8, 0.6]
    chan_ids, contexts = channels(make_context, len(confidences))
    decisions = [
        make_decision(chan_id=chan_id, confidence=confidence, fee_rate_ppm=140)
        for chan_id, confidence in zip(chan_ids, confidences, strict=True)
    ]
    results = DEFAULT.validate_batch(decisions, contexts, node_updates_last_24h=0)
    assert [result.chan_id for result in results] == chan_ids  # input order
    verdicts = {confidence: result.verdict for confidence, result in zip(confidences, results, strict=True)}
    assert [c for c, v in verdicts.items() if v is Verdict.APPROVED] == [0.9, 0.7, 0.5, 0.8, 0.6]
    rejected = [result for result in results if result.verdict is Verdict.REJECTED]
    assert [result.codes for result in rejected] == [[IssueCode.DAILY_CAP_REACHED]] * 2
    assert "already made 5 policy updates" in rejected[0].issues[0].message


def test_batch_gives_raises_the_budget_before_more_confident_cuts(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    chan_ids, contexts = channels(make_context, 7)
    cuts = [
        make_decision(chan_id=chan_id, kind=DecisionKind.LOWER_FEE, confidence=0.9, fee_rate_ppm=80)
        for chan_id in chan_ids[:5]
    ]
    raises = [make_decision(chan_id=chan_id, confidence=0.2, fee_rate_ppm=120) for chan_id in chan_ids[5:]]
    results = DEFAULT.validate_batch([*cuts, *raises], contexts, node_updates_last_24h=0)
    verdicts = [result.verdict for result in results]
    # Both raises pass although every cut is more confident; the cap of 5 leaves three cuts.
    assert verdicts[5:] == [Verdict.APPROVED] * 2
    assert verdicts[:5] == [Verdict.APPROVED] * 3 + [Verdict.REJECTED] * 2


def test_batch_counts_updates_already_made_and_skips_non_writes(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    confidences = [0.2, 0.99, 0.95, 0.5, 0.4]
    chan_ids, contexts = channels(make_context, len(confidences))
    decisions = [
        make_decision(chan_id=chan_ids[0], confidence=0.2, fee_rate_ppm=140),
        make_decision(chan_id=chan_ids[1], confidence=0.99, kind=DecisionKind.HOLD),  # no slot used
        make_decision(chan_id=chan_ids[2], confidence=0.95, fee_rate_ppm=9_999),  # rejected: no slot used
        make_decision(chan_id=chan_ids[3], confidence=0.5, fee_rate_ppm=140),
        make_decision(chan_id=chan_ids[4], confidence=0.4, fee_rate_ppm=140),
    ]
    results = DEFAULT.validate_batch(decisions, contexts, node_updates_last_24h=3)
    assert [result.verdict for result in results] == [
        Verdict.REJECTED,
        Verdict.NO_WRITE,
        Verdict.REJECTED,
        Verdict.APPROVED,
        Verdict.APPROVED,
    ]
    assert results[0].codes == [IssueCode.DAILY_CAP_REACHED]
    assert IssueCode.DAILY_CAP_REACHED not in results[2].codes


def test_batch_ties_keep_input_order_and_manual_approval_uses_slots(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    chan_ids, contexts = channels(make_context, 3)
    decisions = [make_decision(chan_id=chan_id, confidence=0.5, fee_rate_ppm=140) for chan_id in chan_ids]
    validator = PolicyValidator(SafetyLimits(daily_cap=2, require_manual_approval=True))
    results = validator.validate_batch(decisions, contexts, node_updates_last_24h=0)
    assert [result.verdict for result in results] == [
        Verdict.NEEDS_APPROVAL,
        Verdict.NEEDS_APPROVAL,
        Verdict.REJECTED,
    ]


def test_batch_second_write_to_the_same_channel_meets_the_cooldown(
    make_decision: DecisionFactory, make_context: ContextFactory
) -> None:
    fee = make_decision(confidence=0.9, fee_rate_ppm=140)
    htlc = make_decision(confidence=0.4, kind=DecisionKind.SET_MAX_HTLC, max_htlc_msat=400_000_000)
    results = DEFAULT.validate_batch([htlc, fee], {fee.chan_id: make_context()}, node_updates_last_24h=0)
    assert results[1].verdict is Verdict.APPROVED
    assert results[0].codes == [IssueCode.COOLDOWN_ACTIVE]


def test_batch_without_a_context_is_refused(make_decision: DecisionFactory) -> None:
    decision = make_decision(fee_rate_ppm=140)
    with pytest.raises(InvalidInputError, match=decision.chan_id):
        DEFAULT.validate_batch([decision], {}, node_updates_last_24h=0)


def test_batch_of_nothing_is_empty() -> None:
    assert DEFAULT.validate_batch([], {}, node_updates_last_24h=0) == []


def test_context_for_channel_takes_capacity_and_reserve() -> None:
    channel = Channel(
        chan_id="123",
        channel_point="ab" * 32 + ":1",
        remote_pubkey="02" + "11" * 32,
        capacity_sat=2_000_000,
        local_balance_sat=1_000_000,
        remote_balance_sat=900_000,
        local_reserve_sat=20_000,
        local_policy=ChannelPolicy(),
    )
    context = ValidationContext.for_channel(
        channel, now_s=5, last_change_s=1, capabilities=NodeCapabilities(htlc_limits=False)
    )
    assert (context.capacity_sat, context.local_reserve_sat, context.now_s) == (2_000_000, 20_000, 5)
    assert (
        context.last_change_s == 1 and not context.capabilities.htlc_limits and context.capabilities.time_lock
    )
