"""Indexes exist after open_storage, match the declared list, and creating them again changes nothing."""

from __future__ import annotations

from typing import Any

from app.storage.base import CollectionName
from app.storage.database import Storage
from app.storage.indexes import INDEXES, ensure_indexes
from app.storage.leases import LEASE_GC_AFTER
from app.storage.metrics import METRICS_TTL


async def index_keys(storage: Storage, collection: CollectionName) -> dict[tuple[str, ...], dict[str, Any]]:
    """Field tuples of a collection's indexes (names and directions differ between servers)."""
    found = {}
    async for index in await storage.database[collection.value].list_indexes():
        found[tuple(index["key"].keys())] = dict(index)
    return found


async def all_indexes(storage: Storage) -> dict[CollectionName, dict[tuple[str, ...], dict[str, Any]]]:
    """Index field tuples of every collection."""
    return {collection: await index_keys(storage, collection) for collection in CollectionName}


async def test_every_declared_index_exists_with_its_options(storage: Storage):
    indexes = await all_indexes(storage)
    for spec in INDEXES:
        index = indexes[spec.collection].get(spec.fields)
        assert index is not None, f"{spec.collection}: {spec.fields} missing"
        assert bool(index.get("unique")) is spec.unique, spec
        assert index.get("expireAfterSeconds") == spec.ttl_s, spec


async def test_the_issue_s_required_indexes_are_there(storage: Storage):
    indexes = await all_indexes(storage)
    required = {
        CollectionName.NODES: ("tenant_id", "page_key"),  # page_key = created_at + id
        CollectionName.CHANNEL_SNAPSHOTS: ("tenant_id", "node_id", "channel_id", "page_key"),
        CollectionName.POLICIES: ("tenant_id", "node_id", "channel_id", "page_key"),  # applied_at
        CollectionName.METRICS: ("tenant_id", "node_id", "name", "page_key"),  # timestamp
        CollectionName.DECISIONS: ("tenant_id", "node_id", "kind", "page_key"),  # created_at
    }
    for collection, fields in required.items():
        assert fields in indexes[collection], collection
    assert (
        indexes[CollectionName.METRICS][("timestamp",)]["expireAfterSeconds"] == METRICS_TTL.total_seconds()
    )
    assert (
        indexes[CollectionName.LEASES][("expires_at",)]["expireAfterSeconds"]
        == LEASE_GC_AFTER.total_seconds()
    )
    assert indexes[CollectionName.API_KEYS][("key_hash",)]["unique"]


async def test_every_compound_index_starts_with_the_tenant():
    for spec in INDEXES:
        if len(spec.fields) > 1:
            assert spec.fields[0] == "tenant_id", spec
        assert "_id" not in spec.fields


async def test_ensure_indexes_is_idempotent(storage: Storage):
    before = await all_indexes(storage)
    await ensure_indexes(storage.database)
    await storage.ensure_indexes()
    assert await all_indexes(storage) == before
