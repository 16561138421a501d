"""Property tests: the validator lets through only proposals within every limit, checked independently.

The oracle below re-derives every rule from the limits with exact decimal arithmetic and never calls
the validator's helpers, so a slip in either shows up as a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext

from hypothesis import HealthCheck, Phase, event, find, given, settings, target
from hypothesis import strategies as st

from app.domain.capabilities import NodeCapabilities
from app.domain.decision import Decision, DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.validation import IssueCode, Verdict
from app.policy import PolicyValidator, SafetyLimits, ValidationContext
from tests.factories import known

from .conftest import build_decision

HUGE = 2**63 - 1  # int64 maximum: LND's JSON integers never go beyond
CHAN_ID = "871234567890123456"
OTHER_CHAN_ID = "123"
WRITING = (
    DecisionKind.RAISE_FEE,
    DecisionKind.LOWER_FEE,
    DecisionKind.SET_INBOUND_DISCOUNT,
    DecisionKind.SET_MAX_HTLC,
)
NOT_WRITING = (DecisionKind.HOLD, DecisionKind.SUGGEST_REBALANCE, DecisionKind.SUGGEST_CLOSE)
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    """One generated proposal with the limits and context it is validated under."""

    limits: SafetyLimits
    context: ValidationContext
    decision: Decision


# --- independent re-derivation of the limits (exact decimals, no validator code) --------------------


def dec(value: float) -> Decimal:
    """The decimal an operator wrote in the profile (str() of a float is its shortest round trip)."""
    return Decimal(str(value))


def reserve_sat(limits: SafetyLimits, context: ValidationContext) -> int:
    """The channel's reserve, or the configured share of its capacity rounded up when unknown."""
    if context.local_reserve_sat > 0:
        return context.local_reserve_sat
    with localcontext() as exact:
        exact.prec = 100
        return int(
            (dec(limits.max_htlc_reserve_ratio) * context.capacity_sat).to_integral_value(ROUND_CEILING)
        )


def expected_issues(limits: SafetyLimits, context: ValidationContext, decision: Decision) -> set[IssueCode]:
    """Every hard-limit rule a writing proposal breaks, derived from the limits alone."""
    old, new = decision.current_policy, decision.proposed_policy
    found: set[IssueCode] = set()

    def rule(code: IssueCode, broken: bool) -> None:
        if broken:
            found.add(code)

    def moved(*names: str) -> bool:
        """A write answers for a limit on what it changes (a field sent back unchanged is the node's state)."""
        return any(getattr(old, name) != getattr(new, name) for name in names)

    with localcontext() as exact:
        exact.prec = 100
        rule(IssueCode.CHANNEL_PINNED, decision.chan_id in limits.pinned_channels)
        rule(IssueCode.CHANNEL_EXCLUDED, decision.chan_id in limits.excluded_channels)
        rule(
            IssueCode.FEE_RATE_OUT_OF_BOUNDS,
            moved("fee_rate_ppm")
            and not limits.fee_rate_min_ppm <= new.fee_rate_ppm <= limits.fee_rate_max_ppm,
        )
        rule(
            IssueCode.BASE_FEE_OUT_OF_BOUNDS,
            moved("base_fee_msat")
            and not limits.base_fee_min_msat <= new.base_fee_msat <= limits.base_fee_max_msat,
        )
        rule(
            IssueCode.TIME_LOCK_OUT_OF_BOUNDS,
            moved("time_lock_delta")
            and not limits.time_lock_delta_min <= known(new.time_lock_delta) <= limits.time_lock_delta_max,
        )
        rule(IssueCode.MIN_HTLC_NOT_POSITIVE, moved("min_htlc_msat") and known(new.min_htlc_msat) < 1)
        if known(new.max_htlc_msat) == 0:
            rule(IssueCode.MAX_HTLC_UNSET, known(old.max_htlc_msat) != 0)
        else:
            room_msat = 1_000 * context.capacity_sat - 1_000 * reserve_sat(limits, context)
            rule(
                IssueCode.MAX_HTLC_ABOVE_CAPACITY,
                moved("max_htlc_msat") and known(new.max_htlc_msat) > room_msat,
            )
            rule(
                IssueCode.MIN_HTLC_ABOVE_MAX_HTLC,
                moved("min_htlc_msat", "max_htlc_msat")
                and known(new.min_htlc_msat) > known(new.max_htlc_msat),
            )
        if new.fee_rate_ppm != old.fee_rate_ppm:
            move = abs(new.fee_rate_ppm - old.fee_rate_ppm)
            rule(
                IssueCode.STEP_TOO_LARGE,
                move > dec(limits.max_step_ratio) * old.fee_rate_ppm and move > limits.step_floor_ppm,
            )
            rule(
                IssueCode.CHANGE_TOO_SMALL,
                move < limits.min_change_ppm
                or (old.fee_rate_ppm > 0 and move < dec(limits.min_change_ratio) * old.fee_rate_ppm),
            )
        rule(
            IssueCode.COOLDOWN_ACTIVE,
            context.last_change_s is not None
            and context.now_s - context.last_change_s < dec(limits.cooldown_hours) * 3_600,
        )
        rule(IssueCode.DAILY_CAP_REACHED, context.node_updates_last_24h >= limits.daily_cap)
    positive = (moved("inbound_fee_rate_ppm") and known(new.inbound_fee_rate_ppm) > 0) or (
        moved("inbound_base_fee_msat") and known(new.inbound_base_fee_msat) > 0
    )
    rule(IssueCode.INBOUND_FEE_POSITIVE, positive and not limits.allow_positive_inbound)
    rule(
        IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND,
        (
            moved("inbound_fee_rate_ppm", "fee_rate_ppm")
            and known(new.inbound_fee_rate_ppm) < -new.fee_rate_ppm
        )
        or (
            moved("inbound_base_fee_msat", "base_fee_msat")
            and known(new.inbound_base_fee_msat) < -new.base_fee_msat
        ),
    )
    inbound_changed = (known(old.inbound_fee_rate_ppm), known(old.inbound_base_fee_msat)) != (
        known(new.inbound_fee_rate_ppm),
        known(new.inbound_base_fee_msat),
    )
    htlc_changed = (known(old.min_htlc_msat), known(old.max_htlc_msat)) != (
        known(new.min_htlc_msat),
        known(new.max_htlc_msat),
    )
    rule(
        IssueCode.UNSUPPORTED_BY_BACKEND,
        (inbound_changed and not context.capabilities.inbound_fees)
        or (htlc_changed and not context.capabilities.htlc_limits)
        or (known(old.time_lock_delta) != known(new.time_lock_delta) and not context.capabilities.time_lock)
        or old.disabled != new.disabled,
    )
    return found


# --- strategies -------------------------------------------------------------------------------------


def near(*points: int) -> st.SearchStrategy[int]:
    """Non-negative values on and next to the given points, plus 0, 1 and huge."""
    values = {value for point in points for value in (point - 1, point, point + 1)} | {0, 1, HUGE}
    return st.sampled_from(sorted(value for value in values if value >= 0))


def mostly(draw: st.DrawFn, inside: st.SearchStrategy[int], edges: st.SearchStrategy[int]) -> int:
    """Usually (7 in 8) a value from `inside`, else an edge value; shrinks towards `inside`.

    Each field breaks its limit only now and then, so that a fair share of the generated proposals
    breaks nothing at all and the "approved" side of the properties is exercised too.
    """
    return draw(inside) if draw(st.integers(0, 7)) else draw(edges)


def ordered_pair(draw: st.DrawFn, low: int, high: int) -> tuple[int, int]:
    """Two sorted integers in [low, high]."""
    first, second = draw(st.integers(low, high)), draw(st.integers(low, high))
    return min(first, second), max(first, second)


@st.composite
def limits_strategy(draw: st.DrawFn, chan_id: str = CHAN_ID, min_daily_cap: int = 0) -> SafetyLimits:
    """Random but consistent limits; the channel is pinned or excluded one time in ten."""
    fee_min, fee_max = ordered_pair(draw, 0, 5_000)
    base_min, base_max = ordered_pair(draw, 0, 20_000)
    lock_min, lock_max = ordered_pair(draw, 24, 2_016)
    max_step_ratio = draw(st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.0]) | st.floats(0.01, 3.0))
    min_change_ratio = draw(
        st.sampled_from([0.0, min(0.05, max_step_ratio), min(1.0, max_step_ratio)])
        | st.floats(0.0, min(1.0, max_step_ratio))
    )
    step_floor = draw(st.sampled_from([1, 50]) | st.integers(1, 200))
    special = draw(st.integers(0, 39))
    return SafetyLimits(
        fee_rate_min_ppm=fee_min,
        fee_rate_max_ppm=fee_max,
        base_fee_min_msat=base_min,
        base_fee_max_msat=base_max,
        time_lock_delta_min=lock_min,
        time_lock_delta_max=lock_max,
        max_step_ratio=max_step_ratio,
        step_floor_ppm=step_floor,
        min_change_ppm=draw(st.integers(1, step_floor)),
        min_change_ratio=min_change_ratio,
        cooldown_hours=draw(st.sampled_from([24.0, 12.0, 12.5, 48.0])),
        daily_cap=draw(st.integers(min_daily_cap, 8)),
        pinned_channels=frozenset({chan_id if special == 1 else OTHER_CHAN_ID}),
        excluded_channels=frozenset({chan_id} if special == 2 else set()),
        require_manual_approval=draw(st.integers(0, 3)) == 0,
        allow_positive_inbound=draw(st.booleans()),
        max_htlc_reserve_ratio=draw(st.sampled_from([0.01, 0.0, 0.05, 0.2, 0.333])),
    )


@st.composite
def context_strategy(draw: st.DrawFn, limits: SafetyLimits) -> ValidationContext:
    """A context near the cooldown and daily-cap edges, with capacities from 0 to huge."""
    capacity = mostly(draw, st.integers(20_000, 10**9), st.sampled_from([0, 1, 100, 16_777_215, 10**12]))
    reserve = mostly(
        draw, st.sampled_from([0, capacity // 100]), st.sampled_from([capacity - 1, capacity, capacity + 1])
    )
    now = draw(st.integers(10**9, 2 * 10**9))
    cooldown_s = int(limits.cooldown_hours * 3_600)
    since = mostly(
        draw, st.integers(cooldown_s, 3 * cooldown_s), near(cooldown_s) | st.integers(0, cooldown_s)
    )
    updates = mostly(draw, st.integers(0, max(0, limits.daily_cap - 1)), near(limits.daily_cap))
    return ValidationContext(
        capacity_sat=capacity,
        local_reserve_sat=max(0, reserve),
        now_s=now,
        last_change_s=None if draw(st.booleans()) else max(0, now - since),
        node_updates_last_24h=updates,
        capabilities=NodeCapabilities(
            inbound_fees=draw(st.integers(0, 4)) > 0,
            htlc_limits=draw(st.integers(0, 4)) > 0,
            time_lock=draw(st.integers(0, 4)) > 0,
        ),
    )


def proposed_fee(draw: st.DrawFn, old: int, limits: SafetyLimits) -> int:
    """A new fee rate: unchanged, anywhere, or a move near the step-cap and minimum-change edges."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return old
    if choice == 1:
        return mostly(
            draw, st.integers(limits.fee_rate_min_ppm, limits.fee_rate_max_ppm), near(limits.fee_rate_max_ppm)
        )
    step_cap = max(int(old * limits.max_step_ratio), limits.step_floor_ppm)
    needed = max(limits.min_change_ppm, int(old * limits.min_change_ratio) + 1)
    move = mostly(draw, st.integers(min(needed, step_cap), max(needed, step_cap)), near(step_cap, needed))
    return max(0, old + move * draw(st.sampled_from([1, -1])))


@st.composite
def case_strategy(draw: st.DrawFn) -> Case:
    """Random limits, context and proposal, biased towards values on and around every limit."""
    limits = draw(limits_strategy())
    context = draw(context_strategy(limits))
    room_msat = max(0, (context.capacity_sat - reserve_sat(limits, context)) * 1_000)
    fee_range = st.integers(limits.fee_rate_min_ppm, limits.fee_rate_max_ppm)
    base_range = st.integers(limits.base_fee_min_msat, limits.base_fee_max_msat)
    lock_range = st.integers(limits.time_lock_delta_min, limits.time_lock_delta_max)

    def policy(fee: int, base: int, reference: ChannelPolicy | None) -> ChannelPolicy:
        """A policy whose other fields are usually `reference`'s (when given) and otherwise random."""

        def pick(name: str, inside: st.SearchStrategy[int], edges: st.SearchStrategy[int]) -> int:
            if reference is not None and draw(st.integers(0, 2)) > 0:
                return int(getattr(reference, name))
            return mostly(draw, inside, edges)

        min_htlc = pick("min_htlc_msat", st.sampled_from([1_000, 1]), st.sampled_from([0, HUGE]))
        max_htlc_inside = st.integers(min(min_htlc, room_msat), room_msat)
        return ChannelPolicy(
            fee_rate_ppm=fee,
            base_fee_msat=base,
            time_lock_delta=pick(
                "time_lock_delta", lock_range, near(limits.time_lock_delta_min, limits.time_lock_delta_max)
            ),
            min_htlc_msat=min_htlc,
            max_htlc_msat=pick("max_htlc_msat", max_htlc_inside, near(0, room_msat, min_htlc)),
            inbound_fee_rate_ppm=pick(
                "inbound_fee_rate_ppm", st.integers(-fee, 0), st.sampled_from([-fee - 1, 1, 10])
            ),
            inbound_base_fee_msat=pick(
                "inbound_base_fee_msat", st.integers(-base, 0), st.sampled_from([-base - 1, 1, 10])
            ),
            disabled=bool(reference and reference.disabled) if draw(st.integers(0, 15)) else True,
        )

    old_fee = mostly(draw, fee_range, near(limits.fee_rate_min_ppm, limits.fee_rate_max_ppm))
    old_base = mostly(draw, base_range, near(limits.base_fee_min_msat, limits.base_fee_max_msat))
    current = policy(old_fee, old_base, None)
    new_base = old_base if draw(st.booleans()) else mostly(draw, base_range, near(limits.base_fee_max_msat))
    proposed = policy(proposed_fee(draw, old_fee, limits), new_base, current)
    kind = draw(st.sampled_from(WRITING)) if draw(st.integers(0, 9)) else draw(st.sampled_from(NOT_WRITING))
    decision = build_decision(current, kind, chan_id=CHAN_ID, proposed=proposed)
    return Case(limits, context, decision)


# --- properties -------------------------------------------------------------------------------------


def writes(decision: Decision) -> bool:
    """Whether the validator has to judge this decision at all."""
    return decision.kind.writes_policy and decision.proposed_policy != decision.current_policy


@FAST
@given(case_strategy())
def test_verdict_matches_the_independent_oracle(case: Case) -> None:
    result = PolicyValidator(case.limits).validate(case.decision, case.context)
    event(f"verdict {result.verdict.value}")
    if not writes(case.decision):
        assert result.verdict is Verdict.NO_WRITE
        assert result.codes in ([IssueCode.ADVISORY_ONLY], [IssueCode.NO_CHANGE])
        return
    expected = expected_issues(case.limits, case.context, case.decision)
    for code in expected:
        event(f"issue {code.value}")
    assert set(result.codes) - {IssueCode.MANUAL_APPROVAL_REQUIRED} == expected
    if expected:
        assert result.verdict is Verdict.REJECTED
        assert all(issue.message for issue in result.issues)
    elif case.limits.require_manual_approval:
        assert result.verdict is Verdict.NEEDS_APPROVAL
        assert result.codes == [IssueCode.MANUAL_APPROVAL_REQUIRED]
    else:
        assert result.verdict is Verdict.APPROVED
        assert result.issues == []


@FAST
@given(case_strategy())
def test_every_proposal_let_through_satisfies_every_bound(case: Case) -> None:
    limits, context = case.limits, case.context
    result = PolicyValidator(limits).validate(case.decision, context)
    passed = result.verdict in (Verdict.APPROVED, Verdict.NEEDS_APPROVAL)
    target(float(passed), label="proposals let through")  # steers generation away from a vacuous run
    if not passed:
        return
    event("let through")
    old, new = case.decision.current_policy, case.decision.proposed_policy
    assert case.decision.kind.writes_policy and new != old
    assert CHAN_ID not in limits.pinned_channels | limits.excluded_channels
    changed = set(old.changed_fields(new))
    # Every field the write moves is within its limits (one it sends back unchanged is the node's state).
    if "fee_rate_ppm" in changed:
        assert limits.fee_rate_min_ppm <= new.fee_rate_ppm <= limits.fee_rate_max_ppm
    if "base_fee_msat" in changed:
        assert limits.base_fee_min_msat <= new.base_fee_msat <= limits.base_fee_max_msat
    if "time_lock_delta" in changed:
        assert limits.time_lock_delta_min <= known(new.time_lock_delta) <= limits.time_lock_delta_max
    if "min_htlc_msat" in changed:
        assert known(new.min_htlc_msat) > 0
    if known(new.max_htlc_msat) == 0:
        assert known(old.max_htlc_msat) == 0
    elif changed & {"min_htlc_msat", "max_htlc_msat"}:
        assert known(new.min_htlc_msat) <= known(new.max_htlc_msat)
    if "max_htlc_msat" in changed and known(new.max_htlc_msat):
        assert known(new.max_htlc_msat) <= (context.capacity_sat - reserve_sat(limits, context)) * 1_000
    move = abs(new.fee_rate_ppm - old.fee_rate_ppm)
    if move:
        assert move <= limits.step_floor_ppm or move <= dec(limits.max_step_ratio) * old.fee_rate_ppm
        assert move >= limits.min_change_ppm
        assert move >= dec(limits.min_change_ratio) * old.fee_rate_ppm
    if context.last_change_s is not None:
        assert context.now_s - context.last_change_s >= dec(limits.cooldown_hours) * 3_600
    assert context.node_updates_last_24h < limits.daily_cap
    if not limits.allow_positive_inbound:
        assert "inbound_fee_rate_ppm" not in changed or known(new.inbound_fee_rate_ppm) <= 0
        assert "inbound_base_fee_msat" not in changed or known(new.inbound_base_fee_msat) <= 0
    if changed & {"inbound_fee_rate_ppm", "fee_rate_ppm"}:
        assert -known(new.inbound_fee_rate_ppm) <= new.fee_rate_ppm
    if changed & {"inbound_base_fee_msat", "base_fee_msat"}:
        assert -known(new.inbound_base_fee_msat) <= new.base_fee_msat
    assert "disabled" not in changed
    if not context.capabilities.inbound_fees:
        assert not changed & {"inbound_fee_rate_ppm", "inbound_base_fee_msat"}
    if not context.capabilities.htlc_limits:
        assert not changed & {"min_htlc_msat", "max_htlc_msat"}
    if not context.capabilities.time_lock:
        assert "time_lock_delta" not in changed


def test_the_random_strategy_produces_approvals_and_manual_approvals() -> None:
    def verdict(case: Case) -> Verdict:
        return PolicyValidator(case.limits).validate(case.decision, case.context).verdict

    # Generation only: the point is that such a case exists, shrinking it would just cost time.
    quick = settings(max_examples=2_000, database=None, deadline=None, phases=[Phase.generate])
    # find raises NoSuchExample when no generated case is approved
    find(case_strategy(), lambda c: verdict(c) is Verdict.APPROVED, settings=quick)
    found = find(case_strategy(), lambda c: verdict(c) is Verdict.NEEDS_APPROVAL, settings=quick)
    assert found.limits.require_manual_approval


def inside(draw: st.DrawFn, low: int, high: int) -> int:
    """A value in [low, high], edges included often."""
    return draw(st.sampled_from([low, high]) | st.integers(low, high))


@st.composite
def valid_case_strategy(draw: st.DrawFn) -> Case:
    """A proposal built to respect every limit (only its current policy may be anything)."""
    limits = draw(limits_strategy(chan_id=OTHER_CHAN_ID, min_daily_cap=1))
    capacity = draw(st.integers(20_000, 10**9))
    now = draw(st.integers(10**9, 2 * 10**9))
    since = draw(st.none() | st.integers(int(limits.cooldown_hours * 3_600) + 1, 10**7))
    context = ValidationContext(
        capacity_sat=capacity,
        local_reserve_sat=draw(st.sampled_from([0, capacity // 100]) | st.integers(0, capacity // 2)),
        now_s=now,
        last_change_s=None if since is None else now - since,
        node_updates_last_24h=inside(draw, 0, limits.daily_cap - 1),
        capabilities=NodeCapabilities(
            inbound_fees=draw(st.booleans()), htlc_limits=draw(st.booleans()), time_lock=draw(st.booleans())
        ),
    )
    room_msat = (capacity - reserve_sat(limits, context)) * 1_000

    old_fee = inside(draw, limits.fee_rate_min_ppm, limits.fee_rate_max_ppm)
    with localcontext() as exact:
        exact.prec = 100
        step = max(int(dec(limits.max_step_ratio) * old_fee), limits.step_floor_ppm)
        needed = max(
            limits.min_change_ppm,
            int((dec(limits.min_change_ratio) * old_fee).to_integral_value(ROUND_CEILING)),
            1,
        )
    moves = [
        (low, high)
        for low, high in (
            (max(old_fee + needed, limits.fee_rate_min_ppm), min(old_fee + step, limits.fee_rate_max_ppm)),
            (max(old_fee - step, limits.fee_rate_min_ppm, 0), min(old_fee - needed, limits.fee_rate_max_ppm)),
        )
        if low <= high
    ]
    keep_fee = not moves or draw(st.integers(0, 3)) == 0
    new_fee = old_fee if keep_fee else inside(draw, *draw(st.sampled_from(moves)))
    new_base = inside(draw, limits.base_fee_min_msat, limits.base_fee_max_msat)
    new_lock = inside(draw, limits.time_lock_delta_min, limits.time_lock_delta_max)
    new_min = inside(draw, 1, min(room_msat, 10**7))
    new_max = inside(draw, new_min, room_msat)
    new_in_rate = inside(draw, -new_fee, 1_000 if limits.allow_positive_inbound else 0)
    new_in_base = inside(draw, -new_base, 1_000 if limits.allow_positive_inbound else 0)
    any_int = near(0, 24, 144, 10**6)
    current = ChannelPolicy(
        fee_rate_ppm=old_fee,
        base_fee_msat=draw(any_int),
        time_lock_delta=new_lock if not context.capabilities.time_lock else draw(any_int),
        min_htlc_msat=new_min if not context.capabilities.htlc_limits else draw(any_int),
        max_htlc_msat=new_max if not context.capabilities.htlc_limits else draw(any_int),
        inbound_fee_rate_ppm=new_in_rate if not context.capabilities.inbound_fees else -draw(any_int),
        inbound_base_fee_msat=new_in_base if not context.capabilities.inbound_fees else draw(any_int),
    )
    proposed = ChannelPolicy(
        fee_rate_ppm=new_fee,
        base_fee_msat=new_base,
        time_lock_delta=new_lock,
        min_htlc_msat=new_min,
        max_htlc_msat=new_max,
        inbound_fee_rate_ppm=new_in_rate,
        inbound_base_fee_msat=new_in_base,
    )
    decision = build_decision(current, draw(st.sampled_from(WRITING)), chan_id=CHAN_ID, proposed=proposed)
    return Case(limits, context, decision)


@FAST
@given(valid_case_strategy())
def test_proposals_within_every_limit_are_let_through(case: Case) -> None:
    result = PolicyValidator(case.limits).validate(case.decision, case.context)
    if case.decision.proposed_policy == case.decision.current_policy:
        assert result.verdict is Verdict.NO_WRITE
        return
    event(f"fee rate {'changed' if 'fee_rate_ppm' in case.decision.changed_fields else 'kept'}")
    if case.limits.require_manual_approval:
        assert result.verdict is Verdict.NEEDS_APPROVAL, result.issues
        assert result.codes == [IssueCode.MANUAL_APPROVAL_REQUIRED]
    else:
        assert result.verdict is Verdict.APPROVED, result.issues


@st.composite
def batch_strategy(draw: st.DrawFn) -> tuple[SafetyLimits, list[Decision], dict[str, ValidationContext], int]:
    """A node's batch: limits, decisions on distinct channels, their contexts and today's update count."""
    limits = draw(limits_strategy(chan_id=OTHER_CHAN_ID))
    count = draw(st.integers(0, 12))
    decisions, contexts = [], {}
    for index in range(count):
        chan_id = str(10_000 + index)
        current = ChannelPolicy(
            fee_rate_ppm=limits.fee_rate_min_ppm,
            base_fee_msat=limits.base_fee_min_msat,
            time_lock_delta=limits.time_lock_delta_min,
            max_htlc_msat=0,
        )
        step = max(limits.min_change_ppm, 1)
        new_fee = current.fee_rate_ppm + draw(st.sampled_from([0, step, 10 * step]))
        kind = draw(st.sampled_from(WRITING + NOT_WRITING[:1]))
        confidence = draw(st.sampled_from([0.1, 0.5, 0.9]) | st.floats(0.0, 1.0))
        decisions.append(
            build_decision(current, kind, chan_id=chan_id, confidence=confidence, fee_rate_ppm=new_fee)
        )
        contexts[chan_id] = ValidationContext(capacity_sat=10**6, now_s=10**9)
    return limits, decisions, contexts, draw(st.integers(0, limits.daily_cap + 1))


@FAST
@given(batch_strategy())
def test_batch_never_exceeds_the_daily_cap_and_prefers_raises_then_confidence(
    batch: tuple[SafetyLimits, list[Decision], dict[str, ValidationContext], int],
) -> None:
    limits, decisions, contexts, used = batch
    validator = PolicyValidator(limits)
    results = validator.validate_batch(decisions, contexts, node_updates_last_24h=used)
    assert [result.chan_id for result in results] == [decision.chan_id for decision in decisions]
    pairs = list(zip(decisions, results, strict=True))
    through = [d for d, r in pairs if r.verdict in (Verdict.APPROVED, Verdict.NEEDS_APPROVAL)]
    capped = [d for d, r in pairs if r.codes == [IssueCode.DAILY_CAP_REACHED]]
    event(f"let through {len(through)}, capped {len(capped)}")
    assert len(through) <= max(0, limits.daily_cap - used)
    if through and capped:
        # Raises claim the budget first, then the most confident of the rest.
        def rank(decision: Decision) -> tuple[bool, float]:
            return decision.kind is not DecisionKind.RAISE_FEE, -decision.confidence

        assert max(map(rank, through)) <= min(map(rank, capped))
    for decision, result in pairs:
        context = contexts[decision.chan_id].model_copy(update={"node_updates_last_24h": used})
        alone = validator.validate(decision, context)
        # The shared cap can only add DAILY_CAP_REACHED rejections, never remove an issue.
        assert set(alone.codes) <= set(result.codes) | {IssueCode.MANUAL_APPROVAL_REQUIRED}
        if result.verdict is not alone.verdict:
            assert IssueCode.DAILY_CAP_REACHED in result.codes
