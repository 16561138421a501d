"""Transactions: batches of policy writes whose state only moves forward, each step a compare-and-set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from app.domain.execution import NEXT_STATES, TransactionKind, TransactionState
from app.errors import ConflictError, NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.execution_records import TransactionRecord
from app.storage.fields import bson_utc, time_prefix, utc_now
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, check_limit, fetch_page

UNFINISHED_STATES = [state.value for state in TransactionState if not state.terminal]
MAX_UNFINISHED = 10_000


class IllegalTransitionError(RuntimeError):
    """A state change the transaction state machine does not allow: a bug, never an input error."""


def _transaction(document: Document) -> TransactionRecord:
    return from_document(TransactionRecord, document)


class TransactionRepository(Repository):
    """Insert, read, advance and list transactions."""

    collection_name = CollectionName.TRANSACTIONS

    @translate_errors
    async def add(self, record: TransactionRecord) -> TransactionRecord:
        """Insert a new transaction (in state planned)."""
        if record.state is not TransactionState.PLANNED:
            raise IllegalTransitionError("a transaction is created in state planned")
        await self._collection.insert_one(to_document(record, time_field="created_at"))
        return record

    @translate_errors
    async def get(self, tenant_id: str, transaction_id: str) -> TransactionRecord:
        """One transaction of the tenant; NotFoundError when absent (or another tenant's)."""
        missing = NotFoundError(f"transaction {transaction_id} not found", {"transaction_id": transaction_id})
        return await self._get_or_raise(scoped(tenant_id, _id=transaction_id), _transaction, missing)

    async def advance(
        self, record: TransactionRecord, state: TransactionState, now: datetime | None = None, **changes: Any
    ) -> TransactionRecord:
        """Move to `state` if the state machine allows it and nobody changed the record since it was read."""
        if state not in NEXT_STATES[record.state]:
            raise IllegalTransitionError(
                f"transaction {record.id}: {record.state.value} -> {state.value} is not allowed"
            )
        return await self.update(record, now, state=state, **changes)

    @translate_errors
    async def update(
        self, record: TransactionRecord, now: datetime | None = None, **changes: Any
    ) -> TransactionRecord:
        """Write `changes` by compare-and-set on (state, version); ConflictError when the record moved on."""
        if "state" in changes and changes["state"] not in NEXT_STATES[record.state] | {record.state}:
            raise IllegalTransitionError(f"transaction {record.id}: use advance() to change the state")
        updated = record.model_copy(
            update={**changes, "version": record.version + 1, "updated_at": bson_utc(now or utc_now())}
        )
        query = scoped(record.tenant_id, _id=record.id, state=record.state.value, version=record.version)
        if not await self._replace_if(query, updated, time_field="created_at"):
            current = await self.get(record.tenant_id, record.id)
            raise ConflictError(
                f"transaction {record.id} changed meanwhile (now {current.state.value}, version {current.version})",
                {"transaction_id": record.id, "state": current.state.value},
            )
        return updated

    @translate_errors
    async def since(
        self, tenant_id: str, node_id: str, since: datetime, *, limit: int = 10_000
    ) -> list[TransactionRecord]:
        """The node's transactions created at or after `since`, oldest first."""
        check_limit(limit, maximum=MAX_UNFINISHED)
        query = scoped(tenant_id, node_id=node_id)
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since))}
        documents = await self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(limit).to_list()
        return [_transaction(document) for document in documents]

    @translate_errors
    async def unfinished(
        self, *, tenant_id: str | None = None, node_id: str | None = None
    ) -> list[TransactionRecord]:
        """Transactions recovery must pick up: not terminal, or terminal with their effects not yet written.

        Two queries rather than one `$or`: nx-27017 evaluates `$or` beside other fields unreliably.
        """
        base: Document = {} if tenant_id is None else scoped(tenant_id, node_id=node_id)
        open_ = {**base, "state": {"$in": UNFINISHED_STATES}}
        pending = {**base, "effects_done": False}
        found: dict[str, TransactionRecord] = {}
        for query in (open_, pending):
            cursor = self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(MAX_UNFINISHED)
            for document in await cursor.to_list():
                found[str(document["_id"])] = _transaction(document)
        return sorted(found.values(), key=lambda record: (record.created_at, record.id))

    @translate_errors
    async def list(
        self,
        tenant_id: str,
        node_id: str | None = None,
        *,
        state: TransactionState | None = None,
        kind: TransactionKind | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[TransactionRecord]:
        """The tenant's transactions (of one node when given), newest first."""
        query = scoped(tenant_id, node_id=node_id, state=state, kind=kind)
        return await fetch_page(self._collection, query, _transaction, limit=limit, cursor=cursor)
