"""Records for storage tests, built from real domain models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.execution import ExecutionMode, TransactionKind
from app.domain.policy import ChannelPolicy, PolicySource
from app.engine.cycle import CycleReport
from app.policy.backups import make_backup
from app.storage.execution_records import (
    BackupEntry,
    BackupKind,
    BackupRecord,
    JournalEntry,
    TransactionRecord,
)
from app.storage.records import (
    AuditRecord,
    ChannelSnapshotRecord,
    DecisionRecord,
    MetricPoint,
    NodeBackend,
    NodeRecord,
    PolicyRecord,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BIG_MSAT = 5 * 2**40  # far above 2**31 and 2**32: must stay an int64


def node(tenant_id: str, name: str = "alpha", **fields: object) -> NodeRecord:
    """An LND node record of the tenant."""
    return NodeRecord.model_validate(
        {
            "tenant_id": tenant_id,
            "name": name,
            "backend": NodeBackend.LND,
            "url": "https://127.0.0.1:8080",
            "credential_id": f"{tenant_id}/{name}/lnd_macaroon",
            "settings": {"mode": "shadow", "limits": {"max_fee_rate_ppm": 2500}},
            **fields,
        }
    )


def decisions(
    report: CycleReport, tenant_id: str, node_id: str, cycle_id: str = "c1"
) -> list[DecisionRecord]:
    """Every decision of a real cycle as stored records, one millisecond apart."""
    return [
        DecisionRecord.from_decision(
            tenant_id=tenant_id,
            node_id=node_id,
            cycle_id=cycle_id,
            decision=evaluation.decision,
            validation=evaluation.validation,
            created_at=T0 + timedelta(milliseconds=index),
        )
        for index, evaluation in enumerate(report.evaluations)
    ]


def snapshots(
    report: CycleReport, tenant_id: str, node_id: str, cycle_id: str = "c1"
) -> list[ChannelSnapshotRecord]:
    """Every channel of a real cycle with its score breakdown."""
    return [
        ChannelSnapshotRecord(
            tenant_id=tenant_id,
            node_id=node_id,
            channel_id=evaluation.channel.chan_id,
            cycle_id=cycle_id,
            taken_at=T0,
            channel=evaluation.channel,
            score=evaluation.decision.breakdown,
        )
        for evaluation in report.evaluations
    ]


def policy(
    tenant_id: str, node_id: str, channel_id: str, at: datetime, source: PolicySource = PolicySource.APPLIED
) -> PolicyRecord:
    """A policy history entry with an int64-sized max HTLC."""
    return PolicyRecord(
        tenant_id=tenant_id,
        node_id=node_id,
        channel_id=channel_id,
        applied_at=at,
        policy=ChannelPolicy(base_fee_msat=1000, fee_rate_ppm=250, max_htlc_msat=BIG_MSAT),
        source=source,
    )


def metric(
    tenant_id: str, node_id: str, at: datetime, value: float, name: str = "local_balance_sat"
) -> MetricPoint:
    """One sample of a node series."""
    return MetricPoint(tenant_id=tenant_id, node_id=node_id, timestamp=at, name=name, value=value)


def audit(
    tenant_id: str, at: datetime, action: str = "decision.approve", node_id: str | None = None
) -> AuditRecord:
    """An audit record of an operator action."""
    return AuditRecord(
        tenant_id=tenant_id, at=at, actor="key-1", action=action, outcome="ok", node_id=node_id, target="d-1"
    )


def transaction(tenant_id: str, node_id: str, channels: int = 1, **fields: object) -> TransactionRecord:
    """A new apply transaction of the node."""
    return TransactionRecord.model_validate(
        {
            "tenant_id": tenant_id,
            "node_id": node_id,
            "kind": TransactionKind.APPLY,
            "mode": ExecutionMode.LIVE,
            "actor": "key-1",
            "channel_count": channels,
            **fields,
        }
    )


def journal_entry(record: TransactionRecord, chan_id: str = "800000000000000001") -> JournalEntry:
    """A pending entry of the transaction: a 100 ppm -> 120 ppm change."""
    before = ChannelPolicy(base_fee_msat=1000, fee_rate_ppm=100, max_htlc_msat=BIG_MSAT)
    return JournalEntry(
        id=JournalEntry.entry_id(record.id, chan_id),
        tenant_id=record.tenant_id,
        node_id=record.node_id,
        transaction_id=record.id,
        chan_id=chan_id,
        channel_point="ab" * 32 + ":0",
        before=before,
        target=before.model_copy(update={"fee_rate_ppm": 120}),
    )


def backup(tenant_id: str, node_id: str, at: datetime = T0) -> BackupRecord:
    """A checksummed backup of one channel."""
    entry = BackupEntry(channel_point="ab" * 32 + ":0", policy=ChannelPolicy(fee_rate_ppm=100))
    return make_backup(tenant_id, node_id, BackupKind.MANUAL, {"800000000000000001": entry}, at)
