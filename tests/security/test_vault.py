"""The vault: AES-256-GCM round trip, fresh nonces, tamper and swap detection, audit trail, JSON store, no leaks."""

from __future__ import annotations

import base64
import json
import logging
import stat

import pytest
from pydantic import ValidationError

from app.security.audit import (
    AUDIT_LOGGER,
    AuditOutcome,
    JsonLinesAuditSink,
    LoggingAuditSink,
    MemoryAuditSink,
)
from app.security.keys import MasterKey, generate_key_file
from app.security.macaroons import mint_macaroon
from app.security.secret_store import JsonFileSecretStore
from app.security.vault import (
    CredentialContext,
    CredentialKind,
    EncryptedSecret,
    Keyring,
    Vault,
    VaultError,
    load_keyring,
)
from tests.security import leaked, log_text, vault_settings

KEY = MasterKey(bytes(range(32)))
OTHER_KEY = MasterKey(bytes(range(100, 132)))
MACAROON = mint_macaroon(b"root-key" * 4, {"offchain": ["read", "write"], "info": ["read"]}, b"n" * 24)
ALICE = CredentialContext(tenant_id="alice", node_id="node-1", kind=CredentialKind.LND_MACAROON)
BOB = CredentialContext(tenant_id="bob", node_id="node-1", kind=CredentialKind.LND_MACAROON)
ALICE_NODE_2 = CredentialContext(tenant_id="alice", node_id="node-2", kind=CredentialKind.LND_MACAROON)
ALICE_LNBITS = CredentialContext(tenant_id="alice", node_id="node-1", kind=CredentialKind.LNBITS_ADMIN_KEY)
PLAINTEXTS = (MACAROON, b"lnbits-admin-key-5f0e2c9b7d41a3e8", bytes(range(200, 248)))
KEY_MATERIAL = (bytes(range(32)), bytes(range(100, 132)))


def make_vault(*keys: MasterKey) -> tuple[Vault, MemoryAuditSink]:
    audit = MemoryAuditSink()
    return Vault(Keyring(*(keys or (KEY,))), audit), audit


async def open_as(vault: Vault, secret: EncryptedSecret, context: CredentialContext) -> bytes:
    return await vault.decrypt(secret, context, actor="test", purpose="unit test")


def flip_first_byte(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def truncate_tag(text: str) -> str:
    return base64.b64encode(base64.b64decode(text)[:-1]).decode()


@pytest.mark.parametrize("context", [ALICE, ALICE_LNBITS])
async def test_round_trip(context):
    vault, audit = make_vault()
    secret = vault.encrypt(context, MACAROON)
    assert (secret.tenant_id, secret.node_id, secret.kind) == (
        context.tenant_id,
        context.node_id,
        context.kind,
    )
    assert secret.key_id == KEY.key_id and secret.version == 1
    assert len(base64.b64decode(secret.nonce)) == 12
    assert await vault.decrypt(secret, context, actor="lnd-client", purpose="connect to node") == MACAROON
    [event] = audit.events
    assert (event.actor, event.purpose, event.outcome) == (
        "lnd-client",
        "connect to node",
        AuditOutcome.DECRYPTED,
    )
    assert (event.tenant_id, event.node_id, event.kind, event.key_id) == (
        context.tenant_id, context.node_id, context.kind.value, KEY.key_id,
    )  # fmt: skip


def test_every_encryption_uses_a_fresh_nonce():
    vault, _ = make_vault()
    secrets = [vault.encrypt(ALICE, MACAROON) for _ in range(1_000)]
    assert len({secret.nonce for secret in secrets}) == 1_000
    assert len({secret.ciphertext for secret in secrets}) == 1_000


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: {"ciphertext": flip_first_byte(s.ciphertext)}, id="ciphertext"),
        pytest.param(lambda s: {"ciphertext": truncate_tag(s.ciphertext)}, id="tag"),
        pytest.param(lambda s: {"nonce": flip_first_byte(s.nonce)}, id="nonce"),
        pytest.param(lambda s: {"version": s.version + 1}, id="version"),
        pytest.param(lambda s: {"key_id": OTHER_KEY.key_id}, id="key-id-of-another-loaded-key"),
    ],
)
async def test_tampering_fails_authentication(change):
    vault, audit = make_vault(KEY, OTHER_KEY)
    secret = vault.encrypt(ALICE, MACAROON)
    tampered = secret.model_copy(update=change(secret))
    with pytest.raises(VaultError, match="failed authentication") as caught:
        await open_as(vault, tampered, ALICE)
    assert caught.value.code == "vault_error"
    assert caught.value.details["outcome"] == "authentication_failed"
    assert audit.outcomes() == [AuditOutcome.AUTHENTICATION_FAILED]


async def test_malformed_nonce_or_ciphertext_is_reported_as_such():
    vault, audit = make_vault()
    secret = vault.encrypt(ALICE, MACAROON)
    for change in ({"nonce": "%%%"}, {"nonce": base64.b64encode(b"short").decode()}, {"ciphertext": "!!"}):
        with pytest.raises(VaultError, match="malformed"):
            await open_as(vault, secret.model_copy(update=change), ALICE)
    assert audit.outcomes() == [AuditOutcome.MALFORMED] * 3


@pytest.mark.parametrize("target", [BOB, ALICE_NODE_2, ALICE_LNBITS], ids=["tenant", "node", "kind"])
async def test_record_copied_to_another_context_fails(target):
    vault, audit = make_vault()
    secret = vault.encrypt(ALICE, MACAROON)
    # The copy keeps its original labels: the requested context does not match.
    with pytest.raises(VaultError, match="refusing to open") as mismatch:
        await open_as(vault, secret, target)
    assert "tenant=alice" in mismatch.value.message
    # The copy is relabelled to look like it belongs there: the associated data no longer matches.
    relabelled = secret.model_copy(update=target.model_dump())
    with pytest.raises(VaultError, match="failed authentication"):
        await open_as(vault, relabelled, target)
    # Sealed bytes moved into another genuine record: same failure.
    genuine = vault.encrypt(target, b"the other secret")
    swapped = genuine.model_copy(update={"nonce": secret.nonce, "ciphertext": secret.ciphertext})
    with pytest.raises(VaultError, match="failed authentication"):
        await open_as(vault, swapped, target)
    assert audit.outcomes() == [
        AuditOutcome.CONTEXT_MISMATCH,
        AuditOutcome.AUTHENTICATION_FAILED,
        AuditOutcome.AUTHENTICATION_FAILED,
    ]


async def test_wrong_master_key_gives_a_clear_error():
    sealed = make_vault(KEY)[0].encrypt(ALICE, MACAROON)
    vault, audit = make_vault(OTHER_KEY)
    with pytest.raises(VaultError) as caught:
        await open_as(vault, sealed, ALICE)
    message = caught.value.message
    assert f"sealed under key {KEY.key_id}, which is not loaded" in message
    assert OTHER_KEY.key_id in message and "tenant=alice node=node-1 kind=lnd_macaroon" in message
    assert caught.value.details["loaded_key_ids"] == [OTHER_KEY.key_id]
    assert audit.outcomes() == [AuditOutcome.KEY_NOT_LOADED]


async def test_decrypt_needs_an_actor_and_a_purpose():
    vault, audit = make_vault()
    secret = vault.encrypt(ALICE, MACAROON)
    with pytest.raises(VaultError, match="actor and a purpose"):
        await vault.decrypt(secret, ALICE, actor=" ", purpose="x")
    assert audit.events == []


async def test_audit_failure_keeps_the_plaintext_back(tmp_path):
    # The audit file's directory does not exist: recording fails, so the decryption must fail closed.
    vault = Vault(Keyring(KEY), JsonLinesAuditSink(tmp_path / "missing" / "audit.jsonl"))
    with pytest.raises(FileNotFoundError):
        await open_as(vault, vault.encrypt(ALICE, MACAROON), ALICE)


async def test_json_lines_audit_sink_appends_0600(tmp_path):
    path = tmp_path / "audit.jsonl"
    vault = Vault(Keyring(KEY), JsonLinesAuditSink(path))
    secret = vault.encrypt(ALICE, MACAROON)
    await open_as(vault, secret, ALICE)
    with pytest.raises(VaultError):
        await open_as(vault, secret, BOB)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["decrypted", "context_mismatch"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not leaked(path.read_text(), MACAROON, *KEY_MATERIAL)


async def test_logging_audit_sink_writes_structured_lines(caplog):
    caplog.set_level(logging.DEBUG, logger=AUDIT_LOGGER)
    vault = Vault(Keyring(KEY), LoggingAuditSink())
    secret = vault.encrypt(ALICE, MACAROON)
    await vault.decrypt(secret, ALICE, actor="scheduler", purpose="fee cycle")
    with pytest.raises(VaultError):
        await vault.decrypt(secret, BOB, actor="scheduler", purpose="fee cycle")
    ok, denied = (record for record in caplog.records if record.name == AUDIT_LOGGER)
    assert ok.levelno == logging.INFO and denied.levelno == logging.WARNING
    assert "outcome=decrypted actor=scheduler" in ok.getMessage()
    assert ok.__dict__["audit"]["tenant_id"] == "alice" and ok.__dict__["audit"]["key_id"] == KEY.key_id


async def test_no_secret_in_logs_reprs_or_errors(caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    vault = Vault(Keyring(KEY, OTHER_KEY), LoggingAuditSink())
    errors: list[Exception] = []
    shown: list[object] = [KEY, OTHER_KEY, vault.keyring, vault, vault.audit]
    for context, plaintext in zip((ALICE, BOB, ALICE_LNBITS), PLAINTEXTS, strict=True):
        secret = vault.encrypt(context, plaintext)
        shown.append(secret)
        assert await open_as(vault, secret, context) == plaintext
        for bad, target in ((secret, ALICE_NODE_2), (secret.model_copy(update={"version": 7}), context)):
            try:
                await open_as(vault, bad, target)
            except VaultError as exc:
                errors.append(exc)
    try:
        await open_as(Vault(Keyring(MasterKey.generate()), MemoryAuditSink()), secret, ALICE_LNBITS)
    except VaultError as exc:
        errors.append(exc)
    assert len(errors) == 7
    texts = [log_text(caplog.records)]
    texts += [f"{item!r} {item!s}" for item in shown]
    texts += [f"{exc!r} {exc!s} {exc.details!r}" for exc in errors if isinstance(exc, VaultError)]
    assert leaked(f"oops {MACAROON.hex()}", *PLAINTEXTS)  # the scanner itself finds a leak
    for text in texts:
        assert not leaked(text, *PLAINTEXTS, *KEY_MATERIAL), text


def test_keyring_add_activate_and_retire():
    keyring = Keyring(KEY)
    keyring.add(OTHER_KEY)
    assert keyring.active == KEY and keyring.key_ids == (KEY.key_id, OTHER_KEY.key_id)
    keyring.add(OTHER_KEY, activate=True)
    assert keyring.active == OTHER_KEY and KEY.key_id in keyring
    with pytest.raises(VaultError, match="active key and cannot be retired"):
        keyring.retire(OTHER_KEY.key_id)
    keyring.retire(KEY.key_id)
    assert list(keyring.key_ids) == [OTHER_KEY.key_id] and keyring.get(KEY.key_id) is None
    with pytest.raises(VaultError, match="not loaded"):
        keyring.retire(KEY.key_id)


def test_load_keyring_adds_the_extra_key_for_decryption_only(tmp_path):
    active = generate_key_file(tmp_path / "active.key")
    extra = generate_key_file(tmp_path / "extra.key")
    keyring = load_keyring(
        vault_settings(master_key_file=tmp_path / "active.key", extra_master_key_file=tmp_path / "extra.key")
    )
    assert keyring.active == active and keyring.get(extra.key_id) == extra
    assert load_keyring(vault_settings(master_key_file=tmp_path / "active.key")).key_ids == (active.key_id,)


def test_identifiers_cannot_contain_a_slash():
    with pytest.raises(ValidationError):
        CredentialContext(tenant_id="a/b", node_id="n", kind=CredentialKind.LND_MACAROON)


async def test_json_store_add_get_swap_delete_and_persist(tmp_path):
    vault, _ = make_vault()
    path = tmp_path / "store" / "secrets.json"
    store = JsonFileSecretStore(path)
    assert await store.list_ids() == [] and await store.get(ALICE.record_id) is None
    first = vault.encrypt(ALICE, MACAROON)
    assert await store.add(first) == "alice/node-1/lnd_macaroon"
    await store.add(vault.encrypt(BOB, b"bob's"))
    with pytest.raises(VaultError, match="already exists"):
        await store.add(vault.encrypt(ALICE, b"again"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = vault.encrypt(ALICE, b"updated", version=2)
    assert not await store.compare_and_swap(ALICE.record_id, 5, second)
    assert await store.compare_and_swap(ALICE.record_id, 1, second)
    assert not await store.compare_and_swap(ALICE.record_id, 1, second)
    with pytest.raises(VaultError, match="cannot be replaced"):
        await store.compare_and_swap(BOB.record_id, 1, second)
    reopened = JsonFileSecretStore(path)
    assert await reopened.list_ids() == ["alice/node-1/lnd_macaroon", "bob/node-1/lnd_macaroon"]
    assert await reopened.get(ALICE.record_id) == second
    assert await open_as(vault, second, ALICE) == b"updated"
    assert await reopened.delete(BOB.record_id) and not await reopened.delete(BOB.record_id)
    assert await store.list_ids() == [ALICE.record_id]
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.json", "secrets.json.lock"]


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"format": "other", "records": {}}',
        b'{"format": "mcp-secret-store-v1", "records": {"a/b/lnd_macaroon": {"ciphertext": "SECRETSTUFF"}}}',
    ],
)
async def test_json_store_refuses_a_malformed_file_without_echoing_it(tmp_path, content):
    path = tmp_path / "secrets.json"
    path.write_bytes(content)
    with pytest.raises(VaultError, match="secret store") as caught:
        await JsonFileSecretStore(path).list_ids()
    assert "SECRETSTUFF" not in str(caught.value)
