"""Rollback of a transaction or some of its channels, and restore of a node to a backup or to a moment.

Every rollback is a journaled batch of its own (kind `rollback` or `restore`) with its own backup, read-back
and outcome per channel. Rollbacks are not held back by the cooldown or the daily cap (the change they undo
would otherwise block them) but are counted in the daily budget; they never touch pinned channels; a
transaction rollback leaves alone a channel someone changed outside the service after our write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.alerts.triggers import alert_on_transaction
from app.domain.channel import ChannelRef
from app.domain.execution import ChannelOutcome, TransactionKind
from app.domain.policy import ChannelPolicy
from app.errors import ConflictError, InvalidInputError
from app.observability.metrics_cycles import count_batch
from app.policy.backups import checksum_ok
from app.policy.executor import BatchIntent, Restoration
from app.services.execution import make_executor, transaction_summary
from app.services.node_settings import parse_node_settings
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import JournalEntry
from app.storage.records import NodeRecord

CHANGED = (ChannelOutcome.APPLIED, ChannelOutcome.RESTORED)
POLICY_FIELDS = tuple(name for name in ChannelPolicy.model_fields if name != "disabled")  # not a policy write


def moved(before: ChannelPolicy, after: ChannelPolicy) -> tuple[str, ...]:
    """The fields in which two policies differ (what a rollback has to put back)."""
    return tuple(name for name in POLICY_FIELDS if getattr(before, name) != getattr(after, name))


class RollbackService:
    """Builds restorations from the journal or a backup and runs them under the node's lease."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def rollback_transaction(
        self,
        node: NodeRecord,
        transaction_id: str,
        actor: str,
        reason: str,
        chan_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """Put every applied channel of a transaction (or the named ones) back to its backup."""
        storage = self.runtime.storage
        transaction = await storage.transactions.get(node.tenant_id, transaction_id)
        if transaction.node_id != node.id:
            raise InvalidInputError(f"transaction {transaction_id} is not of node {node.id}")
        if not transaction.state.terminal:
            raise ConflictError(
                f"transaction {transaction_id} is still {transaction.state.value}; recovery finishes it first",
                {"state": transaction.state.value},
            )
        entries = await storage.journal.for_transaction(node.tenant_id, transaction_id)
        if chan_ids:
            unknown = sorted(set(chan_ids) - {entry.chan_id for entry in entries})
            if unknown:
                raise InvalidInputError(
                    f"channel(s) {', '.join(unknown)} are not part of transaction {transaction_id}",
                    {"chan_ids": unknown},
                )
        chosen = [
            entry
            for entry in entries
            if entry.outcome is ChannelOutcome.APPLIED and (not chan_ids or entry.chan_id in chan_ids)
        ]
        if not chosen:
            raise ConflictError(
                f"nothing to roll back: no {'named ' if chan_ids else ''}channel of transaction {transaction_id} "
                "is applied",
                {"outcomes": transaction.counts},
            )
        restorations = [
            Restoration(
                channel=ChannelRef(chan_id=entry.chan_id, channel_point=entry.channel_point),
                policy=entry.before,
                only_if=entry.target,
                decision_id=entry.decision_id,
                fields=moved(entry.before, entry.target),
            )
            for entry in chosen
        ]
        intent = self._intent(node, actor, TransactionKind.ROLLBACK, reason, rolls_back=transaction_id)
        return await self._run(node, intent, restorations)

    async def restore_backup(
        self, node: NodeRecord, backup_id: str, actor: str, reason: str
    ) -> dict[str, Any]:
        """Write back every channel of the backup whose policy differs now."""
        backup = await self.runtime.storage.backups.get(node.tenant_id, backup_id)
        if backup.node_id != node.id:
            raise InvalidInputError(f"backup {backup_id} is not of node {node.id}")
        if not checksum_ok(backup):
            raise ConflictError(
                f"backup {backup_id} fails its checksum; it is not restored", {"backup_id": backup_id}
            )
        restorations = [
            Restoration(
                channel=ChannelRef(chan_id=chan_id, channel_point=entry.channel_point), policy=entry.policy
            )
            for chan_id, entry in sorted(backup.policies.items())
        ]
        intent = self._intent(
            node, actor, TransactionKind.RESTORE, reason or f"restore of backup {backup_id}"
        )
        return await self._run(node, intent, restorations)

    async def restore_to(self, node: NodeRecord, moment: datetime, actor: str, reason: str) -> dict[str, Any]:
        """Undo every change the service made to the node after `moment` (changes made by others stay).

        Each channel goes back to the policy it had just before the first transaction after `moment`
        that changed it (that transaction read it fresh and kept it as its backup), on the fields the
        service changed since, and only while the node still has them as the service last left them.
        """
        storage = self.runtime.storage
        transactions = await storage.transactions.since(node.tenant_id, node.id, moment)
        running = [t.id for t in transactions if not t.state.terminal]
        if running:
            raise ConflictError(
                f"transaction(s) {', '.join(running)} after that moment are still running; "
                "recovery finishes them first",
                {"transaction_ids": running},
            )
        # Per channel: its policy at `moment` (the backup of the first later batch that changed it) and
        # what the service last left it at; only the fields between the two are put back.
        first: dict[str, JournalEntry] = {}
        last: dict[str, ChannelPolicy] = {}
        for transaction in transactions:
            for entry in await storage.journal.for_transaction(node.tenant_id, transaction.id):
                if entry.outcome in CHANGED:
                    first.setdefault(entry.chan_id, entry)
                    last[entry.chan_id] = (
                        entry.target if entry.outcome is ChannelOutcome.APPLIED else entry.before
                    )
        restorations = [
            Restoration(
                channel=ChannelRef(chan_id=chan_id, channel_point=entry.channel_point),
                policy=entry.before,
                only_if=last[chan_id],
                fields=moved(entry.before, last[chan_id]),
            )
            for chan_id, entry in sorted(first.items())
            if moved(entry.before, last[chan_id])
        ]
        if not restorations:
            raise ConflictError(
                f"the service changed no channel of node {node.id} after {moment.isoformat()}; nothing to restore"
            )
        intent = self._intent(
            node, actor, TransactionKind.RESTORE, reason or f"restore to {moment.isoformat()}"
        )
        return await self._run(node, intent, restorations)

    async def _run(
        self, node: NodeRecord, intent: BatchIntent, restorations: list[Restoration]
    ) -> dict[str, Any]:
        runtime = self.runtime
        settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
        limits = settings.effective_profile(runtime.profiles, runtime.settings.profile).limits
        async with runtime.locks.hold(node.tenant_id, node.id, intent.kind.value) as lock:
            client = await runtime.clients.get(node, intent.actor)
            report = await make_executor(runtime, client, limits, lock).restore(intent, restorations)
        await alert_on_transaction(runtime.alerts, report.transaction)  # a rollback left partial
        count_batch(report.transaction, report.refused.values())
        return transaction_summary(report.transaction, report)

    @staticmethod
    def _intent(
        node: NodeRecord, actor: str, kind: TransactionKind, reason: str, rolls_back: str | None = None
    ) -> BatchIntent:
        return BatchIntent(
            tenant_id=node.tenant_id,
            node_id=node.id,
            actor=actor,
            kind=kind,
            reason=reason or f"{kind.value} of {rolls_back}",
            rolls_back=rolls_back,
        )
