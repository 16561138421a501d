"""Job records: one per background sync or optimize, written by the process running it, read by any replica."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field
from pymongo import DESCENDING

from app.domain.base import DomainModel
from app.domain.jobs import JobKind, JobState
from app.errors import NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.fields import RecordId, UtcDatetime, new_id, utc_now

JOBS_TTL = timedelta(days=7)  # a job is polled for minutes; a week keeps it for a post-mortem


class JobRecord(DomainModel):
    """A job, its progress and, once final, its result or error (the API's error body)."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    kind: JobKind
    state: JobState = JobState.RUNNING
    actor: str
    instance_id: str
    created_at: UtcDatetime = Field(default_factory=utc_now)
    heartbeat_ms: int = Field(ge=0, description="when the running process last wrote (epoch ms)")
    progress: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def _job(document: Document) -> JobRecord:
    return from_document(JobRecord, document)


class JobRepository(Repository):
    """Jobs by tenant; only the process that runs a job writes it."""

    collection_name = CollectionName.JOBS

    @translate_errors
    async def add(self, job: JobRecord) -> None:
        """Store a new job."""
        await self._collection.insert_one(to_document(job, time_field="created_at"))

    @translate_errors
    async def save(self, record: JobRecord) -> None:
        """Write the job's current state (whole document: see Repository for why not `$set`)."""
        await self._collection.replace_one(
            scoped(record.tenant_id, _id=record.id), to_document(record, time_field="created_at")
        )

    @translate_errors
    async def get(self, tenant_id: str, job_id: str) -> JobRecord:
        """One job of the tenant."""
        return await self._get_or_raise(
            scoped(tenant_id, _id=job_id), _job, NotFoundError(f"job {job_id} not found", {"job_id": job_id})
        )

    @translate_errors
    async def for_node(self, tenant_id: str, node_id: str, limit: int = 20) -> list[JobRecord]:
        """The node's latest jobs, newest first."""
        cursor = self._collection.find(scoped(tenant_id, node_id=node_id)).sort(PAGE_KEY, DESCENDING)
        return [_job(document) for document in await cursor.limit(limit).to_list()]
