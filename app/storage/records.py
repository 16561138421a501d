"""Records as stored in MongoDB: every one but tenants carries its tenant id; amounts stay Python ints (int64)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from app.domain.access import ApiKeyRole
from app.domain.base import ChannelId, DomainModel
from app.domain.channel import Channel
from app.domain.decision import Decision, DecisionKind, DecisionStatus
from app.domain.execution import ExecutionMode
from app.domain.policy import ChannelPolicy, PolicySource
from app.domain.scoring import ScoreBreakdown
from app.domain.validation import ValidationResult, Verdict
from app.storage.fields import RecordId, UtcDatetime, new_id, utc_now


class NodeBackend(StrEnum):
    """Which client talks to the node."""

    LND = "lnd"
    LNBITS = "lnbits"


_VERDICT_STATUS = {
    Verdict.APPROVED: DecisionStatus.APPROVED,
    Verdict.REJECTED: DecisionStatus.REJECTED,
    Verdict.NEEDS_APPROVAL: DecisionStatus.NEEDS_APPROVAL,
    Verdict.NO_WRITE: DecisionStatus.NO_WRITE,
}


class TenantRecord(DomainModel):
    """An organisation whose nodes, keys and history are isolated from every other tenant."""

    id: RecordId = Field(default_factory=new_id)
    name: str = Field(min_length=1, max_length=200)
    created_at: UtcDatetime = Field(default_factory=utc_now)


class ApiKeyRecord(DomainModel):
    """An API key: only the SHA-256 of its secret is stored, plus a short prefix to recognise it by."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    role: ApiKeyRole
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)
    prefix: str = Field(min_length=1, max_length=8)
    name: str = Field(min_length=1, max_length=200)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    revoked_at: UtcDatetime | None = None

    @property
    def active(self) -> bool:
        """The key has not been revoked."""
        return self.revoked_at is None


class NodeRecord(DomainModel):
    """A Lightning node of a tenant: where it is, how to reach it, and its per-node overrides."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    name: str = Field(min_length=1, max_length=200)
    backend: NodeBackend
    url: str = Field(min_length=1)
    tls_cert_pem: str | None = Field(default=None, repr=False)
    credential_id: str = Field(min_length=1, description="vault record id: tenant/node/kind")
    created_at: UtcDatetime = Field(default_factory=utc_now)
    settings: dict[str, Any] = Field(
        default_factory=dict, description="mode, profile and limit overrides; validated by the API layer"
    )
    last_sync_at: UtcDatetime | None = Field(default=None, description="end of the last successful sync")
    last_error: str | None = Field(default=None, description="why the last sync failed; cleared by a success")
    last_error_at: UtcDatetime | None = None


CLEARABLE = frozenset({"tls_cert_pem", "last_sync_at", "last_error", "last_error_at"})


class NodeUpdate(DomainModel):
    """Fields of a node that may change; only the fields explicitly set are written."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1)
    tls_cert_pem: str | None = Field(default=None, repr=False)
    credential_id: str | None = Field(default=None, min_length=1)
    settings: dict[str, Any] | None = None
    last_sync_at: UtcDatetime | None = None
    last_error: str | None = None
    last_error_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        """Only the certificate and the sync status may be cleared; the rest can change but never become null."""
        cleared = [
            name for name in self.model_fields_set if name not in CLEARABLE and getattr(self, name) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(sorted(cleared))} cannot be null")
        return self


class ChannelSnapshotRecord(DomainModel):
    """One channel as observed at one moment, with its score when the cycle computed one."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    channel_id: ChannelId
    cycle_id: str | None = None
    taken_at: UtcDatetime = Field(default_factory=utc_now)
    channel: Channel
    score: ScoreBreakdown | None = None

    @model_validator(mode="after")
    def _same_channel(self) -> Self:
        """The snapshot's channel id is the channel's own."""
        if self.channel.chan_id != self.channel_id:
            raise ValueError("channel_id differs from channel.chan_id")
        return self


class PolicyRecord(DomainModel):
    """One entry of a channel's policy history."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    channel_id: ChannelId
    applied_at: UtcDatetime = Field(default_factory=utc_now)
    policy: ChannelPolicy
    source: PolicySource
    decision_id: str | None = None
    transaction_id: str | None = None
    actor: str | None = None
    previous: ChannelPolicy | None = Field(default=None, description="the policy before (external changes)")


class MetricPoint(DomainModel):
    """One sample of a per-node time series (expired by a TTL index)."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    name: str = Field(min_length=1, max_length=200)
    value: float
    labels: dict[str, str] = Field(default_factory=dict)


class DecisionRecord(DomainModel):
    """A decision of one cycle with its validation and where it stands in its life cycle."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    cycle_id: str = Field(min_length=1)
    chan_id: ChannelId
    kind: DecisionKind
    status: DecisionStatus
    mode: ExecutionMode = ExecutionMode.SHADOW
    created_at: UtcDatetime = Field(default_factory=utc_now)
    decision: Decision
    validation: ValidationResult | None = None
    decided_by: str | None = Field(default=None, description="API key id of the approve/reject")
    decided_at: UtcDatetime | None = None
    transaction_id: str | None = Field(default=None, description="the batch that wrote it, once live")

    @model_validator(mode="after")
    def _matches_decision(self) -> Self:
        """chan_id and kind are copies of the decision's, kept top-level so queries can filter on them."""
        if self.decision.chan_id != self.chan_id or self.decision.kind != self.kind:
            raise ValueError("chan_id/kind differ from the decision's")
        return self

    @classmethod
    def from_decision(
        cls,
        *,
        tenant_id: str,
        node_id: str,
        cycle_id: str,
        decision: Decision,
        validation: ValidationResult | None,
        mode: ExecutionMode = ExecutionMode.SHADOW,
        created_at: datetime | None = None,
    ) -> DecisionRecord:
        """A record whose status follows the validator's verdict (proposed when not validated)."""
        status = DecisionStatus.PROPOSED if validation is None else _VERDICT_STATUS[validation.verdict]
        return cls(
            tenant_id=tenant_id,
            node_id=node_id,
            cycle_id=cycle_id,
            chan_id=decision.chan_id,
            kind=decision.kind,
            status=status,
            mode=mode,
            created_at=created_at or utc_now(),
            decision=decision,
            validation=validation,
        )


class AuditRecord(DomainModel):
    """One audited action (a credential decryption, an approval, a key revocation); never a secret."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    at: UtcDatetime = Field(default_factory=utc_now)
    actor: str = Field(min_length=1)
    action: str = Field(min_length=1, description="e.g. vault.decrypt, decision.approve")
    outcome: str = Field(min_length=1)
    node_id: str | None = None
    target: str | None = None
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class LeaseRecord(DomainModel):
    """Who holds a named lease and until when."""

    name: str
    holder: str
    expires_at: UtcDatetime
