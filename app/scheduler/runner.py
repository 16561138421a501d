"""Run a shadow cycle for every registered node periodically; a lease makes each node single-flight."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from app.domain.execution import ExecutionMode
from app.errors import DomainError
from app.services.cycles import CycleService
from app.services.runtime import ServiceRuntime
from app.storage.paging import Page
from app.storage.records import NodeRecord

log = logging.getLogger(__name__)
SCHEDULER_ACTOR = "scheduler"
T = TypeVar("T")


@dataclass
class TickReport:
    """What one pass over all nodes did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # another replica holds the node's lease
    unreachable: list[str] = field(default_factory=list)  # circuit open: nothing runs against the node
    failed: dict[str, str] = field(default_factory=dict)


class CycleScheduler:
    """One per app instance; replicas share nothing but the database, where the leases live."""

    def __init__(self, runtime: ServiceRuntime, interval_s: float, jitter_s: float, lease_s: float) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self.lease_s = lease_s
        self.cycles = CycleService(runtime)

    async def run_forever(self) -> None:
        """Tick, then sleep the interval plus jitter (so replicas and nodes do not fire in lockstep)."""
        while True:
            await asyncio.sleep(self.interval_s + random.uniform(0, self.jitter_s))
            try:
                report = await self.tick()
                log.info("scheduled cycles: %d ran, %d skipped, %d unreachable, %d failed", len(report.ran),
                         len(report.skipped), len(report.unreachable), len(report.failed))  # fmt: skip
            except DomainError as exc:  # storage down: try again next interval
                log.warning("scheduled pass skipped: %s", exc.message)

    async def tick(self) -> TickReport:
        """One pass: every node of every tenant, each under its lease."""
        report = TickReport()
        async for node in self._nodes():
            await self._run_one(node, report)
        return report

    async def _nodes(self) -> AsyncIterator[NodeRecord]:
        """Every node of every tenant, page by page."""
        storage = self.runtime.storage
        async for tenant in every_item(partial(storage.tenants.list, limit=100)):
            async for node in every_item(partial(storage.nodes.list, tenant.id, limit=100)):
                yield node

    async def _run_one(self, node: NodeRecord, report: TickReport) -> None:
        if self.runtime.clients.unreachable(node.id):  # NODE_UNREACHABLE: wait for the circuit's probe
            report.unreachable.append(node.id)
            return
        leases = self.runtime.storage.leases
        name = f"cycle/{node.tenant_id}/{node.id}"
        holder = self.runtime.instance_id
        if not await leases.acquire(name, holder, self.lease_s):
            report.skipped.append(node.id)
            return
        try:
            await self.cycles.optimize(node, ExecutionMode.SHADOW, actor=SCHEDULER_ACTOR)
            report.ran.append(node.id)
        except DomainError as exc:  # one sick node must not stop the others
            report.failed[node.id] = exc.message
            log.warning("scheduled cycle for node %s failed: %s", node.id, exc.message)
        # The lease is kept until it expires: a replica ticking moments later must not run the node again.


async def every_item(fetch: Callable[..., Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of a listing paged by `cursor=`, fetching the next page only when needed."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor=cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
