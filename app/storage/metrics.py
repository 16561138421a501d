"""Per-node time series (balances, fees earned, forwards per cycle), expired after METRICS_TTL by MongoDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING

from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, time_prefix, utc_now
from app.storage.paging import check_limit
from app.storage.records import MetricPoint

METRICS_TTL = timedelta(days=30)
MAX_SERIES_POINTS = 10_000


def _point(document: Document) -> MetricPoint:
    return from_document(MetricPoint, document)


class MetricRepository(Repository):
    """Record samples and read one series of a node."""

    collection_name = CollectionName.METRICS

    @translate_errors
    async def record(self, points: Sequence[MetricPoint]) -> int:
        """Insert samples in one round trip; returns how many were stored."""
        return await self._insert_many(points, time_field="timestamp")

    @translate_errors
    async def series(
        self,
        tenant_id: str,
        node_id: str,
        name: str,
        *,
        since: datetime,
        until: datetime | None = None,
        limit: int = 1_000,
    ) -> list[MetricPoint]:
        """Samples of one series with since <= timestamp < until, oldest first, at most `limit`."""
        check_limit(limit, maximum=MAX_SERIES_POINTS)
        end = bson_utc(until) if until is not None else utc_now() + timedelta(milliseconds=1)
        query = scoped(tenant_id, node_id=node_id, name=name)
        # Page-key bounds are exact to the millisecond; nx-27017 compares dates only to the second.
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since)), "$lt": time_prefix(end)}
        documents = await self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(limit).to_list()
        return [_point(document) for document in documents]

    @translate_errors
    async def recent(self, tenant_id: str, node_id: str, name: str, limit: int) -> list[MetricPoint]:
        """The newest `limit` samples of one series, oldest first (a node syncing often has thousands)."""
        check_limit(limit, maximum=MAX_SERIES_POINTS)
        query = scoped(tenant_id, node_id=node_id, name=name)
        documents = await self._collection.find(query).sort(PAGE_KEY, DESCENDING).limit(limit).to_list()
        return [_point(document) for document in reversed(documents)]

    @translate_errors
    async def count(
        self, tenant_id: str, node_id: str, name: str, *, since: datetime, until: datetime
    ) -> int:
        """How many samples of one series have since <= timestamp < until (counted on the server)."""
        query = scoped(tenant_id, node_id=node_id, name=name)
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since)), "$lt": time_prefix(bson_utc(until))}
        counted = await self._aggregate([{"$match": query}, {"$count": "n"}])
        return int(counted[0]["n"]) if counted else 0

    @translate_errors
    async def latest(self, tenant_id: str, node_id: str, name: str) -> MetricPoint | None:
        """The newest sample of one series, if any."""
        return await self._latest(scoped(tenant_id, node_id=node_id, name=name), _point)
