"""Policy history per channel: observed, shadow, applied and manual policies, for cooldowns and rollback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING

from app.domain.policy import PolicySource
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, time_prefix
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, check_limit, fetch_page
from app.storage.records import PolicyRecord

MAX_NODE_HISTORY = 100_000


def _policy(document: Document) -> PolicyRecord:
    return from_document(PolicyRecord, document)


class PolicyRepository(Repository):
    """Append and read a channel's policy history."""

    collection_name = CollectionName.POLICIES

    @translate_errors
    async def add(self, record: PolicyRecord) -> PolicyRecord:
        """Append one history entry."""
        await self._collection.insert_one(to_document(record, time_field="applied_at"))
        return record

    @translate_errors
    async def add_many(self, records: Sequence[PolicyRecord]) -> int:
        """Append entries, skipping ids already stored (a replayed transaction writes its history once)."""
        return await self._insert_new(records, time_field="applied_at")

    @translate_errors
    async def latest(
        self, tenant_id: str, node_id: str, channel_id: str, *, source: PolicySource | None = None
    ) -> PolicyRecord | None:
        """The newest entry of the channel (of one source when given), e.g. the last applied policy."""
        query = scoped(tenant_id, node_id=node_id, channel_id=channel_id, source=source)
        return await self._latest(query, _policy)

    @translate_errors
    async def count_since(
        self, tenant_id: str, node_id: str, since: datetime, *, source: PolicySource = PolicySource.APPLIED
    ) -> int:
        """How many entries of `source` the node got at or after `since` (the daily cap's count)."""
        query = scoped(tenant_id, node_id=node_id, source=source.value)
        # Compared on the page key: exact to the millisecond on every server (see fields.page_key).
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since))}
        return await self._collection.count_documents(query)

    @translate_errors
    async def node_history(
        self, tenant_id: str, node_id: str, *, since: datetime, limit: int = 10_000
    ) -> list[PolicyRecord]:
        """Every entry of the node's channels at or after `since`, oldest first (cooldowns, journals)."""
        check_limit(limit, maximum=MAX_NODE_HISTORY)
        query = scoped(tenant_id, node_id=node_id)
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since))}
        documents = await self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(limit).to_list()
        return [_policy(document) for document in documents]

    @translate_errors
    async def history(
        self,
        tenant_id: str,
        node_id: str,
        channel_id: str,
        *,
        source: PolicySource | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[PolicyRecord]:
        """The channel's entries, newest first, optionally of one source."""
        query = scoped(tenant_id, node_id=node_id, channel_id=channel_id, source=source)
        return await fetch_page(self._collection, query, _policy, limit=limit, cursor=cursor)
