"""Backups on a schedule: a full backup of every node once per interval, then export and retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from app.domain.channel import ChannelRef
from app.errors import DomainError
from app.observability.request_context import working_for
from app.policy.backups import BackupStore, RetentionReport
from app.services.actors import MAINTENANCE_ACTOR
from app.services.fleet import every_node
from app.services.history import SYNC_METRIC
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import BackupKind, BackupRecord
from app.storage.records import NodeRecord

log = logging.getLogger(__name__)


@dataclass
class MaintenanceReport:
    """What one maintenance pass did."""

    backed_up: list[str] = field(default_factory=list)  # node ids
    failed: dict[str, str] = field(default_factory=dict)
    retention: RetentionReport | None = None


class BackupMaintenance:
    """Daily full backups, export to cold files and retention of both."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.store = BackupStore.from_settings(runtime.storage.backups, runtime.settings, runtime.clock)

    async def run_once(self) -> MaintenanceReport:
        """Back up every node that is due, then export and expire."""
        report = MaintenanceReport()
        interval = timedelta(hours=self.runtime.settings.backup_interval_hours)
        async for node in every_node(self.runtime.storage):
            with working_for(node.tenant_id):
                await self._back_up_if_due(node, interval, report)
        report.retention = await self.store.enforce_retention()
        return report

    async def _back_up_if_due(self, node: NodeRecord, interval: timedelta, report: MaintenanceReport) -> None:
        """A daily backup of the node when its last one is older than the interval; a failure is reported."""
        try:
            latest = await self.runtime.storage.backups.latest(node.tenant_id, node.id, BackupKind.DAILY)
            if latest is not None and self.runtime.clock() - latest.created_at < interval:
                return
            if await self.full_backup(node, BackupKind.DAILY) is not None:
                report.backed_up.append(node.id)
        except DomainError as exc:
            report.failed[node.id] = exc.message
            log.warning("backup of node %s failed: %s", node.id, exc.message)

    async def full_backup(
        self, node: NodeRecord, kind: BackupKind, actor: str = MAINTENANCE_ACTOR
    ) -> BackupRecord | None:
        """Every channel of the last sync, its policy read fresh from the node; None before the first sync."""
        storage = self.runtime.storage
        last = await storage.metrics.latest(node.tenant_id, node.id, SYNC_METRIC)
        if last is None:
            return None
        snapshots = await storage.channels.for_cycle(node.tenant_id, node.id, last.labels.get("cycle_id", ""))
        channels = [
            ChannelRef(chan_id=s.channel.chan_id, channel_point=s.channel.channel_point) for s in snapshots
        ]
        client = await self.runtime.clients.get(node, actor)
        readings = await client.read_policies(channels)
        return await self.store.take(node.tenant_id, node.id, kind, channels, readings)
