"""Single flight per node: every cycle, batch, rollback and recovery of a node runs under its lease.

The lease lives in MongoDB, so replicas exclude each other too. While held it is renewed in the
background every third of its lifetime; if a renewal fails the holder learns it through `held()` and
stops writing (the executor asks before each chunk), so two processes never drive one node at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

from app.errors import ConflictError, DomainError
from app.observability.metrics_runtime import LEASES_BUSY, lease_held
from app.storage.leases import LeaseRepository

log = logging.getLogger(__name__)


class NodeBusyError(ConflictError):
    """Another cycle, batch or rollback of this node is running (here or on another replica)."""

    code = "node_busy"


def lease_name(tenant_id: str, node_id: str) -> str:
    """The lease every writer of a node takes."""
    return f"node/{tenant_id}/{node_id}"


class NodeLock:
    """A held node lease, renewed in the background until released."""

    def __init__(self, leases: LeaseRepository, name: str, holder: str, ttl_s: float) -> None:
        self._leases = leases
        self.name = name
        self.holder = holder
        self._ttl_s = ttl_s
        self._lost = False
        self._renewed_at = time.monotonic()  # the lease was just acquired
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin renewing."""
        self._task = asyncio.create_task(self._renew_forever(), name=f"renew {self.name}")

    async def held(self) -> bool:
        """Whether the lease is still ours: no renewal failed, and the last one has not run out.

        The second test matters when the event loop was blocked longer than the lease: it may then have
        expired, and been taken by another replica, before the renewal task got a chance to notice.
        """
        return not self._lost and time.monotonic() - self._renewed_at < self._ttl_s

    async def _renew_forever(self) -> None:
        while not self._lost:
            await asyncio.sleep(self._ttl_s / 3)
            started = time.monotonic()
            try:
                renewed = await self._leases.renew(self.name, self.holder, self._ttl_s)
            except Exception as exc:  # storage down, or a bug: we cannot prove we still hold it
                self._lost = True
                log.error("could not renew lease %s (%s); writing stops", self.name, type(exc).__name__)
                return
            if not renewed:
                self._lost = True
                log.error("lost lease %s; writing stops", self.name)
                return
            self._renewed_at = started

    async def release(self) -> None:
        """Stop renewing and give the lease up (if it is still ours)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self._lost:
            with contextlib.suppress(DomainError):
                await self._leases.release(self.name, self.holder)


class NodeLocks:
    """Hands out node leases for one service instance."""

    def __init__(self, leases: LeaseRepository, instance_id: str, ttl_s: float) -> None:
        self._leases = leases
        self._instance_id = instance_id
        self.ttl_s = ttl_s

    @contextlib.asynccontextmanager
    async def hold(self, tenant_id: str, node_id: str, purpose: str) -> AsyncIterator[NodeLock]:
        """Run the block as the node's only writer; NodeBusyError (409) when someone else is."""
        name = lease_name(tenant_id, node_id)
        holder = f"{self._instance_id}/{purpose}/{uuid.uuid4().hex[:8]}"
        if not await self._leases.acquire(name, holder, self.ttl_s):
            LEASES_BUSY.labels(purpose).inc()
            current = await self._leases.get(name)
            doing = current.holder.split("/")[1] if current and current.holder.count("/") >= 1 else "work"
            raise NodeBusyError(
                f"node {node_id} is busy ({doing} in progress); try again when it has finished",
                {"node_id": node_id, "busy_with": doing},
            )
        lock = NodeLock(self._leases, name, holder, self.ttl_s)
        lock.start()
        try:
            with lease_held(purpose):
                yield lock
        finally:
            await lock.release()
