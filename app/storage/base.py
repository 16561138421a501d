"""What every repository shares: its collection, and the tenant filter every query starts from.

Updates follow two rules that hold on MongoDB and on nx-27017 alike. A change involving a datetime
reads the record and writes it back with `replace_one` whose filter holds the expected state
(compare-and-set on one document): nx-27017 stores a datetime given to a top-level `$set` as a string.
A change that may hit a unique index uses `update_one`, not `find_one_and_update`: nx-27017 answers
the latter with None instead of a duplicate-key error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from app.errors import NotFoundError
from app.storage.documents import PAGE_KEY, Document, to_document
from app.storage.errors import DUPLICATE_KEY

ItemT = TypeVar("ItemT")


class CollectionName(StrEnum):
    """Names of the service's collections."""

    TENANTS = "tenants"
    API_KEYS = "api_keys"
    NODES = "nodes"
    CHANNEL_SNAPSHOTS = "channel_snapshots"
    CHANNEL_LISTS = "channel_lists"
    POLICIES = "policies"
    METRICS = "metrics"
    DECISIONS = "decisions"
    AUDIT_EVENTS = "audit_events"
    LEASES = "leases"
    SECRETS = "secrets"
    TRANSACTIONS = "transactions"
    JOURNAL = "journal_entries"
    BACKUPS = "backups"
    ROLLOUTS = "rollouts"
    BUDGETS = "budgets"
    POLICY_STATES = "policy_states"
    BALANCE_STATES = "balance_states"
    BALANCE_MOVES = "balance_moves"
    JOBS = "jobs"


class Repository:
    """Base of the repositories: one collection each."""

    collection_name: ClassVar[CollectionName]

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[self.collection_name.value]

    async def _get_or_raise(
        self, query: Document, parse: Callable[[Document], ItemT], missing: NotFoundError
    ) -> ItemT:
        """The one document matching `query`, parsed; raises `missing` when there is none."""
        document = await self._collection.find_one(query)
        if document is None:
            raise missing
        return parse(document)

    async def _latest(self, query: Document, parse: Callable[[Document], ItemT]) -> ItemT | None:
        """The newest document matching `query` (highest page key), parsed; None when there is none."""
        document = await self._collection.find_one(query, sort=[(PAGE_KEY, DESCENDING)])
        return None if document is None else parse(document)

    async def _aggregate(self, pipeline: list[Document]) -> list[Document]:
        """The documents an aggregation pipeline returns.

        Used where a read needs a few fields of many documents: nx-27017 runs `$match` (on equalities and
        ranges), `$project` and a `$group` on one field in SQL, while a `find` decodes every whole document
        (5-8x slower on 2,000 decisions). A `$match` with `$in` runs in Python there: keep those in a `find`.
        """
        return await (await self._collection.aggregate(pipeline)).to_list()

    async def _insert_many(self, records: Sequence[BaseModel], *, time_field: str) -> int:
        """Insert `records` in one round trip, paged by `time_field`; returns how many were stored."""
        if not records:
            return 0  # insert_many refuses an empty list
        result = await self._collection.insert_many([to_document(r, time_field=time_field) for r in records])
        return len(result.inserted_ids)

    async def _insert_new(self, records: Sequence[BaseModel], *, time_field: str) -> int:
        """Insert `records`, skipping any whose id is already stored (idempotent replays); returns how many were new."""
        if not records:
            return 0
        documents = [to_document(record, time_field=time_field) for record in records]
        try:
            result = await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            others = [
                item for item in error.details.get("writeErrors", []) if item.get("code") != DUPLICATE_KEY
            ]
            if others:
                raise
            return int(error.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def _replace_if(self, query: Document, record: BaseModel, *, time_field: str | None = None) -> bool:
        """Replace the one document matching `query` (its expected state) with `record`; False if none matched."""
        result = await self._collection.replace_one(query, to_document(record, time_field=time_field))
        return result.matched_count == 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(collection={self.collection_name.value!r})"


def scoped(tenant_id: str, **conditions: Any) -> Document:
    """A filter on one tenant's documents plus `conditions`; None values are left out (no filter)."""
    if not tenant_id:
        # An empty tenant id is a bug upstream; refusing it beats an unscoped-looking query.
        raise ValueError("tenant_id is required")
    query: Document = {"tenant_id": tenant_id}
    query.update({field: value for field, value in conditions.items() if value is not None})
    return query
