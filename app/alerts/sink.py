"""The AlertSink the service uses: every alert is logged and stored in the outbox, never sent inline.

Storing is what makes an alert survive Telegram being down; when storage itself is down the alert
waits in a bounded in-process buffer and is stored by the next delivery pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import timedelta

from app.alerts.model import Alert
from app.alerts.outbox import OutboxRepository
from app.clock import Clock, system_clock
from app.errors import StorageUnavailableError
from app.observability.metrics_alerts import ALERTS_RAISED

log = logging.getLogger("app.alerts")
BUFFER = 1_000  # alerts kept in memory while storage is down; the oldest go first past this


class OutboxAlertSink:
    """Logs each alert and puts it in the outbox (de-duplicated); never raises.

    An entry becomes due `group_wait` after it is stored, so the alerts of one incident (a rollback, then
    the demotion it causes) reach the chat as one message.
    """

    def __init__(
        self,
        outbox: OutboxRepository,
        dedup_window: timedelta,
        clock: Clock = system_clock,
        group_wait: timedelta = timedelta(0),
    ) -> None:
        self.outbox = outbox
        self.dedup_window = dedup_window
        self.group_wait = group_wait
        self.clock = clock
        self.buffer: deque[Alert] = deque(maxlen=BUFFER)
        self._lock = asyncio.Lock()

    async def send(self, alert: Alert) -> None:
        """Log the alert and store it; kept in memory when storage cannot take it now."""
        log.warning(
            "ALERT %s tenant=%s node=%s: %s", alert.kind, alert.tenant_id, alert.node_id, alert.message
        )
        ALERTS_RAISED.labels(kind=alert.kind).inc()
        try:
            await self.outbox.enqueue(alert, self.clock(), self.dedup_window, self.group_wait)
        except StorageUnavailableError:
            log.warning(
                "alert %s of tenant %s kept in memory until storage is back", alert.kind, alert.tenant_id
            )
            self.buffer.append(alert)
        except Exception:  # a sink never fails its caller (a rollback must not fail for an alert)
            log.exception("alert %s of tenant %s could not be stored", alert.kind, alert.tenant_id)
            self.buffer.append(alert)

    async def flush(self) -> int:
        """Store what waited in memory; returns how many were stored (stops at the first failure)."""
        stored = 0
        async with self._lock:
            while self.buffer:
                alert = self.buffer[0]
                try:
                    await self.outbox.enqueue(alert, self.clock(), self.dedup_window, self.group_wait)
                except StorageUnavailableError:
                    break
                self.buffer.popleft()
                stored += 1
        return stored
