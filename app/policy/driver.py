"""Drive one journaled transaction forward from whatever state it is in; a new batch and recovery share it.

Write-ahead: every channel's outcome is written to the journal before its send and again after the
read-back, and the transaction's state moves only forward by compare-and-set. A send or read-back
that does not answer leaves the channel `unknown`, never lost: it is resolved by reading back later,
once any request still in flight has had time to land (`unknown_settle_s`, counted from when the send
failed, or from recovery's first look after a crash), so a late write is never mistaken for one that
did not happen.

A read-back is judged on the fields the batch moves (those in which its target differs from its
backup): a field someone else changed meanwhile is theirs, never reverted. A channel whose moved fields
show neither the backup nor the target was changed by another writer while we wrote: it is left as
they set it (`failed`), and because another writer is active the batch backs out the channels it did
change (compensation writes only their moved fields back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.clock import Clock
from app.domain.channel import ChannelRef
from app.domain.execution import ChannelOutcome, TransactionState
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.updates import UpdateOutcome
from app.errors import UpstreamError
from app.nodes.base import NodeClient
from app.policy.backups import make_backup
from app.policy.gate import restore_target
from app.policy.readback import MISMATCH, ReadbackJudge
from app.storage.backups import BackupRepository
from app.storage.execution_records import (
    BackupEntry,
    BackupKind,
    JournalEntry,
    TransactionRecord,
    outcome_counts,
)
from app.storage.journal import JournalRepository
from app.storage.transactions import TransactionRepository

log = logging.getLogger(__name__)
NOT_SENT = "not sent: the batch was interrupted before this channel's turn"
STALE_PLAN = "interrupted before any write; not resumed, because its decisions are no longer fresh"
LEASE_LOST = "the node's lease was lost; the rest is left to whoever holds it (recovery)"


@dataclass(frozen=True)
class DriverSettings:
    """How patiently the driver writes and proves."""

    max_sends: int = 2  # sends of one target when the node says yes but the read-back shows no change
    max_restores: int = 3  # sends of one backup while compensating before the channel counts as not restored
    write_concurrency: int = 4  # sends in flight at once on one node
    chunk_size: int = 25  # channels marked `sent` per journal round trip
    unknown_settle_s: float = 30.0  # how long an unanswered send may still land


@dataclass(frozen=True)
class Journal:
    """Where the driver writes: transactions, their per-channel entries, and backups."""

    transactions: TransactionRepository
    entries: JournalRepository
    backups: BackupRepository


class Effects(Protocol):
    """What happens once a transaction is terminal: history, decisions, budget, audit (idempotent)."""

    async def finish(self, transaction: TransactionRecord) -> TransactionRecord:
        """Write the consequences of a terminal transaction and mark them done."""


class TransactionDriver:
    """Moves transactions of one node forward through the state machine."""

    def __init__(
        self,
        journal: Journal,
        client: NodeClient,
        clock: Clock,
        settings: DriverSettings | None = None,
        effects: Effects | None = None,
        keep_going: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.clock = clock
        self.settings = settings or DriverSettings()
        self.effects = effects
        self.keep_going = keep_going
        self._limit = asyncio.Semaphore(self.settings.write_concurrency)
        settings = self.settings
        self.readback = ReadbackJudge(
            client.capabilities, settings.max_sends, settings.max_restores, settings.unknown_settle_s
        )

    async def drive(self, transaction: TransactionRecord, *, resume: bool = False) -> TransactionRecord:
        """Advance until terminal, or until only unknown outcomes are left (recovery resolves them later).

        `resume` is recovery's view: a batch interrupted before its first send is abandoned rather
        than continued, and channels still pending are never sent.
        """
        while not transaction.state.terminal:
            state = transaction.state
            if state is TransactionState.PLANNED:
                transaction = await self._back_up(transaction, resume)
            elif state is TransactionState.BACKED_UP:
                transaction = await self._start(transaction, resume)
            elif state is TransactionState.APPLYING:
                transaction = await self._apply(transaction, resume)
            else:
                transaction = await self._compensate(transaction)
            if transaction.state is state:
                break
        if transaction.state.terminal and not transaction.effects_done and self.effects is not None:
            transaction = await self.effects.finish(transaction)
        return transaction

    # --- states --------------------------------------------------------------------------------------

    async def _back_up(self, transaction: TransactionRecord, resume: bool) -> TransactionRecord:
        entries = await self._entries(transaction)
        if len(entries) != transaction.channel_count:
            note = "its journal is incomplete: interrupted while planning, nothing was sent"
            return await self._advance(transaction, TransactionState.COMPENSATING, entries, note)
        if resume:
            return await self._advance(transaction, TransactionState.COMPENSATING, entries, STALE_PLAN)
        policies = {e.chan_id: BackupEntry(channel_point=e.channel_point, policy=e.before) for e in entries}
        owner = (transaction.tenant_id, transaction.node_id)
        backup = make_backup(*owner, BackupKind.BATCH, policies, self.clock(), transaction.id)
        await self.journal.backups.add(backup)
        return await self.journal.transactions.advance(
            transaction, TransactionState.BACKED_UP, self.clock(), backup_id=backup.id
        )

    async def _start(self, transaction: TransactionRecord, resume: bool) -> TransactionRecord:
        entries = await self._entries(transaction)
        if resume:
            return await self._advance(transaction, TransactionState.COMPENSATING, entries, STALE_PLAN)
        return await self._advance(transaction, TransactionState.APPLYING, entries)

    async def _apply(self, transaction: TransactionRecord, resume: bool) -> TransactionRecord:
        entries = await self._entries(transaction)
        entries = await self._send_pending(entries, resume)
        entries = await self._resolve(entries, resume)
        meddled = sorted(entry.chan_id for entry in entries if entry.error == MISMATCH)
        if meddled and not any(not entry.outcome.settled for entry in entries):
            note = (
                f"channel(s) {', '.join(meddled[:20])} {MISMATCH}; another writer is active, "
                "so every channel this batch changed is put back"
            )
            return await self._advance(transaction, TransactionState.COMPENSATING, entries, note)
        if any(not entry.outcome.settled for entry in entries):
            return await self.journal.transactions.update(
                transaction, self.clock(), counts=outcome_counts(entries)
            )
        return await self._advance(transaction, TransactionState.COMMITTED, entries)

    async def _compensate(self, transaction: TransactionRecord) -> TransactionRecord:
        entries = await self._entries(transaction)
        entries = await self._fail_pending(entries)
        for _ in range(self.settings.max_restores + 1):
            waiting = [e for e in entries if e.outcome in (ChannelOutcome.APPLIED, ChannelOutcome.UNKNOWN)]
            if not waiting:
                break
            readings = await self._read(waiting)
            if readings is None:
                break  # the node does not answer: recovery tries again
            changes, restore = self.readback.judge_restores(waiting, readings, self.clock())
            entries = self._merge(entries, await self.journal.entries.record(changes))
            if not restore or not await self._may_write():
                break
            current = [self._current(entries, entry) for entry in restore]
            entries = self._merge(entries, await self._send_restores(current, readings))
        waiting = [
            e
            for e in entries
            if e.outcome is ChannelOutcome.UNKNOWN
            or (e.outcome is ChannelOutcome.APPLIED and e.restore_attempts < self.settings.max_restores)
        ]
        if waiting:  # the node did not answer, a restore's answer is lost, or a late send may still land
            return await self.journal.transactions.update(
                transaction, self.clock(), counts=outcome_counts(entries)
            )
        kept = sorted(entry.chan_id for entry in entries if entry.outcome is ChannelOutcome.APPLIED)
        if kept:
            tries = self.settings.max_restores
            names = ", ".join(kept[:20])
            note = (
                f"{len(kept)} channel(s) refused every restore ({tries} tries) and keep the target: {names}"
            )
            return await self._advance(transaction, TransactionState.PARTIAL, entries, note)
        return await self._advance(transaction, TransactionState.ROLLED_BACK, entries)

    # --- sending --------------------------------------------------------------------------------------

    async def _send_pending(self, entries: list[JournalEntry], resume: bool) -> list[JournalEntry]:
        pending = [entry for entry in entries if entry.outcome is ChannelOutcome.PENDING]
        if resume:
            return await self._fail_pending(entries)
        for start in range(0, len(pending), self.settings.chunk_size):
            if not await self._may_write():
                log.warning("%s; %d channel(s) left unsent", LEASE_LOST, len(pending) - start)
                break
            entries = self._merge(
                entries, await self._send_targets(pending[start : start + self.settings.chunk_size])
            )
        return entries

    async def _send_targets(self, chunk: Sequence[JournalEntry]) -> list[JournalEntry]:
        """Mark the chunk sent (write-ahead), send each target, record what each send answered."""
        sent = {"outcome": ChannelOutcome.SENT, "sent_at": self.clock(), "refusal": None}
        marked = await self.journal.entries.record(
            [(entry, entry.model_copy(update={**sent, "attempts": entry.attempts + 1})) for entry in chunk]
        )
        answers = await self._send_all([(entry, entry.target, entry.before) for entry in marked])
        return await self._record_answers(marked, answers)

    async def _send_all(
        self, sends: Sequence[tuple[JournalEntry, ChannelPolicy, ChannelPolicy]]
    ) -> list[JournalEntry]:
        """Send concurrently (bounded); a bug in one send cancels the others instead of leaving them running."""
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._send(entry, policy, current)) for entry, policy, current in sends
            ]
        return [task.result() for task in tasks]

    async def _may_write(self) -> bool:
        """Whether this process still holds the node's lease (always, when nobody passed a check)."""
        return self.keep_going is None or await self.keep_going()

    async def _send(self, entry: JournalEntry, policy: ChannelPolicy, current: ChannelPolicy) -> JournalEntry:
        """One write; the entry as the answer leaves it (a refusal is proven by the read-back that follows).

        A send that does not answer is `unknown` from the moment it failed: a request queued behind others
        left later than the chunk's mark, so the settle time is counted from the failure.
        """
        channel = ChannelRef(chan_id=entry.chan_id, channel_point=entry.channel_point)
        async with self._limit:
            try:
                result = await self.client.update_channel_policy(channel, policy, current)
            except UpstreamError as exc:
                failed_at = self.clock()
                return entry.model_copy(
                    update={
                        "outcome": ChannelOutcome.UNKNOWN,
                        "error": exc.message[:300],
                        "sent_at": failed_at,
                    }
                )
        if result.outcome is UpdateOutcome.FAILED:
            return entry.model_copy(update={"refusal": (result.error or "refused")[:300]})
        return entry

    async def _send_restores(
        self, restore: Sequence[JournalEntry], readings: dict[str, PolicyReading]
    ) -> list[JournalEntry]:
        """Write each channel's backup back, recorded first as a restore attempt."""
        marked = await self.journal.entries.record(
            [
                (
                    entry,
                    entry.model_copy(
                        update={"restore_attempts": entry.restore_attempts + 1, "sent_at": self.clock()}
                    ),
                )
                for entry in restore
            ]
        )
        answers = await self._send_all(
            [
                (
                    entry,
                    self._restoring(entry, readings[entry.chan_id].policy),
                    readings[entry.chan_id].policy,
                )
                for entry in marked
            ]
        )
        return await self._record_answers(marked, answers)

    def _restoring(self, entry: JournalEntry, fresh: ChannelPolicy) -> ChannelPolicy:
        """The channel's policy now with only the fields this batch moved put back to the backup."""
        return restore_target(entry.before, fresh, self.client.capabilities, self.readback.moving(entry))

    async def _record_answers(
        self, marked: Sequence[JournalEntry], answers: Sequence[JournalEntry]
    ) -> list[JournalEntry]:
        """Record what each send answered; every marked entry comes back at its latest version."""
        changed = await self.journal.entries.record(
            [(entry, answer) for entry, answer in zip(marked, answers, strict=True) if answer != entry]
        )
        return self._merge(list(marked), changed)

    async def _fail_pending(self, entries: list[JournalEntry]) -> list[JournalEntry]:
        changes = [
            (entry, entry.model_copy(update={"outcome": ChannelOutcome.FAILED, "error": NOT_SENT}))
            for entry in entries
            if entry.outcome is ChannelOutcome.PENDING
        ]
        return self._merge(entries, await self.journal.entries.record(changes))

    # --- proving ---------------------------------------------------------------------------------------

    async def _resolve(self, entries: list[JournalEntry], resume: bool = False) -> list[JournalEntry]:
        """Read back every sent or unknown channel; re-send a target the node accepted but did not apply.

        In recovery (`resume`) nothing is sent again: a `sent` entry's answer was lost with the process
        that sent it, so it is judged like an unknown one.
        """
        for _ in range(self.settings.max_sends):
            waiting = [
                entry for entry in entries if entry.outcome in (ChannelOutcome.SENT, ChannelOutcome.UNKNOWN)
            ]
            if not waiting:
                break
            readings = await self._read(waiting)
            if readings is None:
                lost = [
                    (
                        entry,
                        entry.model_copy(
                            update={"outcome": ChannelOutcome.UNKNOWN, "error": "read-back failed"}
                        ),
                    )
                    for entry in waiting
                    if entry.outcome is ChannelOutcome.SENT
                ]
                return self._merge(entries, await self.journal.entries.record(lost))
            changes, resend = self.readback.judge_writes(waiting, readings, self.clock(), resume)
            entries = self._merge(entries, await self.journal.entries.record(changes))
            if not resend or not await self._may_write():
                break
            entries = self._merge(
                entries, await self._send_targets([self._current(entries, e) for e in resend])
            )
        return entries

    async def _read(self, entries: Sequence[JournalEntry]) -> dict[str, PolicyReading] | None:
        """Bulk read-back; None when the node does not answer (the outcomes stay open)."""
        channels = [ChannelRef(chan_id=entry.chan_id, channel_point=entry.channel_point) for entry in entries]
        try:
            return await self.client.read_policies(channels)
        except UpstreamError as exc:
            log.warning("read-back from %s failed: %s", self.client.name, exc.message)
            return None

    # --- journal helpers ---------------------------------------------------------------------------------

    async def _entries(self, transaction: TransactionRecord) -> list[JournalEntry]:
        return await self.journal.entries.for_transaction(transaction.tenant_id, transaction.id)

    async def _advance(
        self,
        transaction: TransactionRecord,
        state: TransactionState,
        entries: Sequence[JournalEntry],
        note: str | None = None,
    ) -> TransactionRecord:
        notes = [*transaction.notes, note] if note else transaction.notes
        return await self.journal.transactions.advance(
            transaction, state, self.clock(), counts=outcome_counts(list(entries)), notes=notes
        )

    @staticmethod
    def _merge(entries: list[JournalEntry], changed: Sequence[JournalEntry]) -> list[JournalEntry]:
        if not changed:
            return entries
        by_id = {entry.id: entry for entry in changed}
        return [by_id.get(entry.id, entry) for entry in entries]

    @staticmethod
    def _current(entries: list[JournalEntry], wanted: JournalEntry) -> JournalEntry:
        return next(entry for entry in entries if entry.id == wanted.id)
