"""The per-channel journal of transactions: each outcome change is a compare-and-set on one document."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, ReplaceOne

from app.domain.execution import NEXT_OUTCOMES, ChannelOutcome
from app.errors import ConflictError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.execution_records import JournalEntry
from app.storage.fields import utc_now
from app.storage.transactions import IllegalTransitionError


def _entry(document: Document) -> JournalEntry:
    return from_document(JournalEntry, document)


class JournalRepository(Repository):
    """Write a transaction's entries, read them back, and move their outcomes forward in bulk."""

    collection_name = CollectionName.JOURNAL

    @translate_errors
    async def add_many(self, entries: Sequence[JournalEntry]) -> int:
        """Insert the entries of a new transaction (all pending) in one round trip."""
        if any(entry.outcome is not ChannelOutcome.PENDING for entry in entries):
            raise IllegalTransitionError("journal entries are created pending")
        return await self._insert_many(entries, time_field="updated_at")

    @translate_errors
    async def for_transaction(self, tenant_id: str, transaction_id: str) -> list[JournalEntry]:
        """Every entry of a transaction, by channel id."""
        query = scoped(tenant_id, transaction_id=transaction_id)
        documents = await self._collection.find(query).sort("chan_id", ASCENDING).to_list()
        return [_entry(document) for document in documents]

    @translate_errors
    async def record(self, changes: Sequence[tuple[JournalEntry, JournalEntry]]) -> list[JournalEntry]:
        """Write (old, new) pairs by compare-and-set on each entry's version, in one round trip.

        Every outcome change must be one the state machine allows, checked for the whole batch before
        anything is written. Each entry is its own compare-and-set: ConflictError when any entry changed
        since it was read (another process is driving this transaction, so this one must stop); the
        entries that had not changed are written all the same, each correct on its own.
        """
        if not changes:
            return []
        now = utc_now()
        written: list[JournalEntry] = []
        operations = []
        for old, new in changes:
            if not NEXT_OUTCOMES[old.outcome]:
                raise IllegalTransitionError(f"journal {old.id}: {old.outcome.value} is final")
            if new.outcome not in NEXT_OUTCOMES[old.outcome]:  # the table lists the self-loops it allows
                raise IllegalTransitionError(
                    f"journal {old.id}: {old.outcome.value} -> {new.outcome.value} is not allowed"
                )
            updated = new.model_copy(update={"version": old.version + 1, "updated_at": now})
            query = scoped(old.tenant_id, _id=old.id, version=old.version)
            operations.append(ReplaceOne(query, to_document(updated, time_field="updated_at")))
            written.append(updated)
        result = await self._collection.bulk_write(operations, ordered=True)
        if result.matched_count != len(operations):
            raise ConflictError(
                f"{len(operations) - result.matched_count} journal entries changed meanwhile; "
                "another process is driving this transaction",
                {"transaction_id": changes[0][0].transaction_id},
            )
        return written

    @translate_errors
    async def channels_of(self, tenant_id: str, transaction_ids: Sequence[str]) -> set[str]:
        """Every channel of the given transactions."""
        if not transaction_ids:
            return set()
        query = scoped(tenant_id)
        query["transaction_id"] = {"$in": list(transaction_ids)}
        documents = await self._collection.find(query, {"chan_id": 1}).to_list()
        return {str(document["chan_id"]) for document in documents}
