"""What every repository shares: its collection, and the tenant filter every query starts from.

Updates follow two rules that hold on MongoDB and on nx-27017 alike. A change involving a datetime
reads the record and writes it back with `replace_one` whose filter holds the expected state
(compare-and-set on one document): nx-27017 stores a datetime given to a top-level `$set` as a string.
A change that may hit a unique index uses `update_one`, not `find_one_and_update`: nx-27017 answers
the latter with None instead of a duplicate-key error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from app.storage.documents import Document


class CollectionName(StrEnum):
    """Names of the service's collections."""

    TENANTS = "tenants"
    API_KEYS = "api_keys"
    NODES = "nodes"
    CHANNEL_SNAPSHOTS = "channel_snapshots"
    POLICIES = "policies"
    METRICS = "metrics"
    DECISIONS = "decisions"
    AUDIT_EVENTS = "audit_events"
    LEASES = "leases"
    SECRETS = "secrets"


class Repository:
    """Base of the repositories: one collection each."""

    collection_name: ClassVar[CollectionName]

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[self.collection_name.value]

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
