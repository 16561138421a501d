"""Audit trail of secret decryptions: who, when, why and the outcome; never the secret itself."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import Field

from app.domain.base import DomainModel

AUDIT_LOGGER = "app.audit"


class AuditOutcome(StrEnum):
    """What happened to one decryption request."""

    DECRYPTED = "decrypted"
    CONTEXT_MISMATCH = "context_mismatch"
    KEY_NOT_LOADED = "key_not_loaded"
    AUTHENTICATION_FAILED = "authentication_failed"
    MALFORMED = "malformed"


class AuditEvent(DomainModel):
    """One decryption attempt; carries identifiers only, never plaintext, ciphertext or key material."""

    actor: str = Field(min_length=1, description="who asked: a service component or an operator")
    purpose: str = Field(min_length=1, description="why the secret was needed")
    tenant_id: str
    node_id: str
    kind: str = Field(description="credential kind, e.g. lnd_macaroon")
    key_id: str = Field(description="id of the master key the record is sealed under")
    outcome: AuditOutcome
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def succeeded(self) -> bool:
        """The secret was released to the actor."""
        return self.outcome is AuditOutcome.DECRYPTED


class AuditSink(Protocol):
    """Where audit events go; the vault awaits `record` before it releases any plaintext."""

    async def record(self, event: AuditEvent) -> None:
        """Persist one event; raising makes the decryption fail closed."""
        ...


class LoggingAuditSink:
    """One structured line per event on the `app.audit` logger (INFO on success, WARNING on failure)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(AUDIT_LOGGER)

    async def record(self, event: AuditEvent) -> None:
        """Log the event as key=value pairs, with the fields also attached as `extra["audit"]`."""
        level = logging.INFO if event.succeeded else logging.WARNING
        self._log.log(
            level,
            "vault decrypt outcome=%s actor=%s purpose=%r tenant=%s node=%s kind=%s key_id=%s at=%s",
            event.outcome.value,
            event.actor,
            event.purpose,
            event.tenant_id,
            event.node_id,
            event.kind,
            event.key_id,
            event.at.isoformat(),
            extra={"audit": event.model_dump(mode="json")},
        )

    def __repr__(self) -> str:
        return f"LoggingAuditSink(logger={self._log.name!r})"


class JsonLinesAuditSink:
    """Appends one JSON object per event to a file created with mode 0600 (for CLI runs without a log pipeline)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def record(self, event: AuditEvent) -> None:
        """Append and fsync the event, off the event loop."""
        await asyncio.to_thread(self._append, event.model_dump_json().encode("utf-8") + b"\n")

    def _append(self, line: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"JsonLinesAuditSink(path={str(self.path)!r})"


class MemoryAuditSink:
    """Keeps every event in a list, in order (tests and short-lived tools)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        """Append the event."""
        self.events.append(event)

    def outcomes(self) -> list[AuditOutcome]:
        """Outcome of every recorded event, in order."""
        return [event.outcome for event in self.events]

    def __repr__(self) -> str:
        return f"MemoryAuditSink(events={len(self.events)})"
