"""Watch nodes after live batches and roll a batch back automatically when the node's health degrades.

Every check probes each node's API (latency and errors become the node's own baseline) and judges every
committed live or canary batch still inside the watch window with app/policy/health.py. A rollback is a
journaled transaction by the actor `health-watch`, followed by a demotion of the node's rollout stage
and an alert, each with the reasons.
"""

from __future__ import annotations

import logging
import statistics
import time
from datetime import datetime, timedelta

from app.alerts.triggers import alert_if_unreachable
from app.domain.execution import ChannelOutcome, ExecutionMode, TransactionKind, TransactionState
from app.errors import ConflictError, DomainError, UpstreamError
from app.nodes.base import NodeClient
from app.observability.request_context import working_for
from app.policy.health import HealthEvidence, HealthThresholds, rollback_reasons
from app.policy.rollout import FlowComparison
from app.services.actors import HEALTH_ACTOR
from app.services.alerts import Alert
from app.services.fleet import every_node
from app.services.locks import NodeBusyError
from app.services.rollbacks import RollbackService
from app.services.rollout import RolloutService
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import TransactionRecord
from app.storage.records import MetricPoint, NodeRecord

log = logging.getLogger(__name__)
PROBE_METRIC = "health.probe_ms"
BASELINE = timedelta(hours=24)
FLOW_BASELINE_DAYS = 7
MAX_PROBES = 10_000


class HealthWatch:
    """Probes nodes and rolls back batches that made them worse."""

    def __init__(self, runtime: ServiceRuntime, rollouts: RolloutService, rollbacks: RollbackService) -> None:
        self.runtime = runtime
        self.rollouts = rollouts
        self.rollbacks = rollbacks
        settings = runtime.settings
        self.thresholds = HealthThresholds(
            error_rate=settings.rollback_error_rate,
            latency_factor=settings.rollback_latency_factor,
            min_samples=settings.rollback_min_samples,
            flow_factor=settings.rollback_revenue_factor,
            min_forwards=settings.rollback_min_forwards,
        )
        self.watch = timedelta(hours=settings.rollback_watch_hours)

    async def check_once(self) -> dict[str, list[str]]:
        """Probe every node and judge its watched batches; returns the rollbacks made, by node id."""
        actions: dict[str, list[str]] = {}
        async for node in every_node(self.runtime.storage):
            with working_for(node.tenant_id):
                try:
                    done = await self.check_node(node)
                except DomainError as exc:
                    log.warning("health check of node %s failed: %s", node.id, exc.message)
                    continue
            if done:
                actions[node.id] = done
        return actions

    async def check_node(self, node: NodeRecord) -> list[str]:
        """Probe the node, then roll back each watched batch whose evidence says so; returns rollback ids."""
        runtime = self.runtime
        now = runtime.clock()
        client = await runtime.clients.get(node, HEALTH_ACTOR)
        await self.probe(node, client, now)
        await alert_if_unreachable(runtime.storage.metrics, PROBE_METRIC, runtime.alerts, node, now,
                                   runtime.settings.node_unreachable_alert_s)  # fmt: skip
        rolled: list[str] = []
        reasons_seen: list[str] = []
        for transaction in await self.watched(node, now):
            reasons = rollback_reasons(await self.evidence(node, client, transaction, now), self.thresholds)
            if not reasons:
                continue
            why = "automatic rollback: " + "; ".join(reasons)
            try:
                summary = await self.rollbacks.rollback_transaction(node, transaction.id, HEALTH_ACTOR, why)
            except NodeBusyError:
                log.info("automatic rollback of %s waits: the node is busy; next check", transaction.id)
                continue
            except ConflictError as exc:  # nothing of it is applied any more
                summary = {"transaction_id": None, "skipped": {"*": exc.message}}
            if summary["transaction_id"] is None:
                # Every channel was already back, changed since, or gone: nothing to undo, stop watching it.
                log.info("automatic rollback of %s not needed: %s", transaction.id, summary["skipped"])
                await runtime.storage.transactions.update(transaction, now, watch_done=True)
                continue
            rolled.append(str(summary["transaction_id"]))
            reasons_seen.append(
                f"transaction {transaction.id} rolled back by {summary['transaction_id']}: {why}"
            )
        if rolled:
            message = " | ".join(reasons_seen)
            await runtime.alerts.send(
                Alert(kind="rollback.automatic", tenant_id=node.tenant_id, node_id=node.id, message=message)
            )
            # One step back per incident, however many batches it rolled back.
            await self.rollouts.demote(node, HEALTH_ACTOR, message[:500])
        return rolled

    async def probe(self, node: NodeRecord, client: NodeClient, now: datetime) -> None:
        """Time one cheap call to the node and keep it as a health sample."""
        started = time.perf_counter()
        try:
            await client.get_info()
            ok = True
        except UpstreamError:
            ok = False
        elapsed_ms = (time.perf_counter() - started) * 1_000
        point = MetricPoint(
            tenant_id=node.tenant_id,
            node_id=node.id,
            timestamp=now,
            name=PROBE_METRIC,
            value=elapsed_ms,
            labels={"ok": "1" if ok else "0"},
        )
        await self.runtime.storage.metrics.record([point])

    async def watched(self, node: NodeRecord, now: datetime) -> list[TransactionRecord]:
        """Committed live or canary batches inside the watch window that no rollback has undone."""
        recent = await self.runtime.storage.transactions.since(node.tenant_id, node.id, now - self.watch)
        return [
            t
            for t in recent
            if t.kind is TransactionKind.APPLY
            and t.state is TransactionState.COMMITTED
            and t.mode in (ExecutionMode.LIVE, ExecutionMode.CANARY)
            and not t.rolled_back_by
            and not t.watch_done
        ]

    async def evidence(
        self, node: NodeRecord, client: NodeClient, transaction: TransactionRecord, now: datetime
    ) -> HealthEvidence:
        """Probe samples and flow on the batch's applied channels, before and since the batch."""
        metrics = self.runtime.storage.metrics
        split = transaction.created_at
        after = await metrics.series(
            node.tenant_id,
            node.id,
            PROBE_METRIC,
            since=split,
            until=now + timedelta(seconds=1),
            limit=MAX_PROBES,
        )
        before = await metrics.series(
            node.tenant_id, node.id, PROBE_METRIC, since=split - BASELINE, until=split, limit=MAX_PROBES
        )
        flow = None
        if client.capabilities.forwarding_history:
            entries = await self.runtime.storage.journal.for_transaction(node.tenant_id, transaction.id)
            channels = {entry.chan_id for entry in entries if entry.outcome is ChannelOutcome.APPLIED}
            flow = await self._flow(client, channels, split, now)
        return HealthEvidence(
            samples_after=len(after),
            errors_after=sum(1 for point in after if point.labels.get("ok") != "1"),
            latency_after_ms=_median_ok(after),
            samples_before=sum(1 for point in before if point.labels.get("ok") == "1"),
            latency_before_ms=_median_ok(before),
            flow=flow,
        )

    @staticmethod
    async def _flow(client: NodeClient, channels: set[str], split: datetime, now: datetime) -> FlowComparison:
        start = split - timedelta(days=FLOW_BASELINE_DAYS)
        events = await client.forwarding_history(int(start.timestamp()), int(now.timestamp()) + 1)
        split_ns = int(split.timestamp() * 1e9)
        mine = [event for event in events if event.chan_id_out in channels]
        before = [event for event in mine if event.timestamp_ns < split_ns]
        after = [event for event in mine if event.timestamp_ns >= split_ns]
        return FlowComparison(
            baseline_days=FLOW_BASELINE_DAYS,
            elapsed_days=max(0.0, (now - split).total_seconds() / 86_400),
            revenue_before_msat=sum(event.fee_msat for event in before),
            revenue_after_msat=sum(event.fee_msat for event in after),
            forwards_before=len(before),
            forwards_after=len(after),
        )


def _median_ok(points: list[MetricPoint]) -> float | None:
    values = [point.value for point in points if point.labels.get("ok") == "1"]
    return statistics.median(values) if values else None
