"""What an alert is, how urgent each kind is, and the outbox entry that carries it until it is delivered."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from app.domain.base import DomainModel
from app.storage.fields import utc_now


class Severity(StrEnum):
    """How urgent an alert is; quiet hours hold everything below critical."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertKind(StrEnum):
    """The events worth an operator's attention."""

    ROLLBACK_AUTOMATIC = "rollback.automatic"
    TRANSACTION_PARTIAL = "transaction.partial"
    TRANSACTION_FAILED = "transaction.failed"
    NODE_UNREACHABLE = "node.unreachable"
    STORAGE_READ_ONLY = "storage.read_only"
    ROLLOUT_DEMOTED = "rollout.demoted"
    DIGEST_DAILY = "digest.daily"
    TEST = "test"


SEVERITY: dict[str, Severity] = {
    AlertKind.ROLLBACK_AUTOMATIC: Severity.CRITICAL,
    AlertKind.TRANSACTION_PARTIAL: Severity.CRITICAL,
    AlertKind.TRANSACTION_FAILED: Severity.CRITICAL,
    AlertKind.NODE_UNREACHABLE: Severity.CRITICAL,
    AlertKind.STORAGE_READ_ONLY: Severity.CRITICAL,
    AlertKind.ROLLOUT_DEMOTED: Severity.WARNING,
    AlertKind.DIGEST_DAILY: Severity.INFO,
    AlertKind.TEST: Severity.INFO,
}


# Kinds that describe a lasting condition rather than a one-off event: repeats within the window fold in.
CONDITIONS = frozenset({AlertKind.NODE_UNREACHABLE.value, AlertKind.STORAGE_READ_ONLY.value})


def severity_of(kind: str) -> Severity:
    """The severity of an alert kind (an unknown kind is a warning: worth reading, not waking for)."""
    return SEVERITY.get(kind, Severity.WARNING)


@dataclass(frozen=True)
class Alert:
    """One event an operator should hear about (an automatic rollback, a demotion, a partial transaction).

    `dedup_key` names what makes two alerts the same event; by default the kind and the node for a lasting
    condition, so a node that stays unreachable is one alert per de-duplication window, not one per check.
    """

    kind: str
    tenant_id: str
    node_id: str
    message: str
    at: datetime = field(default_factory=utc_now)
    dedup_key: str | None = None

    @property
    def key(self) -> str:
        """The de-duplication key: given, or kind and node (plus the message for an event, not a condition).

        A second rollback on the same node is news, not a repeat; a node still unreachable is a repeat.
        """
        if self.dedup_key:
            return self.dedup_key
        if self.kind in CONDITIONS:
            return f"{self.kind}:{self.node_id}"
        digest = hashlib.sha256(self.message.encode()).hexdigest()[:16]
        return f"{self.kind}:{self.node_id}:{digest}"


class AlertSink(Protocol):
    """Where alerts go."""

    async def send(self, alert: Alert) -> None:
        """Deliver (or queue) one alert; never raises."""


class OutboxState(StrEnum):
    """Where an outbox entry is: waiting, delivered, given up on, or without a configured chat."""

    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"
    UNROUTED = "unrouted"


class OutboxEntry(DomainModel):
    """One alert in the outbox; times are epoch milliseconds (nx-27017 compares dates only to the second)."""

    id: str
    tenant_id: str
    node_id: str
    kind: str
    severity: Severity
    message: str = Field(max_length=4_000)
    dedup_key: str
    state: OutboxState = OutboxState.PENDING
    created_ms: int
    next_attempt_ms: int
    attempts: int = 0
    repeats: int = Field(default=0, description="later alerts of the same event folded into this one")
    sent_ms: int | None = None
    delivery_id: str | None = Field(default=None, description="the message this entry went out in")
    chat_hash: str | None = Field(default=None, description="which chat it went to (a hash, not the id)")
    last_error: str | None = None
    version: int = 1
    created_at: datetime = Field(description="for the TTL index that forgets old entries")
