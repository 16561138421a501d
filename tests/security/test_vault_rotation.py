"""Key rotation on a real JSON store while readers and writers keep going, and the `vault rotate` command."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from app.cli import main
from app.security.audit import LoggingAuditSink, MemoryAuditSink
from app.security.keys import MasterKey, generate_key_file, read_key_file
from app.security.rotation import records_not_under, rotate
from app.security.secret_store import JsonFileSecretStore
from app.security.vault import CredentialContext, CredentialKind, EncryptedSecret, Keyring, Vault, VaultError
from app.settings import get_settings
from tests.security import leaked, log_text

OLD_KEY = MasterKey(bytes(range(32)))
NEW_KEY = MasterKey(bytes(range(64, 96)))


def context(index: int) -> CredentialContext:
    kind = CredentialKind.LND_MACAROON if index % 2 == 0 else CredentialKind.LNBITS_ADMIN_KEY
    return CredentialContext(tenant_id=f"tenant-{index % 7}", node_id=f"node-{index}", kind=kind)


def plaintext(index: int, generation: int = 0) -> bytes:
    return f"secret-{index:04d}-generation-{generation}-0123456789abcdef".encode()


async def filled_store(path, vault: Vault, count: int) -> tuple[JsonFileSecretStore, dict[str, bytes]]:
    store = JsonFileSecretStore(path)
    expected = {}

    def add_all(records: dict[str, EncryptedSecret]) -> bool:
        for index in range(count):
            secret = vault.encrypt(context(index), plaintext(index))
            records[secret.record_id] = secret
            expected[secret.record_id] = plaintext(index)
        return True

    await store._update(add_all)  # one write instead of `count`: only the rotation is under test
    return store, expected


async def read_everything(store: JsonFileSecretStore, vault: Vault) -> dict[str, bytes]:
    found = {}
    for record_id in await store.list_ids():
        secret = await store.get(record_id)
        assert secret is not None
        found[record_id] = await vault.decrypt(secret, secret.context, actor="reader", purpose="load test")
    return found


async def test_rotation_under_load_loses_nothing_and_lets_the_old_key_go(tmp_path):
    audit = MemoryAuditSink()
    vault = Vault(Keyring(OLD_KEY), audit)
    store, expected = await filled_store(tmp_path / "secrets.json", vault, 200)
    rotation_done = asyncio.Event()
    reads: list[int] = []
    failures: list[Exception] = []

    async def reader() -> None:
        while not rotation_done.is_set():
            try:
                found = await read_everything(store, vault)
            except (VaultError, AssertionError) as exc:
                failures.append(exc)
                return
            assert found == expected
            reads.append(len(found))

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    progress: list[int] = []
    try:
        report = await rotate(store, vault, NEW_KEY, progress=lambda done, total: progress.append(done))
    finally:
        rotation_done.set()
        await asyncio.gather(*readers)
    assert failures == []
    # The readers really overlapped the rotation: they opened records under both keys, between rotation steps.
    actors = [event.actor for event in audit.events]
    first, last = actors.index("key-rotation"), len(actors) - actors[::-1].index("key-rotation")
    assert "reader" in actors[first:last]
    assert {e.key_id for e in audit.events if e.actor == "reader"} == {OLD_KEY.key_id, NEW_KEY.key_id}
    assert report.complete and (report.total, report.rotated, report.already_current) == (200, 200, 0)
    assert progress == list(range(1, 201))
    records = [await store.get(record_id) for record_id in await store.list_ids()]
    assert all(r is not None and r.key_id == NEW_KEY.key_id and r.version == 2 for r in records)
    assert await records_not_under(store, NEW_KEY.key_id) == []
    vault.keyring.retire(OLD_KEY.key_id)
    assert vault.keyring.key_ids == (NEW_KEY.key_id,)
    assert await read_everything(store, vault) == expected
    assert {event.outcome.value for event in audit.events} == {"decrypted"}


class InterleavingStore(JsonFileSecretStore):
    """A real JSON store where, for chosen records, another writer gets in between the rotation's read and write."""

    def __init__(self, path: Path, interleave: dict[str, Callable[[], Awaitable[None]]]) -> None:
        super().__init__(path)
        self.interleave = interleave

    async def compare_and_swap(
        self, record_id: str, expected_version: int, new_secret: EncryptedSecret
    ) -> bool:
        action = self.interleave.pop(record_id, None)
        if action is not None:
            await action()
        return await super().compare_and_swap(record_id, expected_version, new_secret)


async def test_writes_during_rotation_are_kept_through_compare_and_swap_retries(tmp_path):
    vault = Vault(Keyring(OLD_KEY), MemoryAuditSink())
    seed_store, expected = await filled_store(tmp_path / "secrets.json", vault, 20)
    # A second service instance that has not heard of the new key yet.
    lagging = Vault(Keyring(OLD_KEY), MemoryAuditSink())
    ids = await seed_store.list_ids()
    up_to_date_id, lagging_id, deleted_id = ids[3], ids[7], ids[11]

    def writer(record_id: str, writer_vault: Vault):
        async def update() -> None:
            current = await store.get(record_id)
            assert current is not None
            expected[record_id] = f"rewritten {record_id} at version {current.version + 1}".encode()
            replacement = writer_vault.encrypt(
                current.context, expected[record_id], version=current.version + 1
            )
            assert await store.compare_and_swap(record_id, current.version, replacement)

        return update

    async def delete() -> None:
        assert await store.delete(deleted_id)
        del expected[deleted_id]

    store = InterleavingStore(
        tmp_path / "secrets.json",
        {
            up_to_date_id: writer(up_to_date_id, vault),
            lagging_id: writer(lagging_id, lagging),
            deleted_id: delete,
        },
    )
    report = await rotate(store, vault, NEW_KEY)
    assert report.complete and report.conflicts == 3
    assert (report.total, report.rotated, report.already_current, report.vanished) == (20, 18, 1, 1)
    assert (await store.get(up_to_date_id)).version == 2  # type: ignore[union-attr]
    assert (await store.get(lagging_id)).version == 3  # type: ignore[union-attr]
    assert await store.get(deleted_id) is None
    vault.keyring.retire(OLD_KEY.key_id)
    assert await read_everything(store, vault) == expected


async def test_a_record_under_an_unknown_key_makes_the_rotation_incomplete(tmp_path):
    vault = Vault(Keyring(OLD_KEY), MemoryAuditSink())
    store, _ = await filled_store(tmp_path / "secrets.json", vault, 5)
    stranger = Vault(Keyring(MasterKey.generate()), MemoryAuditSink()).encrypt(context(50), b"from elsewhere")
    await store.add(stranger)
    report = await rotate(store, vault, NEW_KEY)
    assert not report.complete
    assert report.failed == (stranger.record_id,) and report.rotated == 5 and report.stale == ()
    assert await records_not_under(store, NEW_KEY.key_id) == [stranger.record_id]


async def test_no_secret_in_logs_during_rotation(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    vault = Vault(Keyring(OLD_KEY), LoggingAuditSink())
    store, expected = await filled_store(tmp_path / "secrets.json", vault, 10)
    await store.add(
        Vault(Keyring(MasterKey.generate()), MemoryAuditSink()).encrypt(context(77), plaintext(77))
    )
    report = await rotate(store, vault, NEW_KEY)
    assert len(report.failed) == 1
    assert len(caplog.records) == 11
    text = "\n".join([log_text(caplog.records), repr(report), repr(vault), repr(store)])
    assert not leaked(text, *expected.values(), plaintext(77), bytes(range(32)), bytes(range(64, 96)))


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_rotate_moves_the_store_to_the_new_key(tmp_path, monkeypatch, capsys, fresh_settings):
    old_key = generate_key_file(tmp_path / "old.key")
    for name in ("MCP_MASTER_KEY", "MCP_MASTER_PASSPHRASE", "MCP_EXTRA_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MCP_MASTER_KEY_FILE", str(tmp_path / "old.key"))
    store_path = tmp_path / "secrets.json"
    vault = Vault(Keyring(old_key), MemoryAuditSink())
    _, expected = asyncio.run(filled_store(store_path, vault, 30))
    assert main(["vault", "genkey", "--out", str(tmp_path / "new.key")]) == 0
    new_key = read_key_file(tmp_path / "new.key")
    capsys.readouterr()

    assert (
        main(["vault", "rotate", "--store", str(store_path), "--new-key-file", str(tmp_path / "new.key")])
        == 0
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert f"from key {old_key.key_id} to key {new_key.key_id}" in err
    assert "re-encrypted 30/30" in err and "done: 30 records, 30 re-encrypted" in err
    assert f"export MCP_MASTER_KEY_FILE={(tmp_path / 'new.key').resolve()}" in err
    audit_lines = (tmp_path / "secrets.json.audit.jsonl").read_text().splitlines()
    assert len(audit_lines) == 30 and json.loads(audit_lines[0])["actor"] == "cli:vault-rotate"
    assert stat.S_IMODE((tmp_path / "secrets.json.audit.jsonl").stat().st_mode) == 0o600
    assert (
        asyncio.run(
            read_everything(JsonFileSecretStore(store_path), Vault(Keyring(new_key), MemoryAuditSink()))
        )
        == expected
    )
    material = [read_key_file(tmp_path / name)._material for name in ("old.key", "new.key")]
    assert not leaked(out + err + "\n".join(audit_lines), *expected.values(), *material)

    # Running it again with the new key configured: nothing to rotate, a clear error.
    monkeypatch.setenv("MCP_MASTER_KEY_FILE", str(tmp_path / "new.key"))
    get_settings.cache_clear()
    assert (
        main(["vault", "rotate", "--store", str(store_path), "--new-key-file", str(tmp_path / "new.key")])
        == 2
    )
    assert "nothing to rotate" in capsys.readouterr().err


def test_cli_rotate_reports_records_it_could_not_rotate(tmp_path, monkeypatch, capsys, fresh_settings):
    old_key = generate_key_file(tmp_path / "old.key")
    generate_key_file(tmp_path / "new.key")
    for name in ("MCP_MASTER_KEY", "MCP_MASTER_PASSPHRASE", "MCP_EXTRA_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MCP_MASTER_KEY_FILE", str(tmp_path / "old.key"))
    store_path = tmp_path / "secrets.json"
    store, _ = asyncio.run(filled_store(store_path, Vault(Keyring(old_key), MemoryAuditSink()), 3))
    stranger = Vault(Keyring(MasterKey.generate()), MemoryAuditSink()).encrypt(context(9), b"elsewhere")
    asyncio.run(store.add(stranger))
    assert (
        main(["vault", "rotate", "--store", str(store_path), "--new-key-file", str(tmp_path / "new.key")])
        == 1
    )
    err = capsys.readouterr().err
    assert f"failed: {stranger.record_id}" in err and f"keep key {old_key.key_id}" in err


async def test_two_store_handles_on_one_file_never_lose_an_update(tmp_path):
    # Separate instances share no asyncio lock, as two processes would not: only the file lock serialises them.
    vault = Vault(Keyring(OLD_KEY), MemoryAuditSink())
    path = tmp_path / "secrets.json"
    first = await JsonFileSecretStore(path).add(vault.encrypt(context(0), b"v1"))

    async def bump(store: JsonFileSecretStore, times: int) -> int:
        retries = 0
        for _ in range(times):
            while True:
                current = await store.get(first)
                assert current is not None
                bumped = vault.encrypt(current.context, b"v", version=current.version + 1)
                if await store.compare_and_swap(first, current.version, bumped):
                    break
                retries += 1
        return retries

    await asyncio.gather(*(bump(JsonFileSecretStore(path), 25) for _ in range(4)))
    final = await JsonFileSecretStore(path).get(first)
    assert final is not None and final.version == 101
