"""Request and response bodies of the REST API (never a credential in a response)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from app.domain.access import ApiKeyRole
from app.domain.base import Name
from app.domain.decision import DecisionKind, DecisionStatus
from app.domain.execution import ExecutionMode
from app.domain.policy import ChannelPolicy
from app.domain.validation import ValidationResult
from app.resilience.circuit import CircuitState
from app.storage.records import ApiKeyRecord, NodeRecord, TenantRecord

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message safe to show, and structured details."""

    code: str
    message: str
    details: dict[str, Any] | list[Any]


class ErrorOut(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "the body is not valid JSON"),
        (401, "missing, unknown or revoked API key"),
        (403, "the key's role or kind may not do this"),
        (404, "no such resource in the caller's tenant"),
        (409, "the resource changed or already exists"),
        (422, "the request is invalid; `details` names each problem"),
        (429, "this key's rate limit; see Retry-After"),
        (503, "storage or the node is unavailable (read-only or degraded)"),
    )
}


class PageOut(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


class TenantIn(Strict):
    """A new tenant."""

    name: Name


class TenantOut(BaseModel):
    """A tenant."""

    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, record: TenantRecord) -> TenantOut:
        """From the stored record."""
        return cls(id=record.id, name=record.name, created_at=record.created_at)


class TenantDeletedOut(BaseModel):
    """What deleting a tenant removed; its decisions, transactions and audit trail stay as history."""

    keys_revoked: int
    nodes_removed: int


class KeyIn(Strict):
    """A new API key of a tenant."""

    name: Name
    role: ApiKeyRole


class KeyOut(BaseModel):
    """An API key as listed: never its secret or hash."""

    id: str
    tenant_id: str
    name: str
    role: ApiKeyRole
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyOut:
        """From the stored record."""
        return cls(
            id=record.id, tenant_id=record.tenant_id, name=record.name, role=record.role,
            prefix=record.prefix, created_at=record.created_at, revoked_at=record.revoked_at,
        )  # fmt: skip


class IssuedKeyOut(KeyOut):
    """A freshly issued key: the secret is shown this once and never again."""

    key: str


class NodeOut(BaseModel):
    """A registered node: where it is, never how to authenticate to it."""

    id: str
    name: str
    backend: str
    url: str
    tls_cert_pinned: bool
    created_at: datetime
    settings: dict[str, Any]
    last_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def of(cls, record: NodeRecord) -> NodeOut:
        """From the stored record."""
        return cls(
            id=record.id, name=record.name, backend=record.backend.value, url=record.url,
            tls_cert_pinned=record.tls_cert_pem is not None, created_at=record.created_at, settings=record.settings,
            last_sync_at=record.last_sync_at, last_error=record.last_error, last_error_at=record.last_error_at,
        )  # fmt: skip


class NodeHealthOut(BaseModel):
    """A node's circuit breaker (null before the first call since start-up) and its last sync."""

    node_id: str
    circuit: CircuitState | None
    last_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def of(cls, record: NodeRecord, circuit: CircuitState | None) -> NodeHealthOut:
        """From the record and the live client's breaker."""
        return cls(
            node_id=record.id, circuit=circuit, last_sync_at=record.last_sync_at, last_error=record.last_error,
            last_error_at=record.last_error_at,
        )  # fmt: skip


class RegisteredNodeOut(BaseModel):
    """A node just registered, with warnings about its credential (e.g. an admin macaroon)."""

    node: NodeOut
    warnings: list[str]


class ListedDecisionBrief(BaseModel):
    """A decision as a list shows it: everything but the score breakdown."""

    chan_id: str
    kind: DecisionKind
    current_policy: ChannelPolicy
    proposed_policy: ChannelPolicy
    confidence: float
    total_score: float
    reasons: list[str]
    changed_fields: list[str]


class ListedDecisionOut(BaseModel):
    """One decision in a list; GET /api/v1/decisions/{id} gives it with its score breakdown."""

    id: str
    tenant_id: str
    node_id: str
    cycle_id: str
    chan_id: str
    kind: DecisionKind
    status: DecisionStatus
    mode: ExecutionMode
    created_at: datetime
    decision: ListedDecisionBrief
    validation: ValidationResult | None
    decided_by: str | None
    decided_at: datetime | None
    transaction_id: str | None


class OptimizeIn(Strict):
    """How to run a cycle; without a mode, the node's own (stepped down to what its rollout stage allows)."""

    mode: ExecutionMode | None = None


class PeerOut(BaseModel):
    """The remote end of a channel."""

    pubkey: str
    alias: str


class ChannelScoreOut(BaseModel):
    """A channel's latest score: total, the weight of known heuristics, and each heuristic's value."""

    total: float
    known_weight: float
    scores: dict[str, float | None]


class ChannelOut(BaseModel):
    """One channel with its current policy and latest score."""

    chan_id: str
    scid: str
    channel_point: str
    peer: PeerOut
    capacity_sat: int
    local_balance_sat: int
    remote_balance_sat: int
    local_ratio: float
    active: bool
    policy: ChannelPolicy
    score: ChannelScoreOut | None


class ChannelPageOut(PageOut[ChannelOut]):
    """One page of a node's channels from the sync cycle `cycle_id` (null before the first sync)."""

    cycle_id: str | None
