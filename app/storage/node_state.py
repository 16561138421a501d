"""Per-node execution state: rollout stage, daily-cap ledger and last known policies."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.storage.base import CollectionName
from app.storage.execution_records import BudgetRecord, BudgetSlot, PolicyStateRecord, RolloutRecord
from app.storage.fields import epoch_ms
from app.storage.per_node import PerNodeRepository

BUDGET_WINDOW = timedelta(days=1)


class RolloutRepository(PerNodeRepository[RolloutRecord]):
    """A node's rollout stage and canary channels."""

    collection_name = CollectionName.ROLLOUTS
    model = RolloutRecord


class PolicyStateRepository(PerNodeRepository[PolicyStateRecord]):
    """The last policy the service knows each channel of a node to have."""

    collection_name = CollectionName.POLICY_STATES
    model = PolicyStateRecord


class BudgetRepository(PerNodeRepository[BudgetRecord]):
    """The daily cap as a ledger: slots are reserved atomically before a batch and trimmed after it."""

    collection_name = CollectionName.BUDGETS
    model = BudgetRecord

    async def used(self, tenant_id: str, node_id: str, now: datetime) -> int:
        """Slots taken in the 24 h before `now`."""
        return _used(await self.load(tenant_id, node_id), now)

    async def reserve(
        self,
        tenant_id: str,
        node_id: str,
        transaction_id: str,
        wanted: int,
        cap: int | None,
        now: datetime,
    ) -> int:
        """Take up to `wanted` slots for a transaction (all of them when `cap` is None); returns how many.

        One compare-and-set on the node's ledger, so two batches racing for the last slots can never
        both get them: the loser re-reads and takes what is left.
        """
        granted = 0

        def take(ledger: BudgetRecord) -> BudgetRecord | None:
            nonlocal granted
            room = wanted if cap is None else max(0, min(wanted, cap - _used(ledger, now)))
            granted = room
            if room == 0:
                return None
            kept = _recent(ledger, now)
            slot = BudgetSlot(transaction_id=transaction_id, slots=room, at_ms=epoch_ms(now))
            return ledger.model_copy(update={"entries": [*kept, slot]})

        await self.change(tenant_id, node_id, take)
        return granted

    async def settle(self, tenant_id: str, node_id: str, transaction_id: str, used: int) -> None:
        """Set a transaction's slots to what it really used (frees the rest); idempotent."""

        def trim(ledger: BudgetRecord) -> BudgetRecord | None:
            entries = [
                entry.model_copy(update={"slots": used}) if entry.transaction_id == transaction_id else entry
                for entry in ledger.entries
            ]
            return None if entries == ledger.entries else ledger.model_copy(update={"entries": entries})

        await self.change(tenant_id, node_id, trim)


def _recent(ledger: BudgetRecord, now: datetime) -> list[BudgetSlot]:
    start = epoch_ms(now - BUDGET_WINDOW)
    return [entry for entry in ledger.entries if entry.at_ms > start]


def _used(ledger: BudgetRecord, now: datetime) -> int:
    return sum(entry.slots for entry in _recent(ledger, now))
