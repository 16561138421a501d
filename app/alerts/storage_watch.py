"""The storage-outage alert: when storage was unreachable (read-only mode) long enough, every tenant hears of it.

While storage is down nothing can be stored or read (the outbox and the tenants' chats live there), so the
alert goes out when storage is back, naming the outage's start, end and length; the platform operator's
real-time signal is the Prometheus rule MCPStorageReadOnly (config/prometheus/alerts.yml).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from app.alerts.model import Alert, AlertKind, AlertSink
from app.alerts.targets import TargetBook
from app.clock import Clock, system_clock
from app.resilience.modes import ServiceMode
from app.services.fleet import every_item
from app.storage.tenants import TenantRepository

log = logging.getLogger("app.alerts")
PAGE = 100


class StorageOutageWatch:
    """Follows the service mode; after a long enough read-only spell, alerts every tenant with a chat."""

    def __init__(
        self,
        mode: Callable[[], ServiceMode],
        tenants: TenantRepository,
        targets: TargetBook,
        alerts: AlertSink,
        after: timedelta,
        clock: Clock = system_clock,
    ) -> None:
        self.mode = mode
        self.tenants = tenants
        self.targets = targets
        self.alerts = alerts
        self.after = after
        self.clock = clock
        self.since: datetime | None = None

    async def check_once(self) -> list[str]:
        """Look at the mode now; when an outage long enough just ended, alert; returns the tenants alerted."""
        now = self.clock()
        if self.mode() is ServiceMode.READ_ONLY:
            self.since = self.since or now
            return []
        if self.since is None:
            return []
        started, self.since = self.since, None
        if now - started < self.after:
            return []
        minutes = (now - started).total_seconds() / 60
        message = (f"storage was unreachable from {started:%Y-%m-%d %H:%M} to {now:%H:%M} UTC ({minutes:.0f} min): "
                   "the service was read-only, every write and cycle was refused; it is back now")  # fmt: skip
        alerted: list[str] = []
        async for tenant in every_item(partial(self.tenants.list, limit=PAGE)):
            if await self.targets.exists(tenant.id):
                await self.alerts.send(
                    Alert(
                        kind=AlertKind.STORAGE_READ_ONLY,
                        tenant_id=tenant.id,
                        node_id="all",
                        message=message,
                        dedup_key=f"storage:{started.isoformat()}",
                    )
                )
                alerted.append(tenant.id)
        log.warning("storage outage of %.0f min ended; %d tenants alerted", minutes, len(alerted))
        return alerted
