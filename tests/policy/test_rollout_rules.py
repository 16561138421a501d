"""Rollout gates, flow checks, demotion, stage order and the transaction and outcome state machines."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import pytest

from app.domain.execution import (
    NEXT_OUTCOMES,
    NEXT_STATES,
    SETTLED_OUTCOMES,
    ChannelOutcome,
    ExecutionMode,
    RolloutStage,
    TransactionState,
)
from app.policy.rollout import (
    CanaryEvidence,
    CheckStatus,
    FlowComparison,
    GateCheck,
    GateReport,
    RolloutRules,
    ShadowEvidence,
    canary_gate,
    demotion_reasons,
    flow_checks,
    shadow_gate,
)

RULES = RolloutRules()  # 14 shadow days, 3 canary days, 3 cycles, 10 forwards, 10 % tolerance
GOOD_SHADOW = ShadowEvidence(days_in_stage=14.0, cycles=3, unsafe_proposals=0, node_errors=0)
# Baseline and elapsed time equal, so what is expected after equals what was seen before.
STEADY = FlowComparison(
    baseline_days=8.0,
    elapsed_days=8.0,
    revenue_before_msat=100_000,
    revenue_after_msat=100_000,
    forwards_before=100,
    forwards_after=100,
)
GOOD_CANARY = CanaryEvidence(
    days_in_stage=3.0, writes=4, unverified_writes=0, automatic_rollbacks=0, flow=STEADY
)


def statuses(checks: list[GateCheck]) -> dict[str, CheckStatus]:
    """Each check's status by name."""
    return {check.name: check.status for check in checks}


def check(name: str, status: CheckStatus) -> GateCheck:
    """A gate check with a placeholder detail."""
    return GateCheck(name=name, status=status, detail="-")


# --- shadow gate ------------------------------------------------------------------------------------


def test_shadow_gate_passes_with_enough_time_and_cycles_and_no_problems():
    checks = shadow_gate(GOOD_SHADOW, RULES)
    assert statuses(checks) == {
        "time_in_stage": CheckStatus.PASSED,
        "shadow_cycles": CheckStatus.PASSED,
        "no_unsafe_proposal": CheckStatus.PASSED,
        "no_node_errors": CheckStatus.PASSED,
    }


def test_shadow_gate_waits_for_time_and_cycles():
    checks = statuses(shadow_gate(replace(GOOD_SHADOW, days_in_stage=13.99, cycles=2), RULES))
    assert checks["time_in_stage"] is CheckStatus.PENDING
    assert checks["shadow_cycles"] is CheckStatus.PENDING
    assert checks["no_unsafe_proposal"] is CheckStatus.PASSED


def test_shadow_gate_fails_on_an_unsafe_proposal_or_a_node_error():
    checks = statuses(shadow_gate(replace(GOOD_SHADOW, unsafe_proposals=1, node_errors=2), RULES))
    assert checks["no_unsafe_proposal"] is CheckStatus.FAILED
    assert checks["no_node_errors"] is CheckStatus.FAILED
    assert checks["time_in_stage"] is CheckStatus.PASSED


def test_shadow_gate_uses_the_configured_thresholds():
    rules = RolloutRules(shadow_days=1.0, min_cycles=10)
    checks = statuses(shadow_gate(replace(GOOD_SHADOW, days_in_stage=1.0, cycles=9), rules))
    assert checks["time_in_stage"] is CheckStatus.PASSED
    assert checks["shadow_cycles"] is CheckStatus.PENDING


# --- canary gate ------------------------------------------------------------------------------------


def test_canary_gate_passes_with_verified_writes_and_steady_flow():
    checks = canary_gate(GOOD_CANARY, RULES)
    assert statuses(checks) == {
        "time_in_stage": CheckStatus.PASSED,
        "writes_made": CheckStatus.PASSED,
        "every_write_verified": CheckStatus.PASSED,
        "no_automatic_rollback": CheckStatus.PASSED,
        "revenue_not_worse": CheckStatus.PASSED,
        "forwards_not_worse": CheckStatus.PASSED,
    }


def test_canary_gate_waits_for_time_and_a_first_write():
    checks = statuses(canary_gate(replace(GOOD_CANARY, days_in_stage=2.5, writes=0), RULES))
    assert checks["time_in_stage"] is CheckStatus.PENDING
    assert checks["writes_made"] is CheckStatus.PENDING


def test_canary_gate_fails_on_an_unverified_write_or_an_automatic_rollback():
    evidence = replace(GOOD_CANARY, unverified_writes=1, automatic_rollbacks=1)
    checks = statuses(canary_gate(evidence, RULES))
    assert checks["every_write_verified"] is CheckStatus.FAILED
    assert checks["no_automatic_rollback"] is CheckStatus.FAILED


def test_canary_gate_without_forwarding_history_leaves_the_flow_unjudged():
    checks = canary_gate(replace(GOOD_CANARY, flow=None), RULES)
    assert checks[-1].name == "revenue_not_worse"
    assert checks[-1].status is CheckStatus.UNJUDGED
    assert "forwards_not_worse" not in statuses(checks)


# --- flow checks ------------------------------------------------------------------------------------


def test_flow_is_pending_while_fewer_than_min_forwards_are_expected():
    # 100 forwards over 10 days predict 9 in 0.9 days: one short of the 10 needed.
    early = FlowComparison(10.0, 0.9, 1_000_000, 0, 100, 0)
    assert statuses(flow_checks(early, RULES)) == {
        "revenue_not_worse": CheckStatus.PENDING,
        "forwards_not_worse": CheckStatus.PENDING,
    }
    enough = replace(early, elapsed_days=1.0)  # 10 expected: now judged (and nothing came)
    assert statuses(flow_checks(enough, RULES)) == {
        "revenue_not_worse": CheckStatus.FAILED,
        "forwards_not_worse": CheckStatus.FAILED,
    }


def test_flow_without_a_baseline_is_pending():
    assert {check.status for check in flow_checks(replace(STEADY, baseline_days=0.0), RULES)} == {
        CheckStatus.PENDING
    }


def test_flow_passes_at_the_tolerance_boundary_and_fails_just_below_it():
    rules = RolloutRules(tolerance=0.25)  # 75 % of the expected 100 forwards / 100_000 msat passes
    at = replace(STEADY, forwards_after=75, revenue_after_msat=75_000)
    assert set(statuses(flow_checks(at, rules)).values()) == {CheckStatus.PASSED}
    below = replace(STEADY, forwards_after=74, revenue_after_msat=74_999)
    assert set(statuses(flow_checks(below, rules)).values()) == {CheckStatus.FAILED}


def test_flow_default_tolerance_is_ten_percent():
    assert statuses(flow_checks(replace(STEADY, forwards_after=90), RULES))["forwards_not_worse"] is (
        CheckStatus.PASSED
    )
    assert statuses(flow_checks(replace(STEADY, forwards_after=89), RULES))["forwards_not_worse"] is (
        CheckStatus.FAILED
    )


def test_revenue_and_forwards_are_judged_separately():
    flow = replace(STEADY, revenue_after_msat=50_000)  # same forwards, half the fees
    assert statuses(flow_checks(flow, RULES)) == {
        "revenue_not_worse": CheckStatus.FAILED,
        "forwards_not_worse": CheckStatus.PASSED,
    }


def test_expected_scales_the_baseline_rate_to_the_elapsed_time():
    flow = FlowComparison(10.0, 2.5, 0, 0, 0, 0)
    assert flow.expected(400) == 100.0
    assert replace(flow, baseline_days=0.0).expected(400) == 0.0


def test_flow_is_unjudged_when_the_backend_has_no_forwarding_history():
    [only] = flow_checks(None, RULES)
    assert only.status is CheckStatus.UNJUDGED
    assert "no forwarding history" in only.detail


# --- demotion ---------------------------------------------------------------------------------------


def test_a_clean_writing_stage_is_not_demoted_even_with_weak_flow():
    weak = replace(STEADY, revenue_after_msat=0, forwards_after=0)
    assert demotion_reasons(replace(GOOD_CANARY, flow=weak)) == []


def test_unverified_writes_and_automatic_rollbacks_each_demote():
    assert demotion_reasons(replace(GOOD_CANARY, unverified_writes=2)) == ["2 write(s) not proven applied"]
    assert demotion_reasons(replace(GOOD_CANARY, automatic_rollbacks=1)) == ["1 automatic rollback(s)"]
    both = demotion_reasons(replace(GOOD_CANARY, unverified_writes=1, automatic_rollbacks=3))
    assert len(both) == 2


# --- gate report ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("others", "passed", "operator"),
    [
        ([], True, True),
        ([CheckStatus.UNJUDGED], False, True),
        ([CheckStatus.PENDING], False, False),
        ([CheckStatus.FAILED], False, False),
        ([CheckStatus.UNJUDGED, CheckStatus.PENDING], False, False),
        ([CheckStatus.UNJUDGED, CheckStatus.FAILED], False, False),
    ],
)
def test_unjudged_blocks_automatic_promotion_but_not_an_operator(
    others: list[CheckStatus], passed: bool, operator: bool
):
    checks = [check("a", CheckStatus.PASSED)] + [check(f"c{n}", status) for n, status in enumerate(others)]
    report = GateReport(stage=RolloutStage.CANARY_1, next_stage=RolloutStage.CANARY_5, checks=checks)
    assert report.passed is passed
    assert report.operator_may_promote is operator


def test_nothing_can_be_promoted_beyond_live():
    report = GateReport(stage=RolloutStage.LIVE, next_stage=RolloutStage.LIVE.next, checks=[])
    assert report.next_stage is None
    assert not report.passed
    assert not report.operator_may_promote
    report = GateReport(
        stage=RolloutStage.LIVE, next_stage=None, checks=[check("time_in_stage", CheckStatus.PASSED)]
    )
    assert not report.passed and not report.operator_may_promote


def test_a_real_gate_with_unjudged_flow_is_left_to_the_operator():
    checks = canary_gate(replace(GOOD_CANARY, flow=None), RULES)
    report = GateReport(stage=RolloutStage.CANARY_5, next_stage=RolloutStage.LIVE, checks=checks)
    assert not report.passed and report.operator_may_promote


# --- rollout stages ---------------------------------------------------------------------------------


def test_each_stage_allows_more_modes_than_the_one_before():
    assert RolloutStage.SHADOW.allowed_modes == (ExecutionMode.SHADOW,)
    assert RolloutStage.CANARY_1.allowed_modes == (ExecutionMode.SHADOW, ExecutionMode.CANARY)
    assert RolloutStage.CANARY_5.allowed_modes == (ExecutionMode.SHADOW, ExecutionMode.CANARY)
    assert set(RolloutStage.LIVE.allowed_modes) == set(ExecutionMode)
    assert ExecutionMode.LIVE not in RolloutStage.CANARY_5.allowed_modes


def test_canary_size_per_stage():
    # A live node may still run canary mode: it keeps canary(5)'s set, never "every channel".
    assert [stage.canary_size for stage in RolloutStage] == [0, 1, 5, 5]


def test_stages_promote_and_demote_in_order():
    assert RolloutStage.SHADOW.next is RolloutStage.CANARY_1
    assert RolloutStage.CANARY_1.next is RolloutStage.CANARY_5
    assert RolloutStage.CANARY_5.next is RolloutStage.LIVE
    assert RolloutStage.LIVE.next is None
    assert RolloutStage.LIVE.previous is RolloutStage.CANARY_5
    assert RolloutStage.CANARY_5.previous is RolloutStage.CANARY_1
    assert RolloutStage.CANARY_1.previous is RolloutStage.SHADOW
    assert RolloutStage.SHADOW.previous is None
    for stage in RolloutStage:
        if stage.next is not None:
            assert stage.next.previous is stage


# --- state machines ---------------------------------------------------------------------------------


def reachable(start: TransactionState) -> set[TransactionState]:
    """Every state a transaction in `start` can move to, in any number of steps."""
    seen: set[TransactionState] = set()
    queue = deque([start])
    while queue:
        for following in NEXT_STATES[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def test_every_transaction_state_has_its_successors_listed():
    assert set(NEXT_STATES) == set(TransactionState)
    assert all(set(targets) <= set(TransactionState) for targets in NEXT_STATES.values())


def test_terminal_transaction_states_have_no_successor():
    terminal = {state for state in TransactionState if state.terminal}
    assert terminal == {TransactionState.COMMITTED, TransactionState.ROLLED_BACK, TransactionState.PARTIAL}
    assert all(not NEXT_STATES[state] for state in terminal)


def test_every_non_terminal_transaction_state_reaches_a_terminal_one():
    for state in TransactionState:
        if not state.terminal:
            assert any(following.terminal for following in reachable(state)), state


def test_no_transaction_state_moves_back_to_planned_or_to_itself():
    assert all(TransactionState.PLANNED not in targets for targets in NEXT_STATES.values())
    assert all(state not in reachable(state) for state in TransactionState)  # no cycles at all


def test_every_outcome_has_its_successors_listed_and_none_returns_to_pending():
    assert set(NEXT_OUTCOMES) == set(ChannelOutcome)
    assert all(ChannelOutcome.PENDING not in targets for targets in NEXT_OUTCOMES.values())


def test_outcomes_without_successors_are_settled_and_every_outcome_can_settle():
    for outcome, targets in NEXT_OUTCOMES.items():
        if not targets:
            assert outcome.settled, outcome
        else:
            assert outcome.settled or targets & SETTLED_OUTCOMES, outcome
    assert not ChannelOutcome.SENT.settled and not ChannelOutcome.UNKNOWN.settled
