"""Checksummed policy backups: hot in MongoDB, cold as gzip JSON files, with retention and verification."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from pydantic import ValidationError

from app.clock import Clock, system_clock
from app.domain.channel import ChannelRef
from app.domain.policy import PolicyReading
from app.errors import InvalidInputError
from app.settings import Settings
from app.storage.backups import BackupRepository
from app.storage.execution_records import BackupEntry, BackupKind, BackupRecord
from app.storage.fields import bson_utc

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
_FILE_PATTERN = re.compile(r"^(\d{8}T\d{6})(\d{3})Z-([a-z]+)-([A-Za-z0-9]+)\.json\.gz$")


def backup_checksum(
    tenant_id: str,
    node_id: str,
    kind: BackupKind,
    created_at: datetime,
    transaction_id: str | None,
    policies: Mapping[str, BackupEntry],
    format_version: int = FORMAT_VERSION,
) -> str:
    """SHA-256 over the canonical JSON (sorted keys) of everything a backup restores and where it belongs."""
    content = {
        "format_version": format_version,
        "tenant_id": tenant_id,
        "node_id": node_id,
        "kind": kind.value,
        "created_at": bson_utc(created_at).isoformat(),
        "transaction_id": transaction_id,
        "policies": {chan_id: entry.model_dump(mode="json") for chan_id, entry in policies.items()},
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def make_backup(
    tenant_id: str,
    node_id: str,
    kind: BackupKind,
    policies: Mapping[str, BackupEntry],
    created_at: datetime,
    transaction_id: str | None = None,
) -> BackupRecord:
    """A backup record with its checksum."""
    created_at = bson_utc(created_at)
    checksum = backup_checksum(tenant_id, node_id, kind, created_at, transaction_id, policies)
    return BackupRecord(
        tenant_id=tenant_id,
        node_id=node_id,
        kind=kind,
        format_version=FORMAT_VERSION,
        created_at=created_at,
        transaction_id=transaction_id,
        policies=dict(policies),
        checksum=checksum,
    )


def entries_from_readings(
    channels: Sequence[ChannelRef], readings: Mapping[str, PolicyReading]
) -> dict[str, BackupEntry]:
    """Backup entries of the channels the node reported a policy for."""
    return {
        channel.chan_id: BackupEntry(
            channel_point=channel.channel_point, policy=readings[channel.chan_id].policy
        )
        for channel in channels
        if channel.chan_id in readings
    }


def checksum_ok(record: BackupRecord) -> bool:
    """Whether the stored checksum matches the content (a tampered or corrupted backup fails)."""
    expected = backup_checksum(
        record.tenant_id,
        record.node_id,
        record.kind,
        record.created_at,
        record.transaction_id,
        record.policies,
    )
    return expected == record.checksum


def cold_path(directory: Path, record: BackupRecord) -> Path:
    """Where the cold copy of a backup lives: one folder per tenant and node, time-ordered names."""
    if {record.tenant_id, record.node_id} & {".", ".."}:
        raise InvalidInputError("a backup's tenant or node id cannot name a folder", {"backup_id": record.id})
    stamp = record.created_at.strftime("%Y%m%dT%H%M%S") + f"{record.created_at.microsecond // 1000:03d}Z"
    return directory / record.tenant_id / record.node_id / f"{stamp}-{record.kind.value}-{record.id}.json.gz"


def read_cold(path: Path) -> BackupRecord:
    """Load a cold backup file; InvalidInputError when it is unreadable or its checksum is wrong."""
    try:
        record = BackupRecord.model_validate(orjson.loads(gzip.decompress(path.read_bytes())))
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError, ValidationError) as exc:
        raise InvalidInputError(f"backup file {path.name} cannot be read: {type(exc).__name__}") from None
    if not checksum_ok(record):
        raise InvalidInputError(f"backup file {path.name} fails its checksum", {"backup_id": record.id})
    return record


def _write_cold(path: Path, record: BackupRecord) -> None:
    """Write atomically: a temporary file renamed into place, so a crash never leaves half a backup."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = gzip.compress(orjson.dumps(record.model_dump(mode="json", exclude={"exported_at"})))
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(body)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(path)


def _file_time(path: Path) -> datetime | None:
    match = _FILE_PATTERN.match(path.name)
    if match is None:
        return None
    moment = datetime.strptime(match.group(1) + "+0000", "%Y%m%dT%H%M%S%z")
    return moment + timedelta(milliseconds=int(match.group(2)))


@dataclass
class RetentionReport:
    """What one retention pass did."""

    exported: list[str] = field(default_factory=list)  # backup ids written to cold files
    hot_deleted: list[str] = field(default_factory=list)  # hot copies past the hot window (cold copy kept)
    cold_deleted: list[str] = field(default_factory=list)  # file names past the cold window


@dataclass
class VerifyReport:
    """Checksums of every hot backup and cold file."""

    hot_ok: int = 0
    cold_ok: int = 0
    bad: list[str] = field(default_factory=list)  # "hot:<id>" or "cold:<file name>"


class BackupStore:
    """Takes, exports, verifies and expires backups."""

    def __init__(
        self,
        repository: BackupRepository,
        directory: Path,
        hot_days: float = 7.0,
        cold_days: float = 90.0,
        clock: Clock = system_clock,
    ) -> None:
        self.repository = repository
        self.directory = directory
        self.hot = timedelta(days=hot_days)
        self.cold = timedelta(days=cold_days)
        self.clock = clock

    @classmethod
    def from_settings(
        cls, repository: BackupRepository, settings: Settings, clock: Clock = system_clock
    ) -> BackupStore:
        """The store with the configured directory and retention."""
        return cls(
            repository,
            settings.backups_path,
            hot_days=settings.backup_hot_days,
            cold_days=settings.backup_cold_days,
            clock=clock,
        )

    async def take(
        self,
        tenant_id: str,
        node_id: str,
        kind: BackupKind,
        channels: Sequence[ChannelRef],
        readings: Mapping[str, PolicyReading],
        transaction_id: str | None = None,
    ) -> BackupRecord:
        """Store a backup of the channels' policies just read from the node."""
        record = make_backup(
            tenant_id, node_id, kind, entries_from_readings(channels, readings), self.clock(), transaction_id
        )
        return await self.repository.add(record)

    async def export_pending(self) -> list[str]:
        """Write every backup without a cold copy to its gzip file; returns their ids."""
        exported = []
        for record in await self.repository.not_exported():
            if not checksum_ok(record):
                log.error("backup %s fails its checksum; not exported", record.id)
                continue
            await asyncio.to_thread(_write_cold, cold_path(self.directory, record), record)
            await self.repository.mark_exported(record, self.clock())
            exported.append(record.id)
        return exported

    async def enforce_retention(self) -> RetentionReport:
        """Export what is pending, then drop hot copies past the hot window (once exported) and old cold files."""
        report = RetentionReport(exported=await self.export_pending())
        now = self.clock()
        for record in await self.repository.created_before(now - self.hot):
            if record.exported_at is not None and await self.repository.delete(record.tenant_id, record.id):
                report.hot_deleted.append(record.id)
        report.cold_deleted = await asyncio.to_thread(self._delete_cold_before, now - self.cold)
        return report

    def _delete_cold_before(self, before: datetime) -> list[str]:
        deleted = []
        for path in sorted(self.directory.glob("*/*/*.json.gz")):
            moment = _file_time(path)
            if moment is not None and moment < before:
                path.unlink(missing_ok=True)
                deleted.append(path.name)
        return deleted

    def cold_files(self, tenant_id: str | None = None, node_id: str | None = None) -> list[Path]:
        """Cold backup files, oldest first (of one tenant and node when given)."""
        pattern = f"{tenant_id or '*'}/{node_id or '*'}/*.json.gz"
        return sorted(self.directory.glob(pattern), key=lambda path: path.name)

    async def verify(self) -> VerifyReport:
        """Check the checksum of every hot backup (through the repository's listing) and every cold file."""
        report = VerifyReport()
        for record in await self.repository.created_before(self.clock() + timedelta(days=1)):
            if checksum_ok(record):
                report.hot_ok += 1
            else:
                report.bad.append(f"hot:{record.id}")
        for path in self.cold_files():
            try:
                await asyncio.to_thread(read_cold, path)
            except InvalidInputError:
                report.bad.append(f"cold:{path.name}")
            else:
                report.cold_ok += 1
        return report

    async def import_file(self, path: Path) -> BackupRecord:
        """Load a cold backup back into hot storage (so it can be restored); refused when it fails its checksum."""
        record = await asyncio.to_thread(read_cold, path)
        return await self.repository.add(record.model_copy(update={"exported_at": self.clock()}))
