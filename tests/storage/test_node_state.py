"""Per-node documents: the daily-cap ledger and compare-and-set changes, racing on one and two clients."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.storage.database import Storage
from app.storage.execution_records import (
    BudgetRecord,
    BudgetSlot,
    NodeDocument,
    RolloutRecord,
)
from app.storage.fields import epoch_ms
from tests.storage.builders import T0

DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)


async def test_reserve_grants_up_to_the_cap_and_then_nothing(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 3, cap=5, now=T0) == 3
    assert await budgets.reserve("t1", "n1", "tx-2", 3, cap=5, now=T0 + MS) == 2
    assert await budgets.reserve("t1", "n1", "tx-3", 1, cap=5, now=T0 + 2 * MS) == 0
    assert await budgets.used("t1", "n1", T0 + 2 * MS) == 5
    ledger = await budgets.load("t1", "n1")
    assert [(slot.transaction_id, slot.slots) for slot in ledger.entries] == [("tx-1", 3), ("tx-2", 2)]
    assert ledger.entries[0].at_ms == epoch_ms(T0)
    assert ledger.version == 2  # the refused reservation wrote nothing


async def test_a_cap_of_zero_grants_nothing(storage: Storage):
    assert await storage.budgets.reserve("t1", "n1", "tx-1", 1, cap=0, now=T0) == 0
    assert (await storage.budgets.load("t1", "n1")).version == 0


async def test_the_budget_window_is_a_rolling_24_hours(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 5, cap=5, now=T0) == 5
    assert await budgets.reserve("t1", "n1", "tx-2", 1, cap=5, now=T0 + DAY - MS) == 0
    assert await budgets.used("t1", "n1", T0 + DAY - MS) == 5
    assert await budgets.used("t1", "n1", T0 + DAY) == 0
    assert await budgets.reserve("t1", "n1", "tx-3", 4, cap=5, now=T0 + DAY) == 4
    ledger = await budgets.load("t1", "n1")
    assert [slot.transaction_id for slot in ledger.entries] == ["tx-3"]  # the expired slot was dropped


async def test_the_window_counts_each_reservation_at_its_own_moment(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 2, cap=5, now=T0) == 2
    assert await budgets.reserve("t1", "n1", "tx-2", 3, cap=5, now=T0 + 12 * timedelta(hours=1)) == 3
    assert await budgets.reserve("t1", "n1", "tx-3", 5, cap=5, now=T0 + DAY) == 2  # tx-1 freed its 2
    assert await budgets.used("t1", "n1", T0 + DAY) == 5


async def test_without_a_cap_every_reservation_is_granted(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 100, cap=None, now=T0) == 100
    assert await budgets.reserve("t1", "n1", "tx-2", 100, cap=None, now=T0 + MS) == 100
    assert await budgets.used("t1", "n1", T0 + MS) == 200
    # A capped reservation afterwards sees the slots taken without a cap.
    assert await budgets.reserve("t1", "n1", "tx-3", 1, cap=500, now=T0 + 2 * MS) == 1
    assert await budgets.reserve("t1", "n1", "tx-4", 1, cap=201, now=T0 + 3 * MS) == 0


async def test_budgets_are_per_node_and_per_tenant(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 5, cap=5, now=T0) == 5
    assert await budgets.reserve("t1", "n2", "tx-2", 5, cap=5, now=T0) == 5
    assert await budgets.reserve("t2", "n1", "tx-3", 5, cap=5, now=T0) == 5
    assert await budgets.used("t2", "n2", T0) == 0


async def test_settle_sets_the_slots_a_transaction_really_used(storage: Storage):
    budgets = storage.budgets
    assert await budgets.reserve("t1", "n1", "tx-1", 5, cap=5, now=T0) == 5
    await budgets.settle("t1", "n1", "tx-1", 2)
    assert await budgets.used("t1", "n1", T0) == 2
    assert await budgets.reserve("t1", "n1", "tx-2", 5, cap=5, now=T0 + MS) == 3
    ledger = await budgets.load("t1", "n1")
    assert [(slot.transaction_id, slot.slots) for slot in ledger.entries] == [("tx-1", 2), ("tx-2", 3)]


async def test_settle_is_idempotent(storage: Storage):
    budgets = storage.budgets
    await budgets.reserve("t1", "n1", "tx-1", 4, cap=5, now=T0)
    await budgets.settle("t1", "n1", "tx-1", 1)
    settled = await budgets.load("t1", "n1")
    await budgets.settle("t1", "n1", "tx-1", 1)
    await budgets.settle("t1", "n1", "tx-unknown", 0)
    again = await budgets.load("t1", "n1")
    assert again == settled  # same entries, same version: nothing written
    await budgets.settle("t1", "n1", "tx-1", 0)
    assert await budgets.used("t1", "n1", T0) == 0


async def test_settle_on_a_node_without_a_ledger_stores_nothing(storage: Storage):
    await storage.budgets.settle("t1", "n1", "tx-1", 0)
    assert await storage.database["budgets"].count_documents({}) == 0


async def test_racing_reservations_on_two_clients_never_exceed_the_cap(
    storage: Storage, second_client: Storage
):
    for round_, (wanted, cap) in enumerate([(1, 10), (3, 10), (2, 7)]):
        node = f"n{round_}"
        attempts = [
            client.budgets.reserve("t1", node, f"tx-{label}-{n}", wanted, cap=cap, now=T0)
            for n in range(10)
            for label, client in (("a", storage), ("b", second_client))
        ]
        granted = await asyncio.gather(*attempts)
        # 20 reservations want far more than the cap: every slot is taken, and no slot twice.
        assert sum(granted) == cap, (wanted, cap, granted)
        assert all(0 <= slots <= wanted for slots in granted)
        ledger = await storage.budgets.load("t1", node)
        assert sum(slot.slots for slot in ledger.entries) == cap
        assert all(slot.slots > 0 for slot in ledger.entries)
        assert sorted(slot.transaction_id for slot in ledger.entries) == sorted(
            attempt_id
            for attempt_id, slots in zip(
                (f"tx-{label}-{n}" for n in range(10) for label in ("a", "b")), granted, strict=True
            )
            if slots
        )


async def test_racing_reservations_for_the_last_slots(storage: Storage, second_client: Storage):
    assert await storage.budgets.reserve("t1", "n1", "tx-old", 4, cap=5, now=T0) == 4
    later = T0 + timedelta(hours=1)
    granted = await asyncio.gather(
        *(
            client.budgets.reserve("t1", "n1", f"tx-{n}", 1, cap=5, now=later)
            for n in range(8)
            for client in (storage, second_client)
        )
    )
    assert sum(granted) == 1
    assert await second_client.budgets.used("t1", "n1", later) == 5


# --- PerNodeRepository ------------------------------------------------------------------------------


async def test_load_of_a_missing_document_is_a_default_at_version_zero(storage: Storage):
    record = await storage.rollouts.load("t1", "n1")
    assert isinstance(record, RolloutRecord)
    assert (record.id, record.tenant_id, record.node_id, record.version) == (
        NodeDocument.key("t1", "n1"),
        "t1",
        "n1",
        0,
    )
    assert record.canary_channels == []
    budget = await storage.budgets.load("t1", "n1")
    assert isinstance(budget, BudgetRecord) and budget.version == 0 and budget.entries == []
    assert await storage.database["rollouts"].count_documents({}) == 0  # loading stores nothing


async def test_change_stores_and_bumps_the_version(storage: Storage):
    def add(channel: str):
        def mutate(record: RolloutRecord) -> RolloutRecord:
            return record.model_copy(update={"canary_channels": [*record.canary_channels, channel]})

        return mutate

    first = await storage.rollouts.change("t1", "n1", add("1"))
    assert first.version == 1 and first.canary_channels == ["1"]
    second = await storage.rollouts.change("t1", "n1", add("2"))
    assert second.version == 2
    assert await storage.rollouts.load("t1", "n1") == second
    unchanged = await storage.rollouts.change("t1", "n1", lambda record: None)
    assert unchanged == second


async def test_change_returning_none_on_a_missing_document_stores_nothing(storage: Storage):
    result = await storage.rollouts.change("t1", "n1", lambda record: None)
    assert result.version == 0
    assert await storage.database["rollouts"].count_documents({}) == 0


async def test_save_refuses_a_stale_version(storage: Storage):
    fresh = await storage.rollouts.load("t1", "n1")
    assert await storage.rollouts.save(fresh, fresh.model_copy(update={"canary_channels": ["1"]}))
    assert not await storage.rollouts.save(fresh, fresh.model_copy(update={"canary_channels": ["2"]}))
    stored = await storage.rollouts.load("t1", "n1")
    assert not await storage.rollouts.save(
        stored.model_copy(update={"version": 7}), stored.model_copy(update={"canary_channels": ["3"]})
    )
    assert (await storage.rollouts.load("t1", "n1")).canary_channels == ["1"]


async def test_concurrent_changes_on_two_clients_lose_no_update(storage: Storage, second_client: Storage):
    def append(channel: str):
        def mutate(record: RolloutRecord) -> RolloutRecord:
            return record.model_copy(update={"canary_channels": [*record.canary_channels, channel]})

        return mutate

    channels = [str(800_000 << 40 | n << 16) for n in range(20)]
    clients = (storage, second_client)
    results = await asyncio.gather(
        *(clients[n % 2].rollouts.change("t1", "n1", append(channel)) for n, channel in enumerate(channels))
    )
    final = await storage.rollouts.load("t1", "n1")
    assert sorted(final.canary_channels) == sorted(channels)  # every append survived the races
    assert final.version == len(channels)
    assert sorted(result.version for result in results) == list(range(1, len(channels) + 1))
    for result, channel in zip(results, channels, strict=True):
        assert result.canary_channels[-1] == channel  # each change returns what it saved


async def test_concurrent_ledger_changes_keep_every_slot(storage: Storage, second_client: Storage):
    def add_slot(n: int):
        def mutate(record: BudgetRecord) -> BudgetRecord:
            slot = BudgetSlot(transaction_id=f"tx-{n}", slots=1, at_ms=epoch_ms(T0))
            return record.model_copy(update={"entries": [*record.entries, slot]})

        return mutate

    clients = (storage, second_client)
    await asyncio.gather(*(clients[n % 2].budgets.change("t1", "n1", add_slot(n)) for n in range(12)))
    ledger = await second_client.budgets.load("t1", "n1")
    assert sorted(slot.transaction_id for slot in ledger.entries) == sorted(f"tx-{n}" for n in range(12))
