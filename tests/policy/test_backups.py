"""Checksummed backups: hot copies in storage, cold gzip files, retention on an injected clock, verification."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from app.domain.channel import ChannelRef
from app.domain.policy import ChannelPolicy, PolicyReading
from app.errors import InvalidInputError, NotFoundError
from app.policy.backups import BackupStore, checksum_ok, cold_path, make_backup, read_cold
from app.storage.database import Storage
from app.storage.execution_records import BackupEntry, BackupKind, BackupRecord
from tests.storage import builders
from tests.storage.builders import T0

CHAN_A = "800000000000000001"
CHAN_B = "800000000000000002"
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def entry(fee_rate_ppm: int = 100, output: int = 0) -> BackupEntry:
    """One channel's policy in a backup."""
    return BackupEntry(
        channel_point="ab" * 32 + f":{output}",
        policy=ChannelPolicy(base_fee_msat=1_000, fee_rate_ppm=fee_rate_ppm, max_htlc_msat=990_000_000),
    )


def two_channel_backup(at: datetime = T0, node_id: str = "n1") -> BackupRecord:
    """A batch backup of two channels."""
    policies = {CHAN_A: entry(100), CHAN_B: entry(250, 1)}
    return make_backup("t1", node_id, BackupKind.BATCH, policies, at, transaction_id="tx-1")


def rewrite(path: Path, change: dict[str, object]) -> None:
    """Rewrite a cold file with top-level fields changed (the checksum left as it was)."""
    content = orjson.loads(gzip.decompress(path.read_bytes()))
    content.update(change)
    path.write_bytes(gzip.compress(orjson.dumps(content)))


@pytest.fixture
def clock() -> Clock:
    """Now is a day after T0."""
    return Clock(T0 + DAY)


@pytest.fixture
def store(storage: Storage, tmp_path: Path, clock: Clock) -> BackupStore:
    """Seven hot days, ninety cold days, on the test's clock."""
    return BackupStore(storage.backups, tmp_path / "cold", hot_days=7, cold_days=90, clock=clock)


# --- checksums --------------------------------------------------------------------------------------


def test_a_fresh_backup_passes_its_checksum():
    record = two_channel_backup()
    assert checksum_ok(record)
    assert record.created_at == T0 and record.transaction_id == "tx-1"
    assert checksum_ok(builders.backup("t1", "n1"))


def test_the_checksum_does_not_depend_on_the_order_of_the_channels():
    forward = make_backup("t1", "n1", BackupKind.DAILY, {CHAN_A: entry(1), CHAN_B: entry(2, 1)}, T0)
    backward = make_backup("t1", "n1", BackupKind.DAILY, {CHAN_B: entry(2, 1), CHAN_A: entry(1)}, T0)
    assert forward.checksum == backward.checksum


def test_the_checksum_ignores_precision_below_a_millisecond():
    # Stored dates keep milliseconds only; a backup must still verify after a round trip.
    record = make_backup("t1", "n1", BackupKind.DAILY, {CHAN_A: entry()}, T0 + timedelta(microseconds=700))
    assert record.created_at == T0
    assert record.checksum == make_backup("t1", "n1", BackupKind.DAILY, {CHAN_A: entry()}, T0).checksum


@pytest.mark.parametrize(
    "change",
    [
        {"node_id": "n2"},
        {"tenant_id": "t2"},
        {"kind": BackupKind.MANUAL},
        {"created_at": T0 + MS},
        {"transaction_id": "tx-2"},
        {"transaction_id": None},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_to_what_a_backup_restores_or_where_it_belongs_breaks_the_checksum(change):
    assert not checksum_ok(two_channel_backup().model_copy(update=change))


@pytest.mark.parametrize(
    "policies",
    [
        {CHAN_A: entry(101), CHAN_B: entry(250, 1)},  # one fee rate
        {CHAN_A: entry(100, 2), CHAN_B: entry(250, 1)},  # one funding outpoint
        {CHAN_A: entry(100)},  # a channel dropped
        {CHAN_A: entry(100), CHAN_B: entry(250, 1), "800000000000000003": entry(5)},  # one added
        {CHAN_B: entry(100), CHAN_A: entry(250, 1)},  # two channels swapped
    ],
    ids=["fee", "outpoint", "dropped", "added", "swapped"],
)
def test_any_change_to_a_policy_breaks_the_checksum(policies):
    assert not checksum_ok(two_channel_backup().model_copy(update={"policies": policies}))


def test_a_forged_checksum_fails():
    assert not checksum_ok(two_channel_backup().model_copy(update={"checksum": "0" * 64}))


# --- export -----------------------------------------------------------------------------------------


async def test_export_writes_gzip_json_cold_files_and_marks_them_exported(
    storage: Storage, store: BackupStore, clock: Clock
):
    first, second = two_channel_backup(T0), builders.backup("t2", "n9", T0 + MS)
    for record in (first, second):
        await storage.backups.add(record)
    assert await store.export_pending() == [first.id, second.id]
    for record in (first, second):
        path = cold_path(store.directory, record)
        assert path.is_file()
        assert path.parent == store.directory / record.tenant_id / record.node_id
        content = orjson.loads(gzip.decompress(path.read_bytes()))
        assert "exported_at" not in content
        assert BackupRecord.model_validate(content) == record
        assert read_cold(path) == record
        stored = await storage.backups.get(record.tenant_id, record.id)
        assert stored.exported_at == clock.now
        assert stored.model_copy(update={"exported_at": None}) == record
    assert [path.name for path in store.cold_files()] == sorted(
        cold_path(store.directory, record).name for record in (first, second)
    )
    assert list(store.directory.rglob("*.tmp")) == []


async def test_exporting_again_exports_nothing(storage: Storage, store: BackupStore):
    await storage.backups.add(two_channel_backup())
    assert len(await store.export_pending()) == 1
    assert await store.export_pending() == []
    assert await storage.backups.not_exported() == []
    later = builders.backup("t1", "n1", T0 + DAY)
    await storage.backups.add(later)
    assert await store.export_pending() == [later.id]


async def test_cold_file_names_sort_by_time(store: BackupStore):
    early = two_channel_backup(T0 + timedelta(milliseconds=7))
    late = two_channel_backup(T0 + timedelta(seconds=1))
    early_name, late_name = cold_path(store.directory, early).name, cold_path(store.directory, late).name
    assert early_name.startswith("20260301T120000007Z-batch-")
    assert early_name < late_name


async def test_a_backup_failing_its_checksum_is_not_exported(storage: Storage, store: BackupStore):
    good, bad = two_channel_backup(), builders.backup("t1", "n2")
    await storage.backups.add(good)
    await storage.backups.add(bad.model_copy(update={"node_id": "n3"}))
    assert await store.export_pending() == [good.id]
    assert [record.id for record in await storage.backups.not_exported()] == [bad.id]


# --- reading cold files -----------------------------------------------------------------------------


async def exported(storage: Storage, store: BackupStore, record: BackupRecord) -> Path:
    """Store and export one backup; its cold file."""
    await storage.backups.add(record)
    assert await store.export_pending() == [record.id]
    return cold_path(store.directory, record)


async def test_read_cold_rejects_a_tampered_file(storage: Storage, store: BackupStore):
    path = await exported(storage, store, two_channel_backup())
    content = orjson.loads(gzip.decompress(path.read_bytes()))
    content["policies"][CHAN_A]["policy"]["fee_rate_ppm"] = 2_000
    path.write_bytes(gzip.compress(orjson.dumps(content)))
    with pytest.raises(InvalidInputError, match="fails its checksum"):
        read_cold(path)


async def test_read_cold_rejects_a_file_moved_to_another_node(storage: Storage, store: BackupStore):
    path = await exported(storage, store, two_channel_backup())
    rewrite(path, {"node_id": "n2"})
    with pytest.raises(InvalidInputError, match="fails its checksum"):
        read_cold(path)


@pytest.mark.parametrize("keep", [0, 5, 20, 100, -8, -1])
async def test_read_cold_rejects_a_truncated_file(storage: Storage, store: BackupStore, keep: int):
    path = await exported(storage, store, two_channel_backup())
    body = path.read_bytes()
    assert len(body) > 100
    path.write_bytes(body[:keep])  # a negative `keep` drops that many bytes from the end
    with pytest.raises(InvalidInputError, match="cannot be read"):
        read_cold(path)


async def test_read_cold_rejects_a_file_that_is_not_a_backup(tmp_path: Path):
    for name, body in (
        ("plain.json.gz", b'{"policies": {}}'),
        ("list.json.gz", gzip.compress(b"[1, 2]")),
        ("text.json.gz", gzip.compress(b"not json")),
        ("partial.json.gz", gzip.compress(b'{"tenant_id": "t1"}')),
    ):
        path = tmp_path / name
        path.write_bytes(body)
        with pytest.raises(InvalidInputError, match="cannot be read"):
            read_cold(path)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        read_cold(tmp_path / "missing.json.gz")


async def test_read_cold_rejects_a_file_with_corrupted_compressed_bytes(storage: Storage, store: BackupStore):
    path = await exported(storage, store, two_channel_backup())
    body = bytearray(path.read_bytes())
    body[10] = 0x07  # first byte after the 10-byte gzip header: a deflate block of the reserved type
    path.write_bytes(bytes(body))
    with pytest.raises(InvalidInputError, match="cannot be read"):
        read_cold(path)


# --- retention --------------------------------------------------------------------------------------


async def test_retention_deletes_hot_copies_after_export_and_cold_files_after_the_cold_window(
    storage: Storage, store: BackupStore, clock: Clock
):
    older, newer = two_channel_backup(T0), two_channel_backup(T0 + DAY)
    for record in (older, newer):
        await storage.backups.add(record)
    older_file, newer_file = cold_path(store.directory, older), cold_path(store.directory, newer)

    clock.now = T0 + DAY
    report = await store.enforce_retention()
    assert report.exported == [older.id, newer.id]
    assert (report.hot_deleted, report.cold_deleted) == ([], [])

    clock.now = T0 + 7 * DAY  # the older one is exactly hot_days old: kept
    report = await store.enforce_retention()
    assert (report.exported, report.hot_deleted, report.cold_deleted) == ([], [], [])

    clock.now = T0 + 7 * DAY + MS
    report = await store.enforce_retention()
    assert (report.hot_deleted, report.cold_deleted) == ([older.id], [])
    with pytest.raises(NotFoundError):
        await storage.backups.get("t1", older.id)
    assert (await storage.backups.get("t1", newer.id)).id == newer.id
    assert older_file.is_file() and newer_file.is_file()  # the cold copy outlives the hot one

    clock.now = T0 + 8 * DAY + MS
    assert (await store.enforce_retention()).hot_deleted == [newer.id]

    clock.now = T0 + 90 * DAY
    assert (await store.enforce_retention()).cold_deleted == []  # exactly cold_days old: kept

    clock.now = T0 + 90 * DAY + MS
    report = await store.enforce_retention()
    assert (report.hot_deleted, report.cold_deleted) == ([], [older_file.name])
    assert not older_file.exists() and newer_file.is_file()

    clock.now = T0 + 91 * DAY + MS
    assert (await store.enforce_retention()).cold_deleted == [newer_file.name]
    assert store.cold_files() == []


async def test_an_old_hot_copy_that_could_not_be_exported_is_kept(
    storage: Storage, store: BackupStore, clock: Clock
):
    corrupted = two_channel_backup(T0).model_copy(update={"kind": BackupKind.MANUAL})
    await storage.backups.add(corrupted)
    clock.now = T0 + 30 * DAY
    report = await store.enforce_retention()
    assert (report.exported, report.hot_deleted) == ([], [])
    assert (await storage.backups.get("t1", corrupted.id)).exported_at is None


async def test_retention_leaves_files_it_did_not_name_alone(store: BackupStore, clock: Clock):
    stray = store.directory / "t1" / "n1" / "notes.json.gz"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"")
    clock.now = T0 + 1_000 * DAY
    assert (await store.enforce_retention()).cold_deleted == []
    assert stray.exists()


# --- verification and import ------------------------------------------------------------------------


async def test_verify_counts_good_and_bad_hot_copies_and_cold_files(
    storage: Storage, store: BackupStore, clock: Clock
):
    records = [two_channel_backup(T0 + index * MS, node_id=f"n{index}") for index in range(3)]
    for record in records:
        await storage.backups.add(record)
    await store.export_pending()
    assert (await store.verify()).bad == []

    collection = storage.database["backups"]
    document = await collection.find_one({"_id": records[0].id})
    assert document is not None
    document["policies"][CHAN_B]["policy"]["fee_rate_ppm"] = 9_999
    assert (await collection.replace_one({"_id": records[0].id}, document)).matched_count == 1
    tampered_file = cold_path(store.directory, records[2])
    rewrite(tampered_file, {"transaction_id": "tx-forged"})

    report = await store.verify()
    assert (report.hot_ok, report.cold_ok) == (2, 2)
    assert sorted(report.bad) == sorted([f"hot:{records[0].id}", f"cold:{tampered_file.name}"])


async def test_verify_reports_a_cold_file_with_corrupted_compressed_bytes_as_bad(
    storage: Storage, store: BackupStore
):
    path = await exported(storage, store, two_channel_backup())
    body = bytearray(path.read_bytes())
    body[10] = 0x07  # a deflate block of the reserved type
    path.write_bytes(bytes(body))
    report = await store.verify()
    assert (report.hot_ok, report.cold_ok, report.bad) == (1, 0, [f"cold:{path.name}"])


async def test_verify_of_nothing_is_clean(store: BackupStore):
    report = await store.verify()
    assert (report.hot_ok, report.cold_ok, report.bad) == (0, 0, [])


async def test_import_loads_a_cold_file_back_into_hot_storage(
    storage: Storage, store: BackupStore, clock: Clock
):
    record = two_channel_backup()
    path = await exported(storage, store, record)
    assert await storage.backups.delete("t1", record.id)
    clock.now = T0 + 100 * DAY
    imported = await store.import_file(path)
    assert imported.model_copy(update={"exported_at": None}) == record
    stored = await storage.backups.get("t1", record.id)
    assert stored == imported and stored.exported_at == clock.now
    assert checksum_ok(stored)
    assert await store.export_pending() == []  # its cold copy exists already


async def test_import_refuses_a_tampered_file_and_stores_nothing(storage: Storage, store: BackupStore):
    record = two_channel_backup()
    path = await exported(storage, store, record)
    assert await storage.backups.delete("t1", record.id)
    rewrite(path, {"kind": "daily"})
    with pytest.raises(InvalidInputError):
        await store.import_file(path)
    with pytest.raises(NotFoundError):
        await storage.backups.get("t1", record.id)


async def test_take_backs_up_the_channels_the_node_reported(
    storage: Storage, store: BackupStore, clock: Clock
):
    refs = [
        ChannelRef(chan_id=CHAN_A, channel_point="ab" * 32 + ":0"),
        ChannelRef(chan_id=CHAN_B, channel_point="cd" * 32 + ":1"),
    ]
    readings = {CHAN_A: PolicyReading(policy=ChannelPolicy(fee_rate_ppm=321))}
    record = await store.take("t1", "n1", BackupKind.BATCH, refs, readings, transaction_id="tx-9")
    assert record.created_at == clock.now
    assert record.policies == {
        CHAN_A: BackupEntry(channel_point="ab" * 32 + ":0", policy=ChannelPolicy(fee_rate_ppm=321))
    }
    assert checksum_ok(record)
    assert await storage.backups.get("t1", record.id) == record
