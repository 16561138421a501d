"""Turn approved decisions, or a restore, into one journaled transaction and drive it.

Order of a batch: read every channel's policy fresh from the node (never the cached graph), pass each
decision through the gate again on that fresh policy, reserve the daily budget atomically, journal the
plan, then let the driver back up, write, read back and commit (or compensate).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.clock import Clock
from app.domain.channel import Channel, ChannelRef
from app.domain.decision import Decision
from app.domain.execution import ExecutionMode, TransactionKind
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.validation import IssueCode, ValidationIssue, ValidationResult, Verdict
from app.nodes.base import NodeClient
from app.policy.driver import DriverSettings, Effects, Journal, TransactionDriver
from app.policy.gate import ChangeHistory, check_writes, restore_target
from app.policy.limits import SafetyLimits
from app.policy.validator import PolicyValidator
from app.storage.database import Storage
from app.storage.execution_records import JournalEntry, TransactionRecord
from app.storage.fields import new_id


@dataclass(frozen=True)
class BatchIntent:
    """Who asks for a batch, of what kind, and why."""

    tenant_id: str
    node_id: str
    actor: str
    kind: TransactionKind
    reason: str
    mode: ExecutionMode | None = None
    rolls_back: str | None = None


@dataclass(frozen=True)
class Proposal:
    """A decision to write, with the channel it concerns."""

    channel: Channel
    decision: Decision
    decision_id: str | None = None
    operator_approved: bool = False  # an operator approved it, so NEEDS_APPROVAL is no obstacle


@dataclass(frozen=True)
class Restoration:
    """A channel to put back to `policy` on `fields` (None: every writable one).

    With `only_if`, only while the node still has those fields as the service left them: a change
    someone else made since is theirs.
    """

    channel: ChannelRef
    policy: ChannelPolicy
    only_if: ChannelPolicy | None = None
    decision_id: str | None = None
    fields: tuple[str, ...] | None = None


@dataclass
class BatchReport:
    """The transaction that ran (None when nothing was left to write) and what was left out, and why."""

    transaction: TransactionRecord | None
    refused: dict[str, ValidationResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class Executor:
    """Plans and runs batches of policy writes on one node."""

    def __init__(
        self,
        storage: Storage,
        client: NodeClient,
        limits: SafetyLimits,
        clock: Clock,
        driver_settings: DriverSettings | None = None,
        effects: Effects | None = None,
        keep_going: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.storage = storage
        self.client = client
        self.limits = limits
        self.clock = clock
        journal = Journal(storage.transactions, storage.journal, storage.backups)
        self.driver = TransactionDriver(journal, client, clock, driver_settings, effects, keep_going)

    async def apply(
        self, intent: BatchIntent, proposals: Sequence[Proposal], history: ChangeHistory
    ) -> BatchReport:
        """Gate (b) on a fresh read, reserve the budget, journal and drive the writes that pass."""
        report = BatchReport(transaction=None)
        busy = await busy_channels(self.storage, intent.tenant_id, intent.node_id)
        for proposal in proposals:
            if proposal.channel.chan_id in busy:
                report.refused[proposal.channel.chan_id] = _unresolved(proposal.channel.chan_id)
        proposals = [proposal for proposal in proposals if proposal.channel.chan_id not in busy]
        if not proposals:
            return report
        now = self.clock()
        readings = await self.client.read_policies([proposal.channel for proposal in proposals])
        used = await self.storage.budgets.used(intent.tenant_id, intent.node_id, now)
        checks = check_writes(
            PolicyValidator(self.limits),
            [proposal.decision for proposal in proposals],
            {proposal.channel.chan_id: proposal.channel for proposal in proposals},
            readings,
            int(now.timestamp()),
            history,
            self.client.capabilities,
            used,
        )
        passing = []
        for proposal, check in zip(proposals, checks, strict=True):
            verdict = check.result.verdict
            if verdict is Verdict.APPROVED or (
                verdict is Verdict.NEEDS_APPROVAL and proposal.operator_approved
            ):
                passing.append((proposal, check))
            else:
                report.refused[proposal.channel.chan_id] = check.result
        passing.sort(
            key=lambda item: -item[1].decision.confidence
        )  # the daily budget goes to the surest first
        transaction_id = new_id()
        granted = await self.storage.budgets.reserve(
            intent.tenant_id, intent.node_id, transaction_id, len(passing), self.limits.daily_cap, now
        )
        for proposal, _ in passing[granted:]:
            report.refused[proposal.channel.chan_id] = _cap_reached(
                proposal.channel.chan_id, self.limits.daily_cap
            )
        entries = [
            self._entry(
                intent,
                transaction_id,
                proposal.channel,
                readings,
                check.target,
                proposal.decision_id,
            )
            for proposal, check in passing[:granted]
        ]
        report.transaction = await self._run(intent, transaction_id, entries, granted)
        return report

    async def restore(self, intent: BatchIntent, restorations: Sequence[Restoration]) -> BatchReport:
        """Write channels back to earlier policies as one journaled batch.

        Not held back by the cooldown or the daily cap (a rollback must never be blocked by the change it
        undoes), but counted in the daily budget so the optimizer's next moves are. Pinned channels are
        never written; a channel already at its old policy needs no write; with `only_if`, a channel
        changed outside the service since our write is left as its owner set it.
        """
        report = BatchReport(transaction=None)
        busy = await busy_channels(self.storage, intent.tenant_id, intent.node_id)
        report.skipped = {
            item.channel.chan_id: UNRESOLVED for item in restorations if item.channel.chan_id in busy
        }
        restorations = [item for item in restorations if item.channel.chan_id not in busy]
        if not restorations:
            return report
        readings = await self.client.read_policies([item.channel for item in restorations])
        capabilities = self.client.capabilities
        transaction_id = new_id()
        entries = []
        for item in restorations:
            chan_id = item.channel.chan_id
            reading = readings.get(chan_id)
            if reading is None:
                report.skipped[chan_id] = "the node no longer has this channel"
                continue
            if chan_id in self.limits.pinned_channels:
                report.skipped[chan_id] = "pinned: its policy is never changed by the service"
                continue
            target = restore_target(item.policy, reading.policy, capabilities, item.fields)
            if capabilities.policy_matches(reading.policy, target):
                report.skipped[chan_id] = "already at that policy"
                continue
            fields = item.fields or capabilities.writable_fields()
            if item.only_if is not None and any(
                getattr(reading.policy, name) != getattr(item.only_if, name) for name in fields
            ):
                report.skipped[chan_id] = "changed since the service wrote it; left as it is now"
                continue
            entries.append(
                self._entry(intent, transaction_id, item.channel, readings, target, item.decision_id)
            )
        if entries:
            await self.storage.budgets.reserve(
                intent.tenant_id, intent.node_id, transaction_id, len(entries), None, self.clock()
            )
        report.transaction = await self._run(intent, transaction_id, entries, len(entries))
        return report

    async def _run(
        self, intent: BatchIntent, transaction_id: str, entries: list[JournalEntry], slots: int
    ) -> TransactionRecord | None:
        """Journal the plan (transaction first, then its entries) and drive it."""
        if not entries:
            return None
        transaction = TransactionRecord(
            id=transaction_id,
            tenant_id=intent.tenant_id,
            node_id=intent.node_id,
            kind=intent.kind,
            mode=intent.mode,
            created_at=self.clock(),
            updated_at=self.clock(),
            actor=intent.actor,
            reason=intent.reason,
            channel_count=len(entries),
            rolls_back=intent.rolls_back,
            budget_slots=slots,
        )
        try:
            await self.storage.transactions.add(transaction)
        except BaseException:
            # Not journaled, so nothing will ever settle its slots: hand them back now.
            await self.storage.budgets.settle(intent.tenant_id, intent.node_id, transaction_id, 0)
            raise
        # From here recovery owns it: a batch whose entries were not all stored is abandoned and settled.
        await self.storage.journal.add_many(entries)
        return await self.driver.drive(transaction)

    @staticmethod
    def _entry(
        intent: BatchIntent,
        transaction_id: str,
        channel: ChannelRef,
        readings: dict[str, PolicyReading],
        target: ChannelPolicy,
        decision_id: str | None,
    ) -> JournalEntry:
        return JournalEntry(
            id=JournalEntry.entry_id(transaction_id, channel.chan_id),
            tenant_id=intent.tenant_id,
            node_id=intent.node_id,
            transaction_id=transaction_id,
            chan_id=channel.chan_id,
            channel_point=channel.channel_point,
            decision_id=decision_id,
            before=readings[channel.chan_id].policy,
            target=target,
        )


UNRESOLVED = (
    "an earlier batch that writes this channel has not finished; a second write now could be undone by "
    "that batch's recovery, so the channel waits until it has"
)


async def busy_channels(storage: Storage, tenant_id: str, node_id: str) -> set[str]:
    """Channels of the node's unfinished batches (any outcome): none may be written until they finish."""
    unfinished = await storage.transactions.unfinished(tenant_id=tenant_id, node_id=node_id)
    return await storage.journal.channels_of(tenant_id, [transaction.id for transaction in unfinished])


def _unresolved(chan_id: str) -> ValidationResult:
    issue = ValidationIssue(code=IssueCode.WRITE_UNRESOLVED, message=UNRESOLVED)
    return ValidationResult(chan_id=chan_id, verdict=Verdict.REJECTED, issues=[issue])


def _cap_reached(chan_id: str, cap: int) -> ValidationResult:
    issue = ValidationIssue(
        code=IssueCode.DAILY_CAP_REACHED,
        message=f"another batch took the last of the daily budget ({cap} updates) meanwhile",
    )
    return ValidationResult(chan_id=chan_id, verdict=Verdict.REJECTED, issues=[issue])
