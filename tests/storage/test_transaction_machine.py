"""Stateful test: transactions and their journal move only along their state machines, by compare-and-set."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from app.domain.execution import NEXT_OUTCOMES, NEXT_STATES, ChannelOutcome, TransactionState
from app.errors import ConflictError
from app.storage.base import CollectionName
from app.storage.database import Storage, connect, open_storage
from app.storage.execution_records import JournalEntry, TransactionRecord
from app.storage.transactions import IllegalTransitionError
from tests.storage.builders import journal_entry, transaction
from tests.storage.conftest import database_name, storage_settings

T = TypeVar("T")
TENANTS = ("t1", "t2")
NODE = "n1"
FIRST_CHANNEL = 800_000_000_000_000_001
# Across every example of the run: proves the machine took each path, not just that no step failed.
STATS: Counter[str] = Counter()
# The session's server (the `mongo_url` fixture), handed to machines that pytest does not build.
SERVER: dict[str, str] = {}


def chan_id(index: int) -> str:
    """The short channel id of a transaction's index-th channel."""
    return str(FIRST_CHANNEL + index)


def outcome_refused(old: ChannelOutcome, new: ChannelOutcome) -> bool:
    """NEXT_OUTCOMES refuses `old -> new` (a final outcome refuses everything, itself included)."""
    return new not in NEXT_OUTCOMES[old]


@dataclass
class Expected:
    """What the database must hold for one transaction and its journal."""

    tenant_id: str
    created: TransactionRecord
    state: TransactionState = TransactionState.PLANNED
    version: int = 0
    effects_done: bool = False
    recovery_passes: int = 0
    # (state, version) each time the invariants saw the stored state change, starting at creation.
    history: list[tuple[TransactionState, int]] = field(default_factory=list)
    entries: dict[str, tuple[ChannelOutcome, int]] = field(default_factory=dict)  # id -> (outcome, version)

    def wrote(self, record: TransactionRecord) -> None:
        """One successful compare-and-set returned `record`."""
        assert record.version == self.version + 1, "a write must add exactly one to the version"
        self.state, self.version = record.state, record.version
        self.effects_done, self.recovery_passes = record.effects_done, record.recovery_passes

    def wrote_entry(self, entry: JournalEntry) -> None:
        """One successful compare-and-set on a journal entry returned `entry`."""
        _, version = self.entries[entry.id]
        assert entry.version == version + 1, "a journal write must add exactly one to the version"
        self.entries[entry.id] = (entry.outcome, entry.version)

    @property
    def unfinished(self) -> bool:
        """Recovery must pick it up: not terminal, or terminal with its effects not written."""
        return not self.state.terminal or not self.effects_done


class TransactionMachine(RuleBasedStateMachine):
    """Creates transactions, then drives, races and replays their states and journal outcomes."""

    transactions = Bundle("transactions")
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.config = storage_settings(SERVER["url"], database_name())
        self.storage = self.run(open_storage(self.config))
        self.other = self.run(self._second_client())  # another replica: its own client, same database
        self.model: dict[str, Expected] = {}
        STATS["machine"] += 1

    async def _second_client(self) -> Storage:
        client = connect(SERVER["url"], self.config.mongodb_timeout_ms)
        return Storage(client=client, database=client[self.config.mongodb_database])

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine on the machine's own loop."""
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        """Drop the database, close both clients and the loop."""
        try:
            self.run(self.storage.client.drop_database(self.config.mongodb_database))
            self.run(self.other.close())
            self.run(self.storage.close())
        finally:
            self.loop.close()

    # --- helpers --------------------------------------------------------------------------------------

    def read(self, transaction_id: str) -> TransactionRecord:
        """The transaction as stored now."""
        return self.run(self.storage.transactions.get(self.model[transaction_id].tenant_id, transaction_id))

    def entries(self, transaction_id: str) -> list[JournalEntry]:
        """The transaction's journal as stored now."""
        tenant_id = self.model[transaction_id].tenant_id
        return self.run(self.storage.journal.for_transaction(tenant_id, transaction_id))

    def refused(self, transaction_id: str, error: type[Exception], attempt: Coroutine[Any, Any, Any]) -> None:
        """`attempt` raises `error` and leaves the transaction and its journal exactly as they were."""
        before, journal = self.read(transaction_id), self.entries(transaction_id)
        with pytest.raises(error):
            self.run(attempt)
        assert self.read(transaction_id) == before
        assert self.entries(transaction_id) == journal

    def change(self, entry: JournalEntry, outcome: ChannelOutcome) -> JournalEntry:
        """`entry` moved to `outcome`, with one more attempt so a write is visible even without a move."""
        return entry.model_copy(update={"outcome": outcome, "attempts": entry.attempts + 1})

    # --- transactions ---------------------------------------------------------------------------------

    @rule(target=transactions, tenant_id=st.sampled_from(TENANTS), channels=st.integers(1, 6))
    def create(self, tenant_id, channels):
        """Insert a planned transaction and its 1-6 pending journal entries."""
        record = transaction(tenant_id, NODE, channels=channels)
        entries = [journal_entry(record, chan_id(index)) for index in range(channels)]
        self.run(self.storage.transactions.add(record))
        assert self.run(self.storage.journal.add_many(entries)) == channels
        self.model[record.id] = Expected(
            tenant_id=tenant_id,
            created=record,
            history=[(TransactionState.PLANNED, 0)],
            entries={entry.id: (ChannelOutcome.PENDING, 0) for entry in entries},
        )
        STATS["created"] += 1
        return record.id

    @rule(
        state=st.sampled_from([s for s in TransactionState if s is not TransactionState.PLANNED]),
        outcome=st.sampled_from([o for o in ChannelOutcome if o is not ChannelOutcome.PENDING]),
    )
    def create_past_the_start(self, state, outcome):
        """A transaction is created planned and its entries pending; anything else stores nothing."""
        record = transaction(TENANTS[0], NODE)
        with pytest.raises(IllegalTransitionError):
            self.run(self.storage.transactions.add(record.model_copy(update={"state": state})))
        entry = journal_entry(record).model_copy(update={"outcome": outcome})
        with pytest.raises(IllegalTransitionError):
            self.run(self.storage.journal.add_many([entry]))
        STATS["creation refused"] += 1

    @rule(target=snapshots, transaction_id=transactions)
    def snapshot(self, transaction_id):
        """Read a transaction now, to write from it later (when it may have gone stale)."""
        return self.read(transaction_id)

    @rule(transaction_id=transactions, state=st.sampled_from(TransactionState))
    def advance_any(self, transaction_id, state):
        """Advance a fresh read to any state: allowed edges are stored, others refused."""
        self._advance(self.read(transaction_id), state)

    @rule(transaction_id=transactions, data=st.data())
    def advance_legal(self, transaction_id, data):
        """Advance a fresh read along an allowed edge (when there is one), to reach deep states."""
        record = self.read(transaction_id)
        if record.state.terminal:
            return
        self._advance(record, data.draw(st.sampled_from(sorted(NEXT_STATES[record.state]))))

    @rule(snapshot=snapshots, state=st.sampled_from(TransactionState))
    def advance_snapshot(self, snapshot, state):
        """Advance a record read earlier: refused as illegal, refused as stale, or stored if still current."""
        self._advance(snapshot, state)

    def _advance(self, record: TransactionRecord, state: TransactionState) -> None:
        expected = self.model[record.id]
        if state not in NEXT_STATES[record.state]:
            self.refused(record.id, IllegalTransitionError, self.storage.transactions.advance(record, state))
            STATS["illegal transition refused"] += 1
        elif record.version != expected.version:
            self.refused(record.id, ConflictError, self.storage.transactions.advance(record, state))
            STATS["stale transition refused"] += 1
        else:
            expected.wrote(self.run(self.storage.transactions.advance(record, state)))
            assert self.read(record.id).state is state
            STATS["transition"] += 1

    @rule(transaction_id=transactions, state=st.sampled_from(TransactionState))
    def update_state(self, transaction_id, state):
        """update() may keep the state or take an allowed edge, and refuses anything else."""
        record = self.read(transaction_id)
        expected = self.model[transaction_id]
        if state is not record.state and state not in NEXT_STATES[record.state]:
            self.refused(
                transaction_id, IllegalTransitionError, self.storage.transactions.update(record, state=state)
            )
            STATS["illegal transition refused"] += 1
            return
        expected.wrote(self.run(self.storage.transactions.update(record, state=state)))
        STATS["transition" if state is not record.state else "same-state update"] += 1

    @rule(transaction_id=transactions, done=st.booleans())
    def mark_effects(self, transaction_id, done):
        """Record whether the effects of the transaction were written (what recovery looks at)."""
        record = self.read(transaction_id)
        self.model[transaction_id].wrote(
            self.run(self.storage.transactions.update(record, effects_done=done))
        )

    @rule(transaction_id=transactions, data=st.data())
    def overtaken(self, transaction_id, data):
        """Another replica writes after we read: our write from the old read loses and changes nothing."""
        expected = self.model[transaction_id]
        ours = self.read(transaction_id)
        if ours.state.terminal:
            theirs = self.run(self.other.transactions.update(ours, recovery_passes=ours.recovery_passes + 1))
            attempt = self.storage.transactions.update(ours, effects_done=not ours.effects_done)
        else:
            edges = sorted(NEXT_STATES[ours.state])
            theirs = self.run(self.other.transactions.advance(ours, data.draw(st.sampled_from(edges))))
            attempt = self.storage.transactions.advance(ours, data.draw(st.sampled_from(edges)))
        expected.wrote(theirs)
        if theirs.state is not ours.state:
            STATS["transition"] += 1
        self.refused(transaction_id, ConflictError, attempt)
        assert self.read(transaction_id) == theirs, "the winner's write must survive"
        STATS["stale transition refused"] += 1

    @rule(transaction_id=transactions, writers=st.integers(2, 5), data=st.data())
    def race(self, transaction_id, writers, data):
        """Writers on two clients race from one read: exactly one wins, the others lose, none overwrites."""
        record = self.read(transaction_id)
        attempts = []
        for writer in range(writers):
            repository = (self.storage if writer % 2 else self.other).transactions
            mark = record.recovery_passes + writer + 1  # tells the writers apart
            if record.state.terminal:
                attempts.append(repository.update(record, recovery_passes=mark))
            else:
                state = data.draw(st.sampled_from(sorted(NEXT_STATES[record.state])))
                attempts.append(repository.advance(record, state, recovery_passes=mark))

        async def together() -> list[TransactionRecord | BaseException]:
            return await asyncio.gather(*attempts, return_exceptions=True)

        results = self.run(together())
        won = [result for result in results if isinstance(result, TransactionRecord)]
        lost = [result for result in results if isinstance(result, ConflictError)]
        assert len(won) == 1 and len(lost) == writers - 1, results
        self.model[transaction_id].wrote(won[0])
        if won[0].state is not record.state:
            STATS["transition"] += 1
        assert self.read(transaction_id) == won[0], "a losing writer overwrote the winner"
        STATS["race lost"] += len(lost)

    # --- journal --------------------------------------------------------------------------------------

    @rule(transaction_id=transactions, index=st.integers(0, 5), outcome=st.sampled_from(ChannelOutcome))
    def record_any(self, transaction_id, index, outcome):
        """Move one entry to any outcome: allowed moves are stored, others (and final entries) refused."""
        entries = self.entries(transaction_id)
        self._record(transaction_id, [(entries[index % len(entries)], outcome)])

    @rule(
        transaction_id=transactions,
        outcomes=st.lists(st.sampled_from(ChannelOutcome), min_size=1, max_size=6),
    )
    def record_batch(self, transaction_id, outcomes):
        """Move several entries in one call: one refused pair refuses the whole batch."""
        entries = self.entries(transaction_id)
        self._record(transaction_id, list(zip(entries, outcomes, strict=False)))

    @rule(transaction_id=transactions, data=st.data())
    def record_legal(self, transaction_id, data):
        """Move every open entry along an allowed edge in one call, to reach deep outcomes."""
        entries = [entry for entry in self.entries(transaction_id) if NEXT_OUTCOMES[entry.outcome]]
        moves = [
            (entry, data.draw(st.sampled_from(sorted(NEXT_OUTCOMES[entry.outcome])))) for entry in entries
        ]
        if moves:
            self._record(transaction_id, moves)

    def _record(self, transaction_id: str, moves: list[tuple[JournalEntry, ChannelOutcome]]) -> None:
        expected = self.model[transaction_id]
        changes = [(entry, self.change(entry, outcome)) for entry, outcome in moves]
        if any(outcome_refused(entry.outcome, outcome) for entry, outcome in moves):
            self.refused(transaction_id, IllegalTransitionError, self.storage.journal.record(changes))
            finals = sum(not NEXT_OUTCOMES[entry.outcome] for entry, _ in moves)
            STATS["final entry refused" if finals else "illegal outcome refused"] += 1
            return
        written = self.run(self.storage.journal.record(changes))
        assert [entry.outcome for entry in written] == [outcome for _, outcome in moves]
        for entry in written:
            expected.wrote_entry(entry)
        STATS["outcome change"] += len(written)

    @rule(transaction_id=transactions, index=st.integers(0, 5), data=st.data())
    def record_stale(self, transaction_id, index, data):
        """Another replica moves an entry after we read it: our write from the old read loses."""
        expected = self.model[transaction_id]
        open_ = [entry for entry in self.entries(transaction_id) if NEXT_OUTCOMES[entry.outcome]]
        if not open_:
            return
        ours = open_[index % len(open_)]
        edges = sorted(NEXT_OUTCOMES[ours.outcome])
        (theirs,) = self.run(
            self.other.journal.record([(ours, self.change(ours, data.draw(st.sampled_from(edges))))])
        )
        expected.wrote_entry(theirs)
        attempt = self.storage.journal.record([(ours, self.change(ours, data.draw(st.sampled_from(edges))))])
        self.refused(transaction_id, ConflictError, attempt)
        STATS["stale entry refused"] += 1

    @rule(transaction_id=transactions, index=st.integers(0, 5), writers=st.integers(2, 4), data=st.data())
    def record_race(self, transaction_id, index, writers, data):
        """Writers on two clients move one entry from one read: exactly one wins."""
        expected = self.model[transaction_id]
        open_ = [entry for entry in self.entries(transaction_id) if NEXT_OUTCOMES[entry.outcome]]
        if not open_:
            return
        old = open_[index % len(open_)]
        edges = sorted(NEXT_OUTCOMES[old.outcome])
        attempts = [
            (self.storage if writer % 2 else self.other).journal.record(
                [
                    (
                        old,
                        old.model_copy(
                            update={"outcome": data.draw(st.sampled_from(edges)), "attempts": writer}
                        ),
                    )
                ]
            )
            for writer in range(writers)
        ]

        async def together() -> list[list[JournalEntry] | BaseException]:
            return await asyncio.gather(*attempts, return_exceptions=True)

        results = self.run(together())
        won = [result for result in results if isinstance(result, list)]
        lost = [result for result in results if isinstance(result, ConflictError)]
        assert len(won) == 1 and len(lost) == writers - 1, results
        expected.wrote_entry(won[0][0])
        (stored,) = [entry for entry in self.entries(transaction_id) if entry.id == old.id]
        assert stored.attempts == won[0][0].attempts, "a losing writer overwrote the winner"
        STATS["race lost"] += len(lost)

    @rule(transaction_id=transactions)
    def replay_journal(self, transaction_id):
        """Inserting a transaction's entries again is refused: no channel gets a second entry."""
        created = self.model[transaction_id].created
        entries = [journal_entry(created, chan_id(index)) for index in range(created.channel_count)]
        self.refused(transaction_id, ConflictError, self.storage.journal.add_many(entries))
        STATS["replay refused"] += 1

    # --- invariants -----------------------------------------------------------------------------------

    @invariant()
    def stored_equals_model(self):
        """Every transaction and journal entry is stored exactly as the model expects, and nothing else is."""
        for transaction_id, expected in self.model.items():
            stored = self.read(transaction_id)
            assert (stored.state, stored.version, stored.effects_done, stored.recovery_passes) == (
                expected.state,
                expected.version,
                expected.effects_done,
                expected.recovery_passes,
            )
            if expected.history[-1] != (stored.state, stored.version):
                expected.history.append((stored.state, stored.version))
            entries = self.entries(transaction_id)
            assert [entry.id for entry in entries] == sorted(expected.entries), "an entry was lost or added"
            assert {entry.id: (entry.outcome, entry.version) for entry in entries} == expected.entries
            assert all(entry.chan_id == entry.id.rsplit(".", 1)[1] for entry in entries)
        journal = self.storage.database[CollectionName.JOURNAL.value]
        ids = [document["_id"] for document in self.run(journal.find({}, {"_id": 1}).to_list())]
        assert sorted(ids) == sorted(key for expected in self.model.values() for key in expected.entries)
        count = self.run(self.storage.database[CollectionName.TRANSACTIONS.value].count_documents({}))
        assert count == len(self.model)

    @invariant()
    def history_follows_the_state_machine(self):
        """Every stored state was reached from planned along allowed edges, one version at a time or more."""
        for expected in self.model.values():
            assert expected.history[0] == (TransactionState.PLANNED, 0)
            for (before, old), (after, new) in pairwise(expected.history):
                assert new > old
                assert after is before or after in NEXT_STATES[before], f"{before} -> {after} was stored"

    @invariant()
    def unfinished_is_exact(self):
        """Recovery sees exactly the non-terminal transactions and the terminal ones with effects pending."""
        listed = [record.id for record in self.run(self.storage.transactions.unfinished())]
        assert len(listed) == len(set(listed)), "a transaction is listed twice"
        assert set(listed) == {key for key, expected in self.model.items() if expected.unfinished}
        for tenant_id in TENANTS:
            scoped = self.run(self.storage.transactions.unfinished(tenant_id=tenant_id, node_id=NODE))
            assert {record.id for record in scoped} == {
                key
                for key, expected in self.model.items()
                if expected.unfinished and expected.tenant_id == tenant_id
            }

    @invariant()
    def channels_of_transactions_are_exact(self):
        """The channels of a tenant's transactions are exactly those journaled for them, nobody else's."""
        for tenant_id in TENANTS:
            mine = [key for key, expected in self.model.items() if expected.tenant_id == tenant_id]
            found = self.run(self.storage.journal.channels_of(tenant_id, list(self.model)))
            assert found == {
                entry_id.rsplit(".", 1)[1] for key in mine for entry_id in self.model[key].entries
            }


def test_transactions_and_journal_only_move_along_their_state_machines(mongo_url):
    SERVER["url"] = mongo_url
    STATS.clear()
    run_state_machine_as_test(
        TransactionMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    paths = ("transition", "illegal transition refused", "stale transition refused")
    print(
        "\n" + ", ".join(f"{name}: {STATS[name]}" for name in paths),
        "\nall:",
        dict(sorted(STATS.items())),
    )
    for name in (
        *paths,
        "outcome change",
        "illegal outcome refused",
        "final entry refused",
        "stale entry refused",
        "race lost",
    ):
        assert STATS[name] > 0, f"the machine never took the path {name!r}"


async def test_pending_entry_cannot_stay_pending(storage: Storage):
    record = await storage.transactions.add(transaction("t1", NODE))
    entry = journal_entry(record)
    await storage.journal.add_many([entry])
    with pytest.raises(IllegalTransitionError):
        await storage.journal.record([(entry, entry.model_copy(update={"attempts": 1}))])
    (stored,) = await storage.journal.for_transaction("t1", record.id)
    assert (stored.outcome, stored.version, stored.attempts) == (ChannelOutcome.PENDING, 0, 0)
