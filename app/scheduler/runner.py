"""Periodic cycles for every node in its own mode, single-flight per node across replicas.

A short "tick" lease per node keeps replicas from running the same node twice in one interval; the
node's own lease (app/services/locks.py) keeps any two writers apart. One node's failure of any kind,
a malformed node answer included, is logged, counted and isolated: the other nodes still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prometheus_client import Counter

from app.errors import DomainError
from app.observability.request_context import working_for
from app.services.actors import SCHEDULER_ACTOR
from app.services.cycles import CycleService
from app.services.fleet import every_node
from app.services.locks import NodeBusyError
from app.services.node_settings import parse_node_settings
from app.services.runtime import ServiceRuntime
from app.storage.records import NodeRecord

log = logging.getLogger(__name__)
NODE_FAILURES = Counter(
    "mcp_scheduled_cycle_failures_total", "Scheduled node cycles that failed, by error class", ["error"]
)


@dataclass
class TickReport:
    """What one pass over all nodes did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # another replica holds the node's lease
    unreachable: list[str] = field(default_factory=list)  # circuit open: nothing runs against the node
    failed: dict[str, str] = field(default_factory=dict)
    rollout: dict[str, str] = field(default_factory=dict)  # node id -> "promoted" or "demoted"


class CycleScheduler:
    """One per app instance; replicas share nothing but the database, where the leases live."""

    def __init__(self, runtime: ServiceRuntime, interval_s: float, jitter_s: float, lease_s: float) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self.lease_s = lease_s
        self.cycles = CycleService(runtime)

    async def tick(self) -> TickReport:
        """One pass: every node of every tenant, each under its leases."""
        report = TickReport()
        async for node in every_node(self.runtime.storage):
            with working_for(node.tenant_id):
                await self._run_one(node, report)
        log.info("scheduled cycles: %d ran, %d skipped, %d unreachable, %d failed", len(report.ran),
                 len(report.skipped), len(report.unreachable), len(report.failed))  # fmt: skip
        return report

    async def _run_one(self, node: NodeRecord, report: TickReport) -> None:
        runtime = self.runtime
        if runtime.clients.unreachable(node.id):  # NODE_UNREACHABLE: wait for the circuit's probe
            report.unreachable.append(node.id)
            return
        # Kept until it expires: a replica ticking moments later must not run the node again this interval.
        if not await runtime.storage.leases.acquire(
            f"tick/{node.tenant_id}/{node.id}", runtime.instance_id, self.lease_s
        ):
            report.skipped.append(node.id)
            return
        try:
            await self.cycles.optimize(node, None, actor=SCHEDULER_ACTOR)
            report.ran.append(node.id)
            settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
            client = await runtime.clients.get(node, SCHEDULER_ACTOR)
            moved = await self.cycles.rollouts.enforce(node, client, settings.auto_promote, SCHEDULER_ACTOR)
            if moved:
                report.rollout[node.id] = moved
        except NodeBusyError:
            report.skipped.append(node.id)
        except DomainError as exc:
            NODE_FAILURES.labels(type(exc).__name__).inc()
            report.failed[node.id] = exc.message
            log.warning("scheduled cycle for node %s failed: %s", node.id, exc.message)
        except Exception as exc:  # a bug or a malformed answer: this node only, the others go on
            NODE_FAILURES.labels(type(exc).__name__).inc()
            report.failed[node.id] = f"internal error ({type(exc).__name__})"
            log.exception("scheduled cycle for node %s failed unexpectedly", node.id)
