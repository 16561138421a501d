"""The alert outbox in MongoDB: an alert is stored before anyone tries to send it, so none is lost.

Entries change by compare-and-set on their `version` with `replace_one` (nx-27017 would store a date
given to `$set` as text); times compared in queries are epoch milliseconds. One dispatcher at a time
works a tenant's entries, under the lease `alerts/<tenant>` (app/alerts/dispatcher.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from app.alerts.model import Alert, OutboxEntry, OutboxState, severity_of
from app.storage.base import scoped
from app.storage.documents import Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, epoch_ms, new_id

COLLECTION = "alert_outbox"
# Entries, delivered or not, are forgotten after this; delivery gives up long before (settings).
OUTBOX_TTL = timedelta(days=30)
MAX_MESSAGE = 3_500  # leaves room for the heading in one Telegram message (4,096 characters)


def _entry(document: Document) -> OutboxEntry:
    return from_document(OutboxEntry, document)


class OutboxRepository:
    """Add, read and settle outbox entries; every query is scoped to a tenant except the dispatcher's scan."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    @translate_errors
    async def ensure_indexes(self) -> None:
        """Create the outbox's indexes (idempotent); no compound index holds `_id` (nx-27017)."""
        await self._collection.create_indexes(
            [
                IndexModel([("state", ASCENDING), ("next_attempt_ms", ASCENDING)], name="due"),
                IndexModel([("tenant_id", ASCENDING), ("dedup_key", ASCENDING)], name="dedup"),
                IndexModel([("tenant_id", ASCENDING), ("created_ms", ASCENDING)], name="recent"),
                IndexModel(
                    [("tenant_id", ASCENDING), ("chat_hash", ASCENDING), ("sent_ms", ASCENDING)],
                    name="chat_sent",
                ),
                IndexModel(
                    [("created_at", ASCENDING)],
                    name="created_at_ttl",
                    expireAfterSeconds=int(OUTBOX_TTL.total_seconds()),
                ),
            ]
        )

    @translate_errors
    async def enqueue(
        self, alert: Alert, now: datetime, dedup_window: timedelta, group_wait: timedelta = timedelta(0)
    ) -> OutboxEntry | None:
        """Store the alert, due after `group_wait`; None when the same event is already stored within the window."""
        now = bson_utc(now)
        now_ms = epoch_ms(now)
        since_ms = now_ms - int(dedup_window.total_seconds() * 1_000)
        query = scoped(alert.tenant_id, dedup_key=alert.key, created_ms={"$gte": since_ms})
        for _ in range(5):  # a racing fold bumps the version: read again
            existing = await self._collection.find_one(query, sort=[("created_ms", ASCENDING)])
            if existing is None:
                break
            entry = _entry(existing)
            if await self._swap(entry, repeats=entry.repeats + 1):
                return None
        else:
            return None
        message = (
            alert.message if len(alert.message) <= MAX_MESSAGE else alert.message[: MAX_MESSAGE - 1] + "…"
        )
        entry = OutboxEntry(
            id=new_id(),
            tenant_id=alert.tenant_id,
            node_id=alert.node_id,
            kind=alert.kind,
            severity=severity_of(alert.kind),
            message=message,
            dedup_key=alert.key,
            created_ms=now_ms,
            next_attempt_ms=now_ms + int(group_wait.total_seconds() * 1_000),
            created_at=now,
        )
        await self._collection.insert_one(to_document(entry))
        return entry

    @translate_errors
    async def due_tenants(self, now: datetime) -> list[str]:
        """Tenants with a pending entry whose next attempt is due, sorted."""
        query = {"state": OutboxState.PENDING.value, "next_attempt_ms": {"$lte": epoch_ms(now)}}
        documents = await self._collection.find(query, {"tenant_id": 1}).to_list()
        return sorted({str(document["tenant_id"]) for document in documents})

    @translate_errors
    async def pending(self, tenant_id: str) -> list[OutboxEntry]:
        """The tenant's pending entries, oldest first (due or not)."""
        query = scoped(tenant_id, state=OutboxState.PENDING.value)
        documents = await self._collection.find(query).sort("created_ms", ASCENDING).to_list()
        return [_entry(document) for document in documents]

    @translate_errors
    async def recent(self, tenant_id: str, limit: int) -> list[OutboxEntry]:
        """The tenant's latest entries, newest first."""
        query = scoped(tenant_id)
        cursor = self._collection.find(query).sort("created_ms", -1).limit(limit)
        return [_entry(document) for document in await cursor.to_list()]

    @translate_errors
    async def depth(self) -> int:
        """Pending entries of every tenant (the outbox depth gauge)."""
        return await self._collection.count_documents({"state": OutboxState.PENDING.value})

    @translate_errors
    async def deliveries_since(self, tenant_id: str, chat_hash: str, since_ms: int) -> list[int]:
        """Send times of the tenant's messages to one chat since `since_ms` (entries sent together count once)."""
        query = scoped(
            tenant_id, chat_hash=chat_hash, sent_ms={"$gte": since_ms}, state=OutboxState.SENT.value
        )
        documents = await self._collection.find(query, {"delivery_id": 1, "sent_ms": 1}).to_list()
        return sorted({str(d.get("delivery_id")): int(d["sent_ms"]) for d in documents}.values())

    async def settle(self, entries: Sequence[OutboxEntry], **changes: object) -> int:
        """Apply `changes` to each entry by compare-and-set; returns how many were still as read."""
        changed = 0
        for entry in entries:
            changed += await self._swap(entry, **changes)
        return changed

    @translate_errors
    async def _swap(self, entry: OutboxEntry, **changes: object) -> bool:
        updated = entry.model_copy(update={**changes, "version": entry.version + 1})
        result = await self._collection.replace_one(
            {"_id": entry.id, "tenant_id": entry.tenant_id, "version": entry.version}, to_document(updated)
        )
        return result.matched_count == 1

    @translate_errors
    async def has_key(self, tenant_id: str, dedup_key: str) -> bool:
        """Whether the tenant's outbox holds an entry with this key (any age within the TTL)."""
        return await self._collection.find_one(scoped(tenant_id, dedup_key=dedup_key), {"_id": 1}) is not None

    @translate_errors
    async def oldest_pending_ms(self) -> int | None:
        """Creation time of the oldest pending entry of any tenant (the backlog age gauge), if any."""
        document = await self._collection.find_one(
            {"state": OutboxState.PENDING.value}, {"created_ms": 1}, sort=[("created_ms", ASCENDING)]
        )
        return None if document is None else int(document["created_ms"])
