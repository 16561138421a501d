"""Run long work (sync, optimize) as a job: the request waits up to a deadline, then the client polls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.clock import Clock
from app.domain.jobs import JobKind, JobState
from app.errors import DomainError
from app.observability.metrics_runtime import JOBS
from app.observability.progress import Progress, track
from app.storage.database import Storage
from app.storage.fields import epoch_ms
from app.storage.jobs import JobRecord
from app.storage.records import NodeRecord

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[dict[str, Any]]]
# A running job whose process has not written for this many heartbeats is reported as interrupted.
STALE_HEARTBEATS = 10


class JobRunner:
    """Starts jobs as tasks of this process, keeps their records current, and interrupts them at shutdown."""

    def __init__(self, storage: Storage, clock: Clock, instance_id: str, heartbeat_s: float = 2.0) -> None:
        self._storage = storage
        self._clock = clock
        self._instance_id = instance_id
        self.heartbeat_s = heartbeat_s
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._keepers: set[asyncio.Task[None]] = set()

    async def start(self, node: NodeRecord, kind: JobKind, actor: str, work: Work) -> JobRecord:
        """Store the job and start its work; the work outlives the request that started it."""
        job = JobRecord(
            tenant_id=node.tenant_id,
            node_id=node.id,
            kind=kind,
            actor=actor,
            instance_id=self._instance_id,
            created_at=self._clock(),
            heartbeat_ms=epoch_ms(self._clock()),
            progress=Progress().as_dict(),
        )
        await self._storage.jobs.add(job)
        progress = Progress()

        async def run() -> dict[str, Any]:
            track(progress)  # this task's context only
            return await work()

        task = asyncio.create_task(run(), name=f"job-{job.id}")
        self._tasks[job.id] = task
        keeper = asyncio.create_task(self._keep(job, task, progress), name=f"job-keeper-{job.id}")
        self._keepers.add(keeper)
        keeper.add_done_callback(self._keepers.discard)
        return job

    async def wait(self, job_id: str, timeout_s: float) -> asyncio.Task[dict[str, Any]] | None:
        """The job's finished task within `timeout_s`, else None (it keeps running)."""
        task = self._tasks.get(job_id)
        if task is None:
            return None
        if timeout_s > 0 and not task.done():
            await asyncio.wait({task}, timeout=timeout_s)
        return task if task.done() else None

    async def _keep(self, job: JobRecord, task: asyncio.Task[dict[str, Any]], progress: Progress) -> None:
        """Write progress and a heartbeat while the work runs, then its result or error."""
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self.heartbeat_s)
                if task.done():
                    break
                job = await self._save(job, progress=progress.as_dict())
            if task.cancelled():
                job = await self._save(job, state=JobState.INTERRUPTED, progress=progress.as_dict())
            elif (error := task.exception()) is not None:
                job = await self._save(
                    job, state=JobState.FAILED, progress=progress.as_dict(), error=_error(error)
                )
            else:
                job = await self._save(
                    job, state=JobState.SUCCEEDED, progress=progress.as_dict(), result=task.result()
                )
        except DomainError as exc:  # storage down: the record stays running and goes stale, not lost silently
            log.warning("job %s could not be recorded (%s)", job.id, exc.code)
        finally:
            JOBS.labels(job.kind.value, job.state.value).inc()
            self._tasks.pop(job.id, None)

    async def _save(self, job: JobRecord, **changes: Any) -> JobRecord:
        updated = job.model_copy(update={**changes, "heartbeat_ms": epoch_ms(self._clock())})
        await self._storage.jobs.save(updated)
        return updated

    def view(self, job: JobRecord) -> dict[str, Any]:
        """The job as the API shows it: a running job whose process went silent is interrupted."""
        body = job.model_dump(mode="json", exclude={"instance_id", "heartbeat_ms"})
        silent_ms = epoch_ms(self._clock()) - job.heartbeat_ms
        if job.state is JobState.RUNNING and silent_ms > STALE_HEARTBEATS * self.heartbeat_s * 1000:
            body["state"] = JobState.INTERRUPTED.value
        return body

    async def close(self) -> None:
        """Cancel every running job; their keepers record them as interrupted."""
        for task in list(self._tasks.values()):
            task.cancel()
        keepers = list(self._keepers)
        if keepers:
            with contextlib.suppress(Exception):
                await asyncio.wait(keepers, timeout=5.0)


def _error(error: BaseException) -> dict[str, Any]:
    """A failure as the API's error body; anything but a domain error is ours and shown without detail."""
    if isinstance(error, DomainError):
        return {"code": error.code, "message": error.message, "details": error.details}
    log.error("job failed with an internal error", exc_info=error)
    return {"code": "internal_error", "message": "internal error; see the service log", "details": {}}
