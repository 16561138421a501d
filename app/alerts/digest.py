"""The daily digest: per node, what changed in the last 24 hours and what it earned, once a day per tenant.

It is enqueued at the tenant's digest hour (local to its quiet hours' time zone, else UTC) with the key
`digest:<local date>`, so several replicas or passes within a day still make one digest.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from app.alerts.model import Alert, AlertKind
from app.alerts.outbox import OutboxRepository
from app.alerts.targets import TargetBook
from app.clock import Clock, system_clock
from app.domain.execution import TransactionKind, TransactionState
from app.errors import DomainError
from app.nodes.base import NodeClient
from app.observability.metrics_alerts import ALERTS_RAISED
from app.services.fleet import every_item
from app.storage.database import Storage
from app.storage.records import NodeRecord

log = logging.getLogger("app.alerts")
DAY = timedelta(days=1)
PAGE = 100
ClientFor = Callable[[NodeRecord], Awaitable[NodeClient]]


class DailyDigest:
    """Enqueues each tenant's digest once a day at its digest hour."""

    def __init__(
        self,
        storage: Storage,
        outbox: OutboxRepository,
        targets: TargetBook,
        client_for: ClientFor,
        hour: int,
        clock: Clock = system_clock,
    ) -> None:
        self.storage = storage
        self.outbox = outbox
        self.targets = targets
        self.client_for = client_for
        self.hour = hour
        self.clock = clock
        self._not_before: dict[str, datetime] = {}

    async def run_once(self) -> list[str]:
        """Enqueue the digest of every tenant whose digest hour has come today; returns their ids."""
        now = self.clock()
        done: list[str] = []
        async for tenant_id, nodes in self._tenants():
            if now < self._not_before.get(tenant_id, now):
                continue  # spares opening (and auditing) the tenant's target every pass
            target = await self.targets.get(tenant_id, purpose="daily digest")
            if target is None:
                continue
            zone = ZoneInfo(target.quiet_hours.timezone if target.quiet_hours else "UTC")
            local = now.astimezone(zone)
            key = f"digest:{local.date().isoformat()}"
            if local.hour < self.hour:
                self._not_before[tenant_id] = local.replace(hour=self.hour, minute=0, second=0, microsecond=0)
                continue
            self._not_before[tenant_id] = now + timedelta(hours=12)  # today's is done, or about to be
            if await self.outbox.has_key(tenant_id, key):
                continue
            message = await self.summary(nodes, now)
            alert = Alert(kind=AlertKind.DIGEST_DAILY, tenant_id=tenant_id, node_id="all", message=message,
                          dedup_key=key)  # fmt: skip
            if await self.outbox.enqueue(alert, now, 2 * DAY) is not None:
                ALERTS_RAISED.labels(kind=alert.kind).inc()
                done.append(tenant_id)
        return done

    async def _tenants(self) -> AsyncIterator[tuple[str, list[NodeRecord]]]:
        """(tenant id, its nodes) for every tenant with at least one node."""
        async for tenant in every_item(partial(self.storage.tenants.list, limit=PAGE)):
            nodes = [n async for n in every_item(partial(self.storage.nodes.list, tenant.id, limit=PAGE))]
            if nodes:
                yield tenant.id, nodes

    async def summary(self, nodes: list[NodeRecord], now: datetime) -> str:
        """One paragraph per node: batches and channels changed, rollbacks, forwards and fees earned."""
        paragraphs = [f"Daily digest, {now - DAY:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"]
        for node in sorted(nodes, key=lambda n: n.name):
            paragraphs.append(f"{node.name}: " + await self._node_line(node, now))
        return "\n".join(paragraphs)

    async def _node_line(self, node: NodeRecord, now: datetime) -> str:
        batches = await self.storage.transactions.since(node.tenant_id, node.id, now - DAY)
        states = Counter((b.kind, b.state) for b in batches)
        applied = sum(b.counts.get("applied", 0) for b in batches if b.kind is TransactionKind.APPLY)
        committed = states[(TransactionKind.APPLY, TransactionState.COMMITTED)]
        rollbacks = sum(n for (kind, _), n in states.items() if kind is TransactionKind.ROLLBACK)
        partial = sum(n for (_, state), n in states.items() if state is TransactionState.PARTIAL)
        parts = [f"{committed} batches committed, {applied} channels changed, {rollbacks} rollbacks"]
        if partial:
            parts.append(f"{partial} partial")
        parts.append(await self._earnings(node, now))
        return "; ".join(parts)

    async def _earnings(self, node: NodeRecord, now: datetime) -> str:
        try:
            client = await self.client_for(node)
            if not client.capabilities.forwarding_history:
                return "earnings unknown (the backend has no forwarding history)"
            start = int((now - DAY).timestamp())
            events = await client.forwarding_history(start, int(now.timestamp()) + 1)
        except DomainError as exc:
            log.info("digest of node %s without earnings: %s", node.id, exc.message)
            return "earnings unavailable (the node did not answer)"
        fees_sat = sum(event.fee_msat for event in events) / 1_000
        return f"{len(events)} forwards earned {fees_sat:,.0f} sat"
