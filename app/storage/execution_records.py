"""Stored records of live execution: transactions, their per-channel journal, backups, rollouts, budgets."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from app.domain.base import ChannelId, DomainModel
from app.domain.execution import (
    ChannelOutcome,
    ExecutionMode,
    RolloutStage,
    TransactionKind,
    TransactionState,
)
from app.domain.policy import ChannelPolicy, PolicySource
from app.storage.fields import RecordId, UtcDatetime, new_id, utc_now


class TransactionRecord(DomainModel):
    """A batch of policy writes; its state moves forward only, by compare-and-set on `version`."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    kind: TransactionKind
    mode: ExecutionMode | None = None  # live or canary for decisions; None for rollbacks and restores
    state: TransactionState = TransactionState.PLANNED
    version: int = Field(default=0, ge=0)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    actor: str = Field(min_length=1)
    reason: str = ""
    channel_count: int = Field(ge=0)
    backup_id: str | None = None
    rolls_back: str | None = Field(default=None, description="the transaction a rollback undoes")
    rolled_back_by: list[str] = Field(default_factory=list)
    budget_slots: int = Field(default=0, ge=0, description="daily-cap slots reserved for this batch")
    counts: dict[str, int] = Field(default_factory=dict, description="channels by outcome, last recorded")
    notes: list[str] = Field(default_factory=list, description="why it compensated, what recovery did")
    effects_done: bool = False  # history, decisions, budget and audit written after the terminal state
    watch_done: bool = False  # the health watch has judged it for good (rolled back, or nothing left to undo)
    recovery_passes: int = Field(default=0, ge=0)


class JournalEntry(DomainModel):
    """One channel of a transaction: backup, target and outcome, written before each send and after each read."""

    id: RecordId
    tenant_id: RecordId
    node_id: RecordId
    transaction_id: RecordId
    chan_id: ChannelId
    channel_point: str = Field(pattern=r"^[0-9a-f]{64}:[0-9]+$")
    decision_id: str | None = None
    before: ChannelPolicy = Field(description="the policy read from the node just before the batch")
    target: ChannelPolicy = Field(description="the complete policy to send")
    outcome: ChannelOutcome = ChannelOutcome.PENDING
    version: int = Field(default=0, ge=0)
    attempts: int = Field(default=0, ge=0, description="sends of the target")
    restore_attempts: int = Field(default=0, ge=0, description="sends of the backup while compensating")
    sent_at: UtcDatetime | None = None
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    refusal: str | None = Field(default=None, description="what the node said when it refused the last send")
    error: str | None = None
    observed: ChannelPolicy | None = Field(default=None, description="the last read-back")

    @classmethod
    def entry_id(cls, transaction_id: str, chan_id: str) -> str:
        """Deterministic id: one entry per channel and transaction."""
        return f"{transaction_id}.{chan_id}"

    @model_validator(mode="after")
    def _id_matches(self) -> Self:
        """The id is derived from the transaction and the channel."""
        if self.id != self.entry_id(self.transaction_id, self.chan_id):
            raise ValueError("a journal entry's id is <transaction id>.<chan_id>")
        return self

    @property
    def funding_txid(self) -> str:
        """Funding transaction id of the channel."""
        return self.channel_point.split(":", 1)[0]


def outcome_counts(entries: list[JournalEntry]) -> dict[str, int]:
    """Channels by outcome, for the transaction summary."""
    return dict(sorted(Counter(entry.outcome.value for entry in entries).items()))


class BackupKind(StrEnum):
    """What a backup was taken for."""

    BATCH = "batch"  # the channels of one transaction, just before it writes
    DAILY = "daily"  # every channel of the node, once a day
    MANUAL = "manual"  # asked for by an operator


class BackupEntry(DomainModel):
    """One channel's full policy in a backup."""

    channel_point: str = Field(pattern=r"^[0-9a-f]{64}:[0-9]+$")
    policy: ChannelPolicy


class BackupRecord(DomainModel):
    """A versioned, checksummed copy of channel policies; hot in MongoDB, cold as gzip JSON files."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    kind: BackupKind
    format_version: int = 1
    created_at: UtcDatetime = Field(default_factory=utc_now)
    transaction_id: str | None = None
    policies: dict[ChannelId, BackupEntry]
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the canonical JSON content")
    exported_at: UtcDatetime | None = None


class NodeDocument(DomainModel):
    """A record kept once per node (id `<tenant id>:<node id>`), changed by compare-and-set on `version`."""

    id: RecordId
    tenant_id: RecordId
    node_id: RecordId
    version: int = Field(default=0, ge=0)

    @staticmethod
    def key(tenant_id: str, node_id: str) -> str:
        """The document id: tenant and node, so no tenant can collide with another's node id."""
        return f"{tenant_id}:{node_id}"


class StageChange(DomainModel):
    """One promotion or demotion of a node's rollout stage."""

    from_stage: RolloutStage
    to_stage: RolloutStage
    at: UtcDatetime
    actor: str
    reason: str


class RolloutRecord(NodeDocument):
    """A node's rollout stage, its canary channels and how it got there (one per node)."""

    stage: RolloutStage = RolloutStage.SHADOW
    entered_at: UtcDatetime = Field(default_factory=utc_now)
    canary_channels: list[ChannelId] = Field(default_factory=list)
    history: list[StageChange] = Field(default_factory=list)


class BudgetSlot(DomainModel):
    """Daily-cap slots taken by one transaction at one moment (epoch milliseconds)."""

    transaction_id: str
    slots: int = Field(ge=0)
    at_ms: int = Field(ge=0)


class BudgetRecord(NodeDocument):
    """A node's daily-cap ledger over the rolling 24 h."""

    entries: list[BudgetSlot] = Field(default_factory=list)


class KnownPolicy(DomainModel):
    """The last policy the service knows a channel to have, and where that knowledge came from."""

    policy: ChannelPolicy
    source: PolicySource
    at_s: int = Field(ge=0)


class PolicyStateRecord(NodeDocument):
    """Last known policy of every channel of a node, to tell external changes from our own."""

    channels: dict[ChannelId, KnownPolicy] = Field(default_factory=dict)
