"""Tenants, API keys and nodes: create, read, update, delete, list, and unique constraints as ConflictError."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.access import ApiKeyRole
from app.errors import ConflictError, NotFoundError
from app.storage.api_keys import hash_api_key
from app.storage.database import Storage
from app.storage.records import NodeUpdate, TenantRecord
from tests.storage.builders import T0, node


async def test_tenant_crud_and_unique_name(storage: Storage):
    acme = await storage.tenants.add(TenantRecord(name="acme"))
    assert await storage.tenants.get(acme.id) == acme
    assert await storage.tenants.find_by_name("acme") == acme
    assert await storage.tenants.find_by_name("nobody") is None
    with pytest.raises(ConflictError) as caught:
        await storage.tenants.add(TenantRecord(name="acme"))
    assert "acme" not in caught.value.message  # values of unique keys are never echoed
    renamed = await storage.tenants.rename(acme.id, "acme-2")
    assert renamed.name == "acme-2" and renamed.created_at == acme.created_at
    beta = await storage.tenants.add(TenantRecord(name="beta"))
    with pytest.raises(ConflictError):
        await storage.tenants.rename(beta.id, "acme-2")
    with pytest.raises(NotFoundError):
        await storage.tenants.get("missing")
    with pytest.raises(NotFoundError):
        await storage.tenants.rename("missing", "x")
    page = await storage.tenants.list()
    assert {tenant.id for tenant in page.items} == {acme.id, beta.id}


async def test_api_key_is_stored_as_a_hash_and_found_by_it(storage: Storage):
    record, secret = await storage.api_keys.issue("t1", ApiKeyRole.OPERATOR, "ci", now=T0)
    assert len(secret) >= 43 and record.prefix == secret[:8]
    assert record.key_hash == hash_api_key(secret) and len(record.key_hash) == 64
    raw = await storage.database["api_keys"].find_one({"_id": record.id})
    assert raw is not None and secret not in str(raw)
    assert await storage.api_keys.find_active_by_hash(hash_api_key(secret)) == record
    assert await storage.api_keys.find_active_by_hash(hash_api_key(secret + "x")) is None
    assert await storage.api_keys.get("t1", record.id) == record


async def test_revoked_key_no_longer_authenticates_and_revocation_is_idempotent(storage: Storage):
    record, secret = await storage.api_keys.issue("t1", ApiKeyRole.VIEWER, "dashboard")
    revoked = await storage.api_keys.revoke("t1", record.id, now=T0)
    assert revoked.revoked_at == T0 and not revoked.active
    again = await storage.api_keys.revoke("t1", record.id, now=T0 + timedelta(days=1))
    assert again.revoked_at == T0
    assert await storage.api_keys.find_active_by_hash(hash_api_key(secret)) is None
    with pytest.raises(NotFoundError):
        await storage.api_keys.revoke("t1", "missing")
    listed = await storage.api_keys.list("t1")
    assert [key.id for key in listed.items] == [record.id]


async def test_node_crud(storage: Storage):
    alpha = await storage.nodes.add(node("t1", "alpha", tls_cert_pem="-----BEGIN CERTIFICATE-----\n"))
    assert await storage.nodes.get("t1", alpha.id) == alpha
    changed = await storage.nodes.update(
        "t1",
        alpha.id,
        NodeUpdate(url="https://10.0.0.2:8080", tls_cert_pem=None, settings={"mode": "canary"}),
    )
    assert changed.url == "https://10.0.0.2:8080" and changed.tls_cert_pem is None
    assert changed.settings == {"mode": "canary"} and changed.name == "alpha"
    assert await storage.nodes.update("t1", alpha.id, NodeUpdate()) == changed
    with pytest.raises(ValueError):
        NodeUpdate(name=None)
    beta = await storage.nodes.add(node("t1", "beta"))
    with pytest.raises(ConflictError):
        await storage.nodes.add(node("t1", "beta"))
    with pytest.raises(ConflictError):
        await storage.nodes.update("t1", beta.id, NodeUpdate(name="alpha"))
    await storage.nodes.add(node("t2", "beta"))  # names are unique per tenant only
    assert [item.id for item in (await storage.nodes.list("t1")).items] == [beta.id, alpha.id]
    assert await storage.nodes.delete("t1", alpha.id)
    assert not await storage.nodes.delete("t1", alpha.id)
    with pytest.raises(NotFoundError):
        await storage.nodes.get("t1", alpha.id)
    with pytest.raises(NotFoundError):
        await storage.nodes.update("t1", alpha.id, NodeUpdate(url="https://x"))
