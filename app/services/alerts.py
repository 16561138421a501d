"""The alert hook services call: an Alert goes to the runtime's sink (the outbox of app/alerts/ in the service).

`LoggingAlertSink` only logs and remembers; it is the default of a bare runtime (tests, tools) where
nothing delivers.
"""

from __future__ import annotations

import logging

from app.alerts.model import Alert, AlertSink

__all__ = ["Alert", "AlertSink", "LoggingAlertSink"]
log = logging.getLogger("app.alerts")


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
