"""Audit records, the vault's AuditSink on storage, and key rotation over the MongoDB SecretStore."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from app.errors import ConflictError, NotFoundError
from app.security.keys import MasterKey
from app.security.rotation import SecretStore, rotate
from app.security.vault import CredentialContext, CredentialKind, Keyring, Vault, VaultError
from app.storage.audit import VAULT_DECRYPT
from app.storage.database import Storage
from app.storage.fields import bson_utc
from tests.storage import builders
from tests.storage.builders import T0

OLD_KEY = MasterKey(bytes(range(32)))
NEW_KEY = MasterKey(bytes(range(64, 96)))
MACAROON = b"0201036c6e6402f801030a10-super-secret-macaroon"


def context(tenant: str, node: str) -> CredentialContext:
    """The macaroon context of a tenant's node."""
    return CredentialContext(tenant_id=tenant, node_id=node, kind=CredentialKind.LND_MACAROON)


async def test_audit_records_list_newest_first_with_filters(storage: Storage):
    records = [builders.audit("t1", T0 + timedelta(seconds=n), node_id=f"n{n % 2}") for n in range(6)]
    records.append(builders.audit("t1", T0, action="api_key.revoke"))
    for record in records:
        await storage.audit.add(record)
    page = await storage.audit.list("t1", limit=10)
    assert page.items == sorted(records, key=lambda r: (r.at, r.id), reverse=True)
    assert {r.id for r in (await storage.audit.list("t1", node_id="n1")).items} == {
        r.id for r in records[1:6:2]
    }
    assert [r.action for r in (await storage.audit.list("t1", action="api_key.revoke")).items] == [
        "api_key.revoke"
    ]


async def test_vault_audits_to_storage_and_never_stores_the_secret(storage: Storage):
    vault = Vault(Keyring(OLD_KEY), storage.audit_sink)
    sealed = vault.encrypt(context("t1", "n1"), MACAROON)
    await storage.secrets.add(sealed)
    loaded = await storage.secrets.get_for(context("t1", "n1"))
    assert await vault.decrypt(loaded, loaded.context, actor="scheduler", purpose="cycle") == MACAROON
    with pytest.raises(VaultError):
        await vault.decrypt(loaded, context("t1", "other"), actor="api", purpose="test")
    page = await storage.audit.list("t1", action=VAULT_DECRYPT)
    assert [record.outcome for record in page.items] == ["context_mismatch", "decrypted"]
    assert page.items[1].details == {"purpose": "cycle", "kind": "lnd_macaroon", "key_id": OLD_KEY.key_id}
    everything = str([document async for document in storage.database["audit_events"].find({})])
    for leak in (MACAROON.decode(), MACAROON.hex(), sealed.ciphertext, base64.b64encode(MACAROON).decode()):
        assert leak not in everything


async def test_secret_store_crud_and_compare_and_swap(storage: Storage):
    vault = Vault(Keyring(OLD_KEY), storage.audit_sink)
    first = vault.encrypt(context("t1", "n1"), MACAROON)
    assert await storage.secrets.add(first) == "t1/n1/lnd_macaroon"
    with pytest.raises(ConflictError):
        await storage.secrets.add(first)
    stored = await storage.secrets.get(first.record_id)
    assert stored == first.model_copy(update={"created_at": bson_utc(first.created_at)})
    second = vault.encrypt(context("t1", "n1"), b"new", version=2)
    assert not await storage.secrets.compare_and_swap(first.record_id, 2, second)
    assert await storage.secrets.compare_and_swap(first.record_id, 1, second)
    assert (await storage.secrets.get_for(context("t1", "n1"))).version == 2
    with pytest.raises(VaultError):
        await storage.secrets.compare_and_swap("t1/n2/lnd_macaroon", 2, second)
    await storage.secrets.add(vault.encrypt(context("t2", "n1"), MACAROON))
    assert await storage.secrets.list_for_tenant("t1") == ["t1/n1/lnd_macaroon"]
    assert await storage.secrets.list_ids() == ["t1/n1/lnd_macaroon", "t2/n1/lnd_macaroon"]
    assert await storage.secrets.delete(context("t1", "n1"))
    assert not await storage.secrets.delete(context("t1", "n1"))
    assert await storage.secrets.get("t1/n1/lnd_macaroon") is None
    with pytest.raises(NotFoundError):
        await storage.secrets.get_for(context("t1", "n1"))


async def test_key_rotation_runs_against_storage(storage: Storage):
    vault = Vault(Keyring(OLD_KEY), storage.audit_sink)
    plaintexts = {}
    for n in range(12):
        secret = vault.encrypt(context(f"t{n % 3}", f"n{n}"), f"macaroon-{n}".encode())
        await storage.secrets.add(secret)
        plaintexts[secret.record_id] = f"macaroon-{n}".encode()
    store: SecretStore = storage.secrets
    report = await rotate(store, vault, NEW_KEY)
    assert report.complete and report.rotated == 12 and report.total == 12
    vault.keyring.retire(OLD_KEY.key_id)
    for record_id, plaintext in plaintexts.items():
        resealed = await storage.secrets.get(record_id)
        assert resealed is not None and resealed.key_id == NEW_KEY.key_id and resealed.version == 2
        assert await vault.decrypt(resealed, resealed.context, actor="test", purpose="verify") == plaintext
