"""The policy gate: change history, rebase onto a fresh read, write-time checks and restore targets."""

from __future__ import annotations

from typing import Any

from app.domain.capabilities import FEE_FIELDS, LND_CAPABILITIES, NodeCapabilities
from app.domain.channel import Channel
from app.domain.decision import Decision
from app.domain.forwarding import PolicyChange
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.validation import IssueCode, Verdict
from app.policy import PolicyValidator, SafetyLimits
from app.policy.gate import ChangeHistory, WriteCheck, check_writes, rebase, restore_target

from .conftest import CAPACITY_SAT, CHAN_ID, NOW_S, build_decision, build_policy

HOUR = 3_600
OTHER_ID = "871234567890123457"
THIRD_ID = "871234567890123458"
LNBITS = NodeCapabilities(inbound_fees=False, htlc_limits=False, time_lock=False)
DEFAULT = PolicyValidator(SafetyLimits())
NO_CHANGES = ChangeHistory(times={})  # history known, and nothing ever changed


def make_channel(chan_id: str = CHAN_ID, updated_s: int | None = None, **fields: Any) -> Channel:
    """One of our 1 M sat channels with the default policy."""
    return Channel(
        chan_id=chan_id,
        channel_point="ab" * 32 + ":0",
        remote_pubkey="02" + "11" * 32,
        capacity_sat=CAPACITY_SAT,
        local_balance_sat=500_000,
        remote_balance_sat=400_000,
        local_policy=fields.pop("local_policy", build_policy()),
        policy_updated_s=updated_s,
        **fields,
    )


def reading(policy: ChannelPolicy | None = None, updated_s: int | None = None) -> PolicyReading:
    """A fresh read of a channel's policy (the default policy unless given)."""
    return PolicyReading(policy=policy or build_policy(), updated_s=updated_s)


def checks_for(
    decisions: list[Decision],
    readings: dict[str, PolicyReading],
    *,
    channels: dict[str, Channel] | None = None,
    history: ChangeHistory = NO_CHANGES,
    capabilities: NodeCapabilities = LND_CAPABILITIES,
    updates_last_24h: int = 0,
    validator: PolicyValidator = DEFAULT,
) -> list[WriteCheck]:
    """Gate (b) at NOW_S; every decision's channel exists unless `channels` says otherwise."""
    if channels is None:
        channels = {decision.chan_id: make_channel(decision.chan_id) for decision in decisions}
    return check_writes(
        validator, decisions, channels, readings, NOW_S, history, capabilities, updates_last_24h
    )


# --- ChangeHistory ----------------------------------------------------------------------------------


def test_from_changes_groups_moments_by_channel_and_keeps_external_changes():
    changes = [
        PolicyChange(chan_id=CHAN_ID, changed_at_s=10, fee_rate_ppm=100),
        PolicyChange(chan_id=OTHER_ID, changed_at_s=20, fee_rate_ppm=200),
        PolicyChange(chan_id=CHAN_ID, changed_at_s=30, fee_rate_ppm=120),
    ]
    external = {OTHER_ID: 25}
    history = ChangeHistory.from_changes(changes, external)
    assert history.times == {CHAN_ID: [10, 30], OTHER_ID: [20]}
    assert history.external == {OTHER_ID: 25}
    external[THIRD_ID] = 99  # the history keeps its own copy
    assert history.external == {OTHER_ID: 25}


def test_from_changes_without_records_means_unknown_history_but_empty_means_known():
    unknown = ChangeHistory.from_changes(None)
    assert unknown.times is None and unknown.external == {}
    assert ChangeHistory.from_changes([]).times == {}


def test_last_change_is_the_latest_of_history_and_gossip():
    history = ChangeHistory.from_changes(
        [
            PolicyChange(chan_id=CHAN_ID, changed_at_s=100, fee_rate_ppm=1),
            PolicyChange(chan_id=CHAN_ID, changed_at_s=300, fee_rate_ppm=1),
            PolicyChange(chan_id=CHAN_ID, changed_at_s=200, fee_rate_ppm=1),
        ]
    )
    assert history.last_change_s(CHAN_ID, None) == 300
    assert history.last_change_s(CHAN_ID, 250) == 300
    assert history.last_change_s(CHAN_ID, 400) == 400
    assert history.last_change_s(OTHER_ID, None) is None
    assert history.last_change_s(OTHER_ID, 50) == 50
    assert ChangeHistory(times=None).last_change_s(CHAN_ID, 70) == 70
    assert ChangeHistory(times=None).last_change_s(CHAN_ID, None) is None


def test_last_change_ignores_external_changes():
    # The external hold is its own rule; an external change is not a cooldown moment by itself.
    history = ChangeHistory(times={}, external={CHAN_ID: 500})
    assert history.last_change_s(CHAN_ID, None) is None


def test_either_our_history_or_the_gossip_timestamp_proves_the_cooldown():
    assert not ChangeHistory(times=None).proves_cooldown(None)
    assert ChangeHistory(times=None).proves_cooldown(NOW_S - HOUR)
    assert ChangeHistory(times={}).proves_cooldown(None)
    assert ChangeHistory(times={CHAN_ID: [1]}).proves_cooldown(None)


# --- rebase -----------------------------------------------------------------------------------------


def test_rebase_takes_only_the_moving_fields_from_the_proposal():
    decision = build_decision(fee_rate_ppm=140)
    fresh = build_policy(time_lock_delta=80, min_htlc_msat=2_000, inbound_fee_rate_ppm=-20)
    moved = rebase(decision, fresh, LND_CAPABILITIES)
    assert moved is not None
    assert moved.current_policy == fresh
    assert moved.proposed_policy == fresh.model_copy(update={"fee_rate_ppm": 140})
    assert moved.changed_fields == ["fee_rate_ppm"]
    # Everything else about the decision is kept.
    assert (moved.chan_id, moved.kind, moved.confidence) == (
        decision.chan_id,
        decision.kind,
        decision.confidence,
    )


def test_rebase_onto_an_unchanged_policy_keeps_the_proposal():
    decision = build_decision(fee_rate_ppm=140, base_fee_msat=2_000)
    moved = rebase(decision, decision.current_policy, LND_CAPABILITIES)
    assert moved is not None
    assert moved.proposed_policy == decision.proposed_policy


def test_rebase_keeps_a_time_lock_changed_on_the_node():
    decision = build_decision(fee_rate_ppm=140)
    moved = rebase(decision, build_policy(time_lock_delta=100), LND_CAPABILITIES)
    assert moved is not None
    assert moved.proposed_policy.time_lock_delta == 100
    assert moved.proposed_policy.fee_rate_ppm == 140


def test_rebase_is_stale_when_a_moving_field_changed_on_the_node():
    decision = build_decision(fee_rate_ppm=140, max_htlc_msat=400_000_000)
    assert rebase(decision, build_policy(fee_rate_ppm=120), LND_CAPABILITIES) is None
    assert rebase(decision, build_policy(max_htlc_msat=450_000_000), LND_CAPABILITIES) is None
    # Even when the node already shows the proposed value: the decision was computed from another policy.
    assert rebase(decision, build_policy(fee_rate_ppm=140), LND_CAPABILITIES) is None


def test_rebase_keeps_unwritable_changes_in_the_proposal_so_the_validator_refuses_them():
    decision = build_decision(fee_rate_ppm=140, time_lock_delta=60)
    fresh = build_policy(time_lock_delta=None, min_htlc_msat=None, max_htlc_msat=None)
    moved = rebase(decision, fresh, LNBITS)
    assert moved is not None
    assert moved.proposed_policy.fee_rate_ppm == 140
    assert moved.proposed_policy.time_lock_delta == 60  # not silently dropped
    assert moved.proposed_policy.max_htlc_msat is None  # untouched fields come from the node
    assert set(moved.changed_fields) == {"fee_rate_ppm", "time_lock_delta"}


def test_rebase_with_lnbits_ignores_node_changes_to_fields_it_cannot_write():
    decision = build_decision(fee_rate_ppm=140)
    moved = rebase(decision, build_policy(time_lock_delta=None, inbound_fee_rate_ppm=None), LNBITS)
    assert moved is not None
    assert moved.proposed_policy.time_lock_delta is None
    assert moved.proposed_policy.inbound_fee_rate_ppm is None


# --- check_writes -----------------------------------------------------------------------------------


def test_a_fresh_unchanged_channel_is_approved_and_rebased():
    decision = build_decision(fee_rate_ppm=140)
    fresh = build_policy(time_lock_delta=60)
    [check] = checks_for([decision], {CHAN_ID: reading(fresh)})
    assert check.result.verdict is Verdict.APPROVED
    assert check.result.chan_id == CHAN_ID
    assert check.target == fresh.model_copy(update={"fee_rate_ppm": 140})
    assert check.decision.current_policy == fresh


def test_a_channel_missing_from_the_readings_is_not_found():
    decision = build_decision(fee_rate_ppm=140)
    [check] = checks_for([decision], {})
    assert check.result.verdict is Verdict.REJECTED
    assert check.result.codes == [IssueCode.CHANNEL_NOT_FOUND]
    assert check.decision == decision


def test_a_channel_the_node_no_longer_lists_is_not_found_even_with_a_reading():
    decision = build_decision(fee_rate_ppm=140)
    [check] = checks_for([decision], {CHAN_ID: reading()}, channels={})
    assert check.result.codes == [IssueCode.CHANNEL_NOT_FOUND]


def test_a_decision_whose_moving_field_changed_on_the_node_is_stale():
    decision = build_decision(fee_rate_ppm=140)
    [check] = checks_for([decision], {CHAN_ID: reading(build_policy(fee_rate_ppm=110))})
    assert check.result.verdict is Verdict.REJECTED
    assert check.result.codes == [IssueCode.POLICY_CHANGED_SINCE_DECISION]
    assert check.decision == decision  # not rebased


def test_an_unwritable_change_is_refused_as_unsupported_by_lnbits():
    decision = build_decision(fee_rate_ppm=140, time_lock_delta=60)
    fresh = build_policy(time_lock_delta=None, min_htlc_msat=None, max_htlc_msat=None)
    [check] = checks_for([decision], {CHAN_ID: reading(fresh)}, capabilities=LNBITS)
    assert check.result.verdict is Verdict.REJECTED
    assert IssueCode.UNSUPPORTED_BY_BACKEND in check.result.codes


def test_results_come_back_in_input_order():
    stale = build_decision(fee_rate_ppm=140, chan_id=CHAN_ID, confidence=0.9)
    missing = build_decision(fee_rate_ppm=140, chan_id=OTHER_ID, confidence=0.5)
    good = build_decision(fee_rate_ppm=60, chan_id=THIRD_ID, confidence=0.1)
    readings = {CHAN_ID: reading(build_policy(fee_rate_ppm=130)), THIRD_ID: reading()}
    channels = {CHAN_ID: make_channel(CHAN_ID), THIRD_ID: make_channel(THIRD_ID)}
    checks = checks_for([stale, missing, good], readings, channels=channels)
    assert [check.result.chan_id for check in checks] == [CHAN_ID, OTHER_ID, THIRD_ID]
    assert [check.decision.chan_id for check in checks] == [CHAN_ID, OTHER_ID, THIRD_ID]
    assert [check.result.codes for check in checks] == [
        [IssueCode.POLICY_CHANGED_SINCE_DECISION],
        [IssueCode.CHANNEL_NOT_FOUND],
        [],
    ]
    assert checks[2].target.fee_rate_ppm == 60


def test_the_daily_budget_is_shared_and_claimed_by_the_most_confident_first():
    unsure = build_decision(fee_rate_ppm=140, chan_id=CHAN_ID, confidence=0.3)
    sure = build_decision(fee_rate_ppm=140, chan_id=OTHER_ID, confidence=0.9)
    readings = {CHAN_ID: reading(), OTHER_ID: reading()}
    checks = checks_for([unsure, sure], readings, updates_last_24h=4)  # daily cap 5: one slot left
    assert [check.result.verdict for check in checks] == [Verdict.REJECTED, Verdict.APPROVED]
    assert checks[0].result.codes == [IssueCode.DAILY_CAP_REACHED]
    full = checks_for([unsure, sure], readings, updates_last_24h=5)
    assert all(check.result.codes == [IssueCode.DAILY_CAP_REACHED] for check in full)


def test_refused_decisions_do_not_use_the_daily_budget():
    stale = build_decision(fee_rate_ppm=140, chan_id=CHAN_ID, confidence=0.9)
    missing = build_decision(fee_rate_ppm=140, chan_id=THIRD_ID, confidence=0.8)
    good = build_decision(fee_rate_ppm=140, chan_id=OTHER_ID, confidence=0.1)
    readings = {CHAN_ID: reading(build_policy(fee_rate_ppm=90)), OTHER_ID: reading()}
    checks = checks_for([stale, missing, good], readings, updates_last_24h=4)
    assert checks[2].result.verdict is Verdict.APPROVED


def test_the_gossip_timestamp_of_the_fresh_read_starts_the_cooldown():
    decision = build_decision(fee_rate_ppm=140)
    unknown = ChangeHistory(times=None)
    # The channel itself says it was last updated long ago; the fresh read is what counts.
    channels = {CHAN_ID: make_channel(updated_s=NOW_S - 30 * 24 * HOUR)}
    recent = reading(updated_s=NOW_S - HOUR)
    [check] = checks_for([decision], {CHAN_ID: recent}, channels=channels, history=unknown)
    assert check.result.codes == [IssueCode.COOLDOWN_ACTIVE]
    old = reading(updated_s=NOW_S - 24 * HOUR)  # exactly one default cooldown ago
    [check] = checks_for([decision], {CHAN_ID: old}, channels=channels, history=unknown)
    assert check.result.verdict is Verdict.APPROVED


def test_without_gossip_the_channel_timestamp_or_else_the_history_must_prove_the_cooldown():
    decision = build_decision(fee_rate_ppm=140)
    unknown = ChangeHistory(times=None)
    [check] = checks_for([decision], {CHAN_ID: reading()}, history=unknown)
    assert check.result.codes == [IssueCode.COOLDOWN_UNKNOWN]
    channels = {CHAN_ID: make_channel(updated_s=NOW_S - 2 * HOUR)}
    [check] = checks_for([decision], {CHAN_ID: reading()}, channels=channels, history=unknown)
    assert check.result.codes == [IssueCode.COOLDOWN_ACTIVE]
    ours = ChangeHistory(times={CHAN_ID: [NOW_S - 3 * HOUR]})
    [check] = checks_for([decision], {CHAN_ID: reading(updated_s=NOW_S - 48 * HOUR)}, history=ours)
    assert check.result.codes == [IssueCode.COOLDOWN_ACTIVE]  # our own, newer change wins


def test_an_external_change_holds_the_channel_for_the_configured_hours():
    validator = PolicyValidator(SafetyLimits(external_hold_hours=48))
    decision = build_decision(fee_rate_ppm=140)
    readings = {CHAN_ID: reading()}

    def codes_after(external_s: int) -> list[IssueCode]:
        history = ChangeHistory(times={}, external={CHAN_ID: external_s})
        [check] = checks_for([decision], readings, history=history, validator=validator)
        return check.result.codes

    assert codes_after(NOW_S - 10 * HOUR) == [IssueCode.EXTERNAL_CHANGE_HOLD]
    assert codes_after(NOW_S - 48 * HOUR + 1) == [IssueCode.EXTERNAL_CHANGE_HOLD]
    assert codes_after(NOW_S - 48 * HOUR) == []  # the hold has ended
    history = ChangeHistory(times={}, external={OTHER_ID: NOW_S - HOUR})
    [check] = checks_for([decision], readings, history=history, validator=validator)
    assert check.result.verdict is Verdict.APPROVED  # another channel's hold does not apply


def test_the_default_external_hold_is_a_week():
    decision = build_decision(fee_rate_ppm=140)
    history = ChangeHistory(times={}, external={CHAN_ID: NOW_S - 167 * HOUR})
    [check] = checks_for([decision], {CHAN_ID: reading()}, history=history)
    assert check.result.codes == [IssueCode.EXTERNAL_CHANGE_HOLD]
    history = ChangeHistory(times={}, external={CHAN_ID: NOW_S - 168 * HOUR})
    [check] = checks_for([decision], {CHAN_ID: reading()}, history=history)
    assert check.result.verdict is Verdict.APPROVED


# --- restore_target ---------------------------------------------------------------------------------


def test_restore_with_lnd_puts_back_every_writable_field_and_keeps_the_rest():
    backup = build_policy(
        base_fee_msat=500,
        fee_rate_ppm=300,
        time_lock_delta=80,
        min_htlc_msat=2_000,
        max_htlc_msat=400_000_000,
        inbound_base_fee_msat=-100,
        inbound_fee_rate_ppm=-50,
    )
    fresh = build_policy(disabled=True)
    target = restore_target(backup, fresh, LND_CAPABILITIES)
    assert target == backup.model_copy(update={"disabled": True})  # enabling is not a policy write


def test_restore_with_lnbits_puts_back_only_the_fees():
    backup = build_policy(base_fee_msat=500, fee_rate_ppm=300, time_lock_delta=80, inbound_fee_rate_ppm=-50)
    fresh = build_policy(
        base_fee_msat=2_000,
        fee_rate_ppm=150,
        time_lock_delta=None,
        min_htlc_msat=None,
        max_htlc_msat=None,
        inbound_base_fee_msat=None,
        inbound_fee_rate_ppm=None,
    )
    target = restore_target(backup, fresh, LNBITS)
    assert (target.base_fee_msat, target.fee_rate_ppm) == (500, 300)
    assert target == fresh.model_copy(update={name: getattr(backup, name) for name in FEE_FIELDS})
    assert target.time_lock_delta is None and target.inbound_fee_rate_ppm is None
