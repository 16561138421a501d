"""What a terminal transaction leaves behind: policy history, known policies, decisions, budget and audit.

Every step is idempotent (deterministic ids, compare-and-set, set-not-add), so recovery can replay it
after a crash between the terminal state and `effects_done`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.clock import Clock
from app.domain.decision import DecisionStatus
from app.domain.execution import ChannelOutcome, TransactionKind
from app.domain.policy import ChannelPolicy, PolicySource
from app.storage.database import Storage
from app.storage.execution_records import JournalEntry, KnownPolicy, PolicyStateRecord, TransactionRecord
from app.storage.records import AuditRecord, PolicyRecord

# Decision status after the transaction, by the channel's outcome (apply batches).
APPLY_STATUS = {
    ChannelOutcome.APPLIED: DecisionStatus.APPLIED,
    ChannelOutcome.NOT_APPLIED: DecisionStatus.FAILED,
    ChannelOutcome.FAILED: DecisionStatus.FAILED,
    ChannelOutcome.RESTORED: DecisionStatus.ROLLED_BACK,
}
# A decision superseded while its write was still unresolved may already be expired: the write's truth wins.
WAITING = frozenset({DecisionStatus.APPROVED, DecisionStatus.NEEDS_APPROVAL, DecisionStatus.EXPIRED})


def writes_made(entries: list[JournalEntry]) -> int:
    """Policy updates that reached the node: one per applied channel, two per restored one."""
    return sum(
        1 if entry.outcome is ChannelOutcome.APPLIED else 2 if entry.outcome is ChannelOutcome.RESTORED else 0
        for entry in entries
    )


def final_policy(entry: JournalEntry) -> ChannelPolicy | None:
    """What the service itself left the channel at (None while unproven).

    Not the read-back: a field someone else changed meanwhile must still look changed to the next sync,
    which records it as an external change.
    """
    if entry.outcome is ChannelOutcome.APPLIED:
        return entry.target
    if entry.outcome in (ChannelOutcome.NOT_APPLIED, ChannelOutcome.FAILED, ChannelOutcome.RESTORED):
        return entry.before
    return None


class TransactionEffects:
    """Writes the consequences of a terminal transaction, then marks them done."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        invalidate: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.invalidate = invalidate  # the node's cached reads

    async def finish(self, transaction: TransactionRecord) -> TransactionRecord:
        """History, known policies, decisions, budget, audit and rollback links; then `effects_done`."""
        storage = self.storage
        entries = await storage.journal.for_transaction(transaction.tenant_id, transaction.id)
        await storage.policies.add_many(self._history(transaction, entries))
        await storage.policy_states.change(
            transaction.tenant_id, transaction.node_id, lambda state: self._known(state, entries)
        )
        await self._decisions(transaction, entries)
        await storage.budgets.settle(
            transaction.tenant_id, transaction.node_id, transaction.id, writes_made(entries)
        )
        await storage.audit.add_many(self._audit(transaction, entries))
        if transaction.kind is TransactionKind.ROLLBACK and transaction.rolls_back:
            await self._link_rollback(transaction)
        if self.invalidate is not None:
            await self.invalidate(transaction.tenant_id, transaction.node_id)
        return await storage.transactions.update(transaction, self.clock(), effects_done=True)

    def _history(self, transaction: TransactionRecord, entries: list[JournalEntry]) -> list[PolicyRecord]:
        """One `applied` entry per channel whose policy the batch changed and proved (restores included)."""
        now = self.clock()
        records = []
        for entry in entries:
            if entry.outcome is ChannelOutcome.APPLIED:
                policy, suffix = entry.target, "applied"
            elif entry.outcome is ChannelOutcome.RESTORED:
                policy, suffix = entry.before, "restored"
            else:
                continue
            records.append(
                PolicyRecord(
                    id=f"{entry.id}.{suffix}",
                    tenant_id=transaction.tenant_id,
                    node_id=transaction.node_id,
                    channel_id=entry.chan_id,
                    applied_at=now,
                    policy=policy,
                    previous=entry.before if suffix == "applied" else entry.target,
                    source=PolicySource.APPLIED,
                    decision_id=entry.decision_id,
                    transaction_id=transaction.id,
                    actor=transaction.actor,
                )
            )
        return records

    def _known(self, state: PolicyStateRecord, entries: list[JournalEntry]) -> PolicyStateRecord | None:
        """The node's known policies with this batch's proven results (so a sync never calls them external)."""
        now_s = int(self.clock().timestamp())
        channels = dict(state.channels)
        for entry in entries:
            policy = final_policy(entry)
            if policy is None:
                continue
            changed = entry.outcome in (ChannelOutcome.APPLIED, ChannelOutcome.RESTORED)
            known = channels.get(entry.chan_id)
            if known is not None and known.policy == policy and not changed:
                continue
            source = PolicySource.APPLIED if changed else (known.source if known else PolicySource.OBSERVED)
            channels[entry.chan_id] = KnownPolicy(policy=policy, source=source, at_s=now_s)
        if channels == state.channels:
            return None
        return state.model_copy(update={"channels": channels})

    async def _decisions(self, transaction: TransactionRecord, entries: list[JournalEntry]) -> None:
        """Each decision's final status; a rollback marks the decisions it undid as rolled back."""
        decisions = self.storage.decisions
        for entry in entries:
            if entry.decision_id is None:
                continue
            if transaction.kind is TransactionKind.APPLY:
                status = APPLY_STATUS.get(entry.outcome)
                if status is not None:
                    await decisions.settle(
                        transaction.tenant_id,
                        entry.decision_id,
                        WAITING,
                        status,
                        transaction_id=transaction.id,
                    )
            elif entry.outcome is ChannelOutcome.APPLIED:
                await decisions.settle(
                    transaction.tenant_id,
                    entry.decision_id,
                    frozenset({DecisionStatus.APPLIED}),
                    DecisionStatus.ROLLED_BACK,
                )

    def _audit(self, transaction: TransactionRecord, entries: list[JournalEntry]) -> list[AuditRecord]:
        """One record per channel write (target, read-back, outcome) and one for the transaction."""
        at = self.clock()
        action = (
            "policy.write"
            if transaction.kind is TransactionKind.APPLY
            else f"policy.{transaction.kind.value}"
        )
        records = [
            AuditRecord(
                id=f"{entry.id}.audit",
                tenant_id=transaction.tenant_id,
                at=at,
                actor=transaction.actor,
                action=action,
                outcome=entry.outcome.value,
                node_id=transaction.node_id,
                target=f"channel {entry.chan_id}",
                details={
                    "transaction_id": transaction.id,
                    "decision_id": entry.decision_id,
                    "sends": entry.attempts,
                    "restores": entry.restore_attempts,
                    "error": entry.error,
                },
                before=entry.before.model_dump(mode="json"),
                after=(entry.observed or entry.target).model_dump(mode="json"),
            )
            for entry in entries
            if entry.attempts or entry.outcome is not ChannelOutcome.FAILED
        ]
        records.append(
            AuditRecord(
                id=f"{transaction.id}.audit",
                tenant_id=transaction.tenant_id,
                at=at,
                actor=transaction.actor,
                action=f"transaction.{transaction.kind.value}",
                outcome=transaction.state.value,
                node_id=transaction.node_id,
                target=f"transaction {transaction.id}",
                details={
                    "mode": transaction.mode.value if transaction.mode else None,
                    "channels": transaction.channel_count,
                    "rolls_back": transaction.rolls_back,
                    "reason": transaction.reason[:300],
                },
            )
        )
        return records

    async def _link_rollback(self, rollback: TransactionRecord) -> None:
        """Record on the undone transaction which rollback undid it."""
        assert rollback.rolls_back is not None
        original = await self.storage.transactions.get(rollback.tenant_id, rollback.rolls_back)
        if rollback.id not in original.rolled_back_by:
            await self.storage.transactions.update(
                original, self.clock(), rolled_back_by=[*original.rolled_back_by, rollback.id]
            )
