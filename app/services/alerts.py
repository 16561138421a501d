"""The alert hook: what is worth waking an operator for. Logged now; delivery (Telegram) comes later."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.storage.fields import utc_now

log = logging.getLogger("app.alerts")


@dataclass(frozen=True)
class Alert:
    """One event an operator should hear about (an automatic rollback, a demotion, a partial transaction)."""

    kind: str
    tenant_id: str
    node_id: str
    message: str
    at: datetime = field(default_factory=utc_now)


class AlertSink(Protocol):
    """Where alerts go."""

    async def send(self, alert: Alert) -> None:
        """Deliver (or queue) one alert; never raises."""


class LoggingAlertSink:
    """Writes each alert as a warning line, and keeps the most recent ones for inspection."""

    def __init__(self, keep: int = 1_000) -> None:
        self.recent: list[Alert] = []
        self._keep = keep

    async def send(self, alert: Alert) -> None:
        """Log the alert."""
        log.warning(
            "ALERT %s tenant=%s node=%s: %s", alert.kind, alert.tenant_id, alert.node_id, alert.message
        )
        self.recent = [*self.recent[-(self._keep - 1) :], alert]
