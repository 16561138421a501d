"""Named leases with expiry, so one replica at a time runs a node's cycle or a scheduler job.

Leases are infrastructure, not tenant data: their name carries the scope (e.g. `cycle/<tenant>/<node>`).
Each step is one atomic single-document operation; nothing relies on transactions or on the TTL index
(which only removes leases abandoned for a day). Expiry is compared on integer epoch milliseconds,
because nx-27017 compares dates in queries only to the second.

`acquire` tries, in order: extend the lease if we already hold it; take it over if it has expired
(the expiry is in the filter, so of several racing takers exactly one matches); create it (the unique
`_id` lets exactly one racing insert through). Leases are written whole with `replace_one`. This
avoids the usual single upsert with `$or` on purpose: nx-27017 evaluates `$or` next to other fields
unreliably (it ignored a sibling tenant filter in our checks).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from app.storage.base import CollectionName, Repository
from app.storage.documents import Document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, epoch_ms, utc_now
from app.storage.records import LeaseRecord

LEASE_GC_AFTER = timedelta(days=1)


def _lease_document(name: str, holder: str, now: datetime, ttl_s: float) -> Document:
    """The whole lease document; written with replace_one (nx-27017 would turn a `$set` date into text)."""
    if ttl_s <= 0:
        raise ValueError("a lease needs a positive ttl")
    expires_at = bson_utc(now + timedelta(seconds=ttl_s))
    return {"_id": name, "holder": holder, "expires_at": expires_at, "expires_ms": epoch_ms(expires_at)}


class LeaseRepository(Repository):
    """Acquire, renew and release named leases."""

    collection_name = CollectionName.LEASES

    @translate_errors
    async def acquire(self, name: str, holder: str, ttl_s: float, now: datetime | None = None) -> bool:
        """Hold `name` for `ttl_s` seconds from `now`; True when we hold it (newly or again)."""
        now = bson_utc(now or utc_now())
        lease = _lease_document(name, holder, now, ttl_s)
        extended = await self._collection.replace_one({"_id": name, "holder": holder}, lease)
        if extended.matched_count:
            return True
        taken_over = await self._collection.replace_one(
            {"_id": name, "expires_ms": {"$lte": epoch_ms(now)}}, lease
        )
        if taken_over.matched_count:
            return True
        try:
            await self._collection.insert_one(lease)
        except DuplicateKeyError:
            return False  # someone holds it, or won the race to create it
        return True

    @translate_errors
    async def renew(self, name: str, holder: str, ttl_s: float, now: datetime | None = None) -> bool:
        """Extend a lease we hold and that has not expired; False means it was lost (stop the work)."""
        now = bson_utc(now or utc_now())
        query = {"_id": name, "holder": holder, "expires_ms": {"$gt": epoch_ms(now)}}
        result = await self._collection.replace_one(query, _lease_document(name, holder, now, ttl_s))
        return result.matched_count == 1

    @translate_errors
    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up if we hold it; False when someone else does (or nobody)."""
        result = await self._collection.delete_one({"_id": name, "holder": holder})
        return result.deleted_count == 1

    @translate_errors
    async def get(self, name: str) -> LeaseRecord | None:
        """The lease as stored, expired or not."""
        document = await self._collection.find_one({"_id": name})
        if document is None:
            return None
        return LeaseRecord(name=document["_id"], holder=document["holder"], expires_at=document["expires_at"])
