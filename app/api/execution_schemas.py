"""Request and response bodies of the execution routes: transactions, backups, rollbacks, rollout, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from app.api.schemas import Strict
from app.domain.base import ChannelId
from app.domain.execution import ExecutionMode, TransactionKind, TransactionState
from app.storage.execution_records import BackupKind, BackupRecord, JournalEntry, TransactionRecord


class TransactionOut(BaseModel):
    """A batch of policy writes: its state, outcomes by count, and why it did what it did."""

    id: str
    node_id: str
    kind: TransactionKind
    mode: ExecutionMode | None
    state: TransactionState
    created_at: datetime
    updated_at: datetime
    actor: str
    reason: str
    channel_count: int
    outcomes: dict[str, int]
    backup_id: str | None
    rolls_back: str | None
    rolled_back_by: list[str]
    notes: list[str]

    @classmethod
    def of(cls, record: TransactionRecord) -> TransactionOut:
        """From the stored record."""
        return cls(
            id=record.id, node_id=record.node_id, kind=record.kind, mode=record.mode, state=record.state,
            created_at=record.created_at, updated_at=record.updated_at, actor=record.actor, reason=record.reason,
            channel_count=record.channel_count, outcomes=record.counts, backup_id=record.backup_id,
            rolls_back=record.rolls_back, rolled_back_by=record.rolled_back_by, notes=record.notes,
        )  # fmt: skip


class TransactionDetailOut(TransactionOut):
    """A transaction with each channel's backup, target, outcome and read-back."""

    channels: list[JournalEntry]

    @classmethod
    def with_entries(cls, record: TransactionRecord, entries: list[JournalEntry]) -> TransactionDetailOut:
        """From the stored record and its journal."""
        return cls(**TransactionOut.of(record).model_dump(), channels=entries)


class BackupOut(BaseModel):
    """A backup as listed: what it covers and its checksum, without the policies."""

    id: str
    node_id: str
    kind: BackupKind
    format_version: int
    created_at: datetime
    transaction_id: str | None
    channels: int
    checksum: str
    exported_at: datetime | None

    @classmethod
    def of(cls, record: BackupRecord) -> BackupOut:
        """From the stored record."""
        return cls(
            id=record.id, node_id=record.node_id, kind=record.kind, format_version=record.format_version,
            created_at=record.created_at, transaction_id=record.transaction_id, channels=len(record.policies),
            checksum=record.checksum, exported_at=record.exported_at,
        )  # fmt: skip


EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)  # a day of margin for any offset
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class TransactionRollbackIn(Strict):
    """Roll back a whole transaction, or only some of its channels."""

    chan_ids: list[ChannelId] | None = Field(default=None, min_length=1, max_length=10_000)
    reason: str = Field(default="", max_length=500)


class NodeRollbackIn(Strict):
    """Put a node back to a backup, or undo every change the service made after a moment."""

    backup_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    to: datetime | None = Field(
        default=None, description="ISO 8601 with a timezone, e.g. 2026-11-30T12:00:00Z"
    )
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        """A backup or a moment, not both and not neither."""
        if (self.backup_id is None) == (self.to is None):
            raise ValueError("give exactly one of backup_id or to")
        if self.to is not None:
            if self.to.tzinfo is None or self.to.utcoffset() is None:
                raise ValueError("to needs a timezone (e.g. 2026-11-30T12:00:00Z)")
            moment = self.to.astimezone(UTC) if EARLIEST < self.to < LATEST else None
            if moment is None:
                raise ValueError("to must lie between 1970 and 2200")
            self.to = moment
        return self


class RolloutIn(Strict):
    """Promote a node to the next rollout stage (its gate must pass) or demote it one stage."""

    action: Literal["promote", "demote"]
    reason: str = Field(default="", max_length=500)
