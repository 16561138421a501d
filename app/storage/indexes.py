"""Indexes, created idempotently at every start: tenant id first in every compound index.

Paged and time-ranged queries sort and compare on `page_key` (`<epoch ms>|<id>`, see fields.page_key),
so the indexes end with it where the issue names a time field (nodes by created_at, policies by
applied_at, metrics by timestamp, decisions by created_at). No compound index contains `_id`:
nx-27017 then fails every insert ("JSON path error near '_id'"). Every key is ascending because
MongoDB walks an index both ways and nx-27017 ignores directions anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.storage.balances import BALANCE_MOVES_TTL
from app.storage.base import CollectionName
from app.storage.documents import PAGE_KEY, Document
from app.storage.errors import translate_errors
from app.storage.jobs import JOBS_TTL
from app.storage.leases import LEASE_GC_AFTER
from app.storage.metrics import METRICS_TTL


@dataclass(frozen=True)
class IndexSpec:
    """One index: its collection, fields in order, and options."""

    collection: CollectionName
    fields: tuple[str, ...]
    unique: bool = False
    ttl_s: int | None = None

    @property
    def name(self) -> str:
        """Stable name, so a second creation is a no-op rather than a conflict on MongoDB."""
        return "_".join(self.fields) + ("_unique" if self.unique else "") + ("_ttl" if self.ttl_s else "")

    def model(self) -> IndexModel:
        """The PyMongo index model."""
        options: dict[str, object] = {"name": self.name, "unique": self.unique}
        if self.ttl_s is not None:
            options["expireAfterSeconds"] = self.ttl_s
        return IndexModel([(field, ASCENDING) for field in self.fields], **options)


C = CollectionName
INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(C.TENANTS, ("name",), unique=True),
    IndexSpec(C.TENANTS, (PAGE_KEY,)),
    IndexSpec(C.API_KEYS, ("key_hash",), unique=True),
    IndexSpec(C.API_KEYS, ("tenant_id", PAGE_KEY)),
    IndexSpec(C.NODES, ("tenant_id", "name"), unique=True),
    IndexSpec(C.NODES, ("tenant_id", PAGE_KEY)),
    IndexSpec(C.CHANNEL_SNAPSHOTS, ("tenant_id", "node_id", "channel_id", PAGE_KEY)),
    IndexSpec(C.CHANNEL_SNAPSHOTS, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.CHANNEL_SNAPSHOTS, ("tenant_id", "node_id", "cycle_id")),
    IndexSpec(C.CHANNEL_LISTS, ("tenant_id", "node_id", "cycle_id", "part")),
    IndexSpec(C.POLICIES, ("tenant_id", "node_id", "channel_id", PAGE_KEY)),
    IndexSpec(C.POLICIES, ("tenant_id", "node_id", "source", PAGE_KEY)),
    IndexSpec(C.POLICIES, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.METRICS, ("tenant_id", "node_id", "name", PAGE_KEY)),
    IndexSpec(C.METRICS, ("timestamp",), ttl_s=int(METRICS_TTL.total_seconds())),
    IndexSpec(C.BALANCE_MOVES, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.BALANCE_MOVES, ("taken_at",), ttl_s=int(BALANCE_MOVES_TTL.total_seconds())),
    IndexSpec(C.JOBS, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.JOBS, ("created_at",), ttl_s=int(JOBS_TTL.total_seconds())),
    IndexSpec(C.DECISIONS, ("tenant_id", "node_id", "kind", PAGE_KEY)),
    IndexSpec(C.DECISIONS, ("tenant_id", "node_id", "status", PAGE_KEY)),
    IndexSpec(C.DECISIONS, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.DECISIONS, ("tenant_id", "node_id", "cycle_id")),
    IndexSpec(C.DECISIONS, ("tenant_id", "status", PAGE_KEY)),
    IndexSpec(C.DECISIONS, ("tenant_id", PAGE_KEY)),
    IndexSpec(C.AUDIT_EVENTS, ("tenant_id", PAGE_KEY)),
    IndexSpec(C.AUDIT_EVENTS, ("tenant_id", "node_id", PAGE_KEY)),
    # Garbage collection only: lease correctness never depends on the TTL monitor having run.
    IndexSpec(C.LEASES, ("expires_at",), ttl_s=int(LEASE_GC_AFTER.total_seconds())),
    IndexSpec(C.SECRETS, ("tenant_id", "node_id")),
    IndexSpec(C.TRANSACTIONS, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.TRANSACTIONS, ("tenant_id", PAGE_KEY)),
    # Platform jobs read across tenants (recovery, backup export): single-field indexes.
    IndexSpec(C.TRANSACTIONS, ("state",)),
    IndexSpec(C.TRANSACTIONS, ("effects_done",)),
    IndexSpec(C.JOURNAL, ("tenant_id", "transaction_id", "chan_id")),
    IndexSpec(C.JOURNAL, ("tenant_id", "node_id", "outcome")),
    IndexSpec(C.BACKUPS, ("tenant_id", "node_id", PAGE_KEY)),
    IndexSpec(C.BACKUPS, ("tenant_id", "node_id", "kind", PAGE_KEY)),
    IndexSpec(C.BACKUPS, ("exported_at",)),
    IndexSpec(C.BACKUPS, (PAGE_KEY,)),
)


@translate_errors
async def ensure_indexes(database: AsyncDatabase[Document]) -> list[str]:
    """Create every index that is missing; safe to run on every start and concurrently from replicas."""
    created: list[str] = []
    for collection in CollectionName:
        models = [spec.model() for spec in INDEXES if spec.collection is collection]
        if models:
            created += await database[collection.value].create_indexes(models)
    return created
