"""The journaled batch against the LND simulator over HTTP: every outcome proven by read-back, never lost."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import pytest

from app.domain.channel import ChannelRef
from app.domain.execution import ChannelOutcome, TransactionKind, TransactionState
from app.domain.policy import PolicySource
from app.policy.backups import checksum_ok
from app.policy.driver import DriverSettings
from app.policy.executor import Restoration
from app.policy.readback import MISMATCH
from app.sandbox.lnd.faults import FaultPlan
from app.storage.execution_records import JournalEntry
from tests.nodes.contract_transport import ContractCheckingTransport
from tests.policy.execution_env import (
    ExecutionEnv,
    fee_proposal,
    no_history,
)

pytestmark = pytest.mark.timeout(120)


async def test_a_batch_commits_with_every_write_proven_and_everything_recorded(env: ExecutionEnv):
    transport = ContractCheckingTransport()
    env.use_transport(transport)
    proposals = [fee_proposal(channel, random.Random(1)) for channel in env.writable(8, random.Random(1))]
    before_calls = env.client.requests_made
    report = await env.executor().apply(env.intent(), proposals, no_history())
    transaction = report.transaction
    assert transaction is not None and report.refused == {}
    assert transaction.state is TransactionState.COMMITTED and transaction.effects_done
    assert transaction.counts == {"applied": 8}
    entries = await env.entries(transaction)
    env.check_against_journal(entries)
    for entry, proposal in zip(entries, sorted(proposals, key=lambda p: p.channel.chan_id), strict=True):
        assert entry.target.fee_rate_ppm == proposal.decision.proposed_policy.fee_rate_ppm
        assert entry.attempts == 1 and entry.observed == entry.target
    # Bulk reads: getinfo once, then node+fees before and after; one write per channel.
    calls = env.client.requests_made - before_calls
    assert calls == 1 + 2 + 8 + 2, calls
    assert transport.violations == [] and transport.checked >= calls
    backup = await env.storage.backups.get(env.tenant_id, transaction.backup_id or "")
    assert checksum_ok(backup) and set(backup.policies) == {e.chan_id for e in entries}
    assert all(backup.policies[e.chan_id].policy == e.before for e in entries)
    history = await env.storage.policies.node_history(
        env.tenant_id, env.node_id, since=transaction.created_at
    )
    assert sorted(r.channel_id for r in history if r.source is PolicySource.APPLIED) == [
        e.chan_id for e in entries
    ]
    assert await env.storage.budgets.used(env.tenant_id, env.node_id, env.clock()) == 8
    audit = await env.storage.audit.list(env.tenant_id, node_id=env.node_id, action="policy.write", limit=50)
    assert len(audit.items) == 8 and all(a.before and a.after for a in audit.items)
    await env.client.aclose()


async def test_accepted_but_not_applied_is_sent_again_then_reported_not_applied(env: ExecutionEnv):
    env.handle.set_faults(FaultPlan(seed=3, silent_drop_rate=1.0))
    proposals = [fee_proposal(c, random.Random(2)) for c in env.writable(3, random.Random(2))]
    report = await env.executor().apply(env.intent(), proposals, no_history())
    assert report.transaction is not None
    assert report.transaction.state is TransactionState.COMMITTED
    entries = await env.entries(report.transaction)
    assert [e.outcome for e in entries] == [ChannelOutcome.NOT_APPLIED] * 3
    assert all(e.attempts == 2 and "read-back still shows the backup" in (e.error or "") for e in entries)
    env.check_against_journal(entries)
    assert (
        await env.storage.budgets.used(env.tenant_id, env.node_id, env.clock()) == 0
    )  # nothing reached gossip


async def test_a_refusal_is_failed_only_once_the_read_back_proves_nothing_changed(env: ExecutionEnv):
    env.handle.set_faults(FaultPlan(seed=4, failed_updates_rate=1.0))
    proposals = [fee_proposal(c, random.Random(3)) for c in env.writable(2, random.Random(3))]
    report = await env.executor().apply(env.intent(), proposals, no_history())
    assert report.transaction is not None
    entries = await env.entries(report.transaction)
    assert {e.outcome for e in entries} == {ChannelOutcome.FAILED}
    assert all("fault injection" in (e.error or "") and e.observed == e.before for e in entries)
    env.check_against_journal(entries)


async def test_a_timed_out_write_stays_unknown_until_recovery_reads_it_back_after_the_settle_time(
    env: ExecutionEnv,
):
    env.handle.set_faults(FaultPlan(seed=5, paths=("/v1/chanpolicy",), timeout_rate=1.0, hang_s=2.0))
    proposals = [fee_proposal(c, random.Random(4)) for c in env.writable(3, random.Random(4))]
    settings = DriverSettings(unknown_settle_s=60)
    report = await env.executor(settings=settings).apply(env.intent(), proposals, no_history())
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.APPLYING
    entries = await env.entries(transaction)
    assert {e.outcome for e in entries} == {ChannelOutcome.UNKNOWN}
    assert all("unreachable" in (e.error or "") for e in entries)
    env.handle.set_faults(FaultPlan())
    again = await env.driver(settings).drive(transaction, resume=True)
    assert again.state is TransactionState.APPLYING  # too early to call: a late write could still land
    env.clock.advance(61)
    done = await env.driver(settings).drive(again, resume=True)
    assert done.state is TransactionState.COMMITTED and done.effects_done
    entries = await env.entries(done)
    assert {e.outcome for e in entries} == {ChannelOutcome.NOT_APPLIED}
    env.check_against_journal(entries)


async def test_a_failed_read_back_leaves_unknown_outcomes_that_recovery_resolves(env: ExecutionEnv):
    failing = FaultPlan(seed=6, paths=("/v1/graph/node/*",), error_rate=1.0)

    async def break_reads_after_planning() -> bool:
        env.handle.set_faults(failing)  # the fresh read is done; the read-back will fail
        return True

    proposals = [fee_proposal(c, random.Random(5)) for c in env.writable(4, random.Random(5))]
    report = await env.executor(keep_going=break_reads_after_planning).apply(
        env.intent(), proposals, no_history()
    )
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.APPLYING
    entries = await env.entries(transaction)
    assert {e.outcome for e in entries} == {ChannelOutcome.UNKNOWN}
    assert all(e.error == "read-back failed" for e in entries)
    env.handle.set_faults(FaultPlan())
    done = await env.driver().drive(transaction, resume=True)
    assert done.state is TransactionState.COMMITTED
    entries = await env.entries(done)
    assert {e.outcome for e in entries} == {ChannelOutcome.APPLIED}  # the writes had landed
    env.check_against_journal(entries)


async def test_losing_the_lease_stops_sending_and_recovery_never_sends_the_rest(env: ExecutionEnv):
    calls = 0

    async def one_chunk_only() -> bool:
        nonlocal calls
        calls += 1
        return calls == 1

    proposals = [fee_proposal(c, random.Random(6)) for c in env.writable(6, random.Random(6))]
    settings = DriverSettings(chunk_size=2)
    report = await env.executor(settings=settings, keep_going=one_chunk_only).apply(
        env.intent(), proposals, no_history()
    )
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.APPLYING
    entries = await env.entries(transaction)
    assert sorted(e.outcome.value for e in entries) == ["applied"] * 2 + ["pending"] * 4
    done = await env.driver(settings).drive(transaction, resume=True)
    assert done.state is TransactionState.COMMITTED
    entries = await env.entries(done)
    unsent = [e for e in entries if e.outcome is ChannelOutcome.FAILED]
    assert len(unsent) == 4 and all(e.attempts == 0 and "not sent" in (e.error or "") for e in unsent)
    env.check_against_journal(entries)


class InterferingTransport(httpx.AsyncBaseTransport):
    """Real HTTP; after each policy write, `hook` may change the node behind our back."""

    def __init__(self, hook: Callable[[], Awaitable[None]]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.hook = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward, then run the hook after a write."""
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path == "/v1/chanpolicy":
            await self.hook()
        return response


async def test_another_writer_on_a_channel_is_left_alone_and_the_batch_backs_out_the_rest(env: ExecutionEnv):
    channels = env.writable(3, random.Random(7))
    meddled = channels[0].chan_id
    writes = 0

    async def someone_else_writes_too() -> None:
        nonlocal writes
        writes += 1
        if writes == 3:  # after all three of our writes, another tool changes the first channel
            live = env.handle.node.channels[meddled]
            env.handle.node.set_policy(
                live, live.policy.__class__(**{**live.policy.__dict__, "fee_rate_ppm": 4_321})
            )

    env.use_transport(InterferingTransport(someone_else_writes_too))
    proposals = [fee_proposal(c, random.Random(7)) for c in channels]
    report = await env.executor().apply(env.intent(), proposals, no_history())
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.ROLLED_BACK
    assert MISMATCH in transaction.notes[0] and meddled in transaction.notes[0]
    entries = {e.chan_id: e for e in await env.entries(transaction)}
    theirs = entries.pop(meddled)
    assert (
        theirs.outcome is ChannelOutcome.FAILED and theirs.error == MISMATCH and theirs.restore_attempts == 0
    )
    assert env.on_node(meddled).fee_rate_ppm == 4_321  # never fought
    assert {e.outcome for e in entries.values()} == {ChannelOutcome.RESTORED}
    assert all(e.restore_attempts == 1 for e in entries.values())
    env.check_against_journal(list(entries.values()))
    await env.client.aclose()


async def test_a_field_someone_else_changed_meanwhile_is_kept_and_the_write_still_counts(env: ExecutionEnv):
    [channel] = env.writable(1, random.Random(13))

    async def operator_changes_the_time_lock() -> None:
        live = env.handle.node.channels[channel.chan_id]
        env.handle.node.set_policy(
            live, live.policy.__class__(**{**live.policy.__dict__, "time_lock_delta": 99})
        )

    env.use_transport(InterferingTransport(operator_changes_the_time_lock))
    report = await env.executor().apply(
        env.intent(), [fee_proposal(channel, random.Random(13))], no_history()
    )
    assert report.transaction is not None and report.transaction.state is TransactionState.COMMITTED
    [entry] = await env.entries(report.transaction)
    assert entry.outcome is ChannelOutcome.APPLIED  # judged on the fee it moved
    held = env.on_node(channel.chan_id)
    assert held.fee_rate_ppm == entry.target.fee_rate_ppm and held.time_lock_delta == 99  # theirs, kept
    await env.client.aclose()


async def test_restores_the_node_refuses_end_the_batch_partial_with_each_channel_where_it_is(
    env: ExecutionEnv,
):
    channels = env.writable(2, random.Random(8))
    meddled = channels[1].chan_id
    writes = 0

    async def meddle_then_refuse_everything() -> None:
        nonlocal writes
        writes += 1
        if writes == 2:
            live = env.handle.node.channels[meddled]
            env.handle.node.set_policy(
                live, live.policy.__class__(**{**live.policy.__dict__, "fee_rate_ppm": 4_321})
            )
            env.handle.set_faults(FaultPlan(seed=9, failed_updates_rate=1.0))

    env.use_transport(InterferingTransport(meddle_then_refuse_everything))
    proposals = [fee_proposal(c, random.Random(8)) for c in channels]
    report = await env.executor(settings=DriverSettings(max_restores=2)).apply(
        env.intent(), proposals, no_history()
    )
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.PARTIAL
    entries = {e.chan_id: e for e in await env.entries(transaction)}
    kept = entries[channels[0].chan_id]
    assert kept.outcome is ChannelOutcome.APPLIED and kept.restore_attempts == 2
    assert env.on_node(kept.chan_id).fee_rate_ppm == kept.target.fee_rate_ppm
    other = entries[meddled]
    assert other.outcome is ChannelOutcome.FAILED and other.error == MISMATCH
    assert env.on_node(meddled).fee_rate_ppm == 4_321  # as the other writer left it
    assert "refused every restore (2 tries)" in transaction.notes[-1]
    await env.client.aclose()


async def test_recovery_twice_changes_nothing_the_second_time(env: ExecutionEnv):
    env.handle.set_faults(FaultPlan(seed=10, paths=("/v1/chanpolicy",), timeout_rate=0.5, hang_s=2.0))
    proposals = [fee_proposal(c, random.Random(9)) for c in env.writable(6, random.Random(9))]
    report = await env.executor(settings=DriverSettings(unknown_settle_s=5)).apply(
        env.intent(), proposals, no_history()
    )
    assert report.transaction is not None
    env.handle.set_faults(FaultPlan())
    env.clock.advance(10)
    first = await env.driver(DriverSettings(unknown_settle_s=5)).drive(report.transaction, resume=True)
    assert first.state.terminal and first.effects_done
    snapshot = await _everything(env)
    second = await env.driver().drive(first, resume=True)
    assert second == first
    assert await _everything(env) == snapshot


async def test_a_rollback_restores_the_exact_backup_and_is_a_journaled_batch_of_its_own(env: ExecutionEnv):
    proposals = [fee_proposal(c, random.Random(10)) for c in env.writable(4, random.Random(10))]
    applied = await env.executor().apply(env.intent(), proposals, no_history())
    assert applied.transaction is not None
    entries = await env.entries(applied.transaction)
    restorations = [
        Restoration(channel=_ref(e), policy=e.before, only_if=e.target, decision_id=e.decision_id)
        for e in entries
    ]
    # No cooldown, no daily cap: the rollback is not blocked by the change it undoes.
    undone = await env.executor().restore(env.intent(TransactionKind.ROLLBACK), restorations)
    rollback = undone.transaction
    assert rollback is not None and rollback.state is TransactionState.COMMITTED
    for entry in entries:
        assert env.on_node(entry.chan_id) == entry.before
    assert await env.storage.budgets.used(env.tenant_id, env.node_id, env.clock()) == 8  # both batches count
    again = await env.executor().restore(env.intent(TransactionKind.ROLLBACK), restorations)
    assert again.transaction is None and set(again.skipped.values()) == {"already at that policy"}


async def _everything(env: ExecutionEnv) -> list[object]:
    """Every transaction, journal, history, audit and budget document, as stored."""
    database = env.storage.database
    found: list[object] = []
    for name in (
        "transactions",
        "journal_entries",
        "policies",
        "audit_events",
        "budgets",
        "policy_states",
        "backups",
    ):
        found.append(sorted(map(str, await database[name].find({}).to_list())))
    return found


def _ref(entry: JournalEntry) -> ChannelRef:
    return ChannelRef(chan_id=entry.chan_id, channel_point=entry.channel_point)


async def test_a_chunk_with_mixed_answers_is_read_back_whole_and_commits_at_once(env: ExecutionEnv):
    # Some sends of the chunk are refused (their entries change), the rest accepted (unchanged): every
    # entry must still be read back in the same pass, not only the ones whose answer changed them.
    env.handle.set_faults(FaultPlan(seed=12, failed_updates_rate=0.5))
    proposals = [fee_proposal(c, random.Random(12)) for c in env.writable(10, random.Random(12))]
    report = await env.executor(settings=DriverSettings(chunk_size=10)).apply(
        env.intent(), proposals, no_history()
    )
    transaction = report.transaction
    assert transaction is not None and transaction.state is TransactionState.COMMITTED, transaction
    entries = await env.entries(transaction)
    outcomes = {e.outcome for e in entries}
    assert ChannelOutcome.FAILED in outcomes and ChannelOutcome.APPLIED in outcomes
    env.check_against_journal(entries)


async def test_the_settle_time_of_an_unanswered_write_counts_from_its_failure_not_from_its_chunk(
    env: ExecutionEnv,
):
    ticks = env.clock.now

    def ticking() -> datetime:  # every reading of the clock is a second later than the one before
        nonlocal ticks
        ticks += timedelta(seconds=1)
        return ticks

    env.clock = ticking  # type: ignore[assignment]
    env.handle.set_faults(FaultPlan(seed=14, paths=("/v1/chanpolicy",), timeout_rate=1.0, hang_s=2.0))
    proposals = [fee_proposal(c, random.Random(14)) for c in env.writable(3, random.Random(14))]
    settings = DriverSettings(write_concurrency=1, chunk_size=3, unknown_settle_s=3600)
    report = await env.executor(settings=settings).apply(env.intent(), proposals, no_history())
    assert report.transaction is not None and report.transaction.state is TransactionState.APPLYING
    entries = await env.entries(report.transaction)
    failures = sorted(e.sent_at for e in entries if e.sent_at is not None)
    assert len(set(failures)) == 3  # one failure time each, not the chunk's single mark
    assert all(e.outcome is ChannelOutcome.UNKNOWN for e in entries)
