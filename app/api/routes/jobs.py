"""Background jobs of syncs and optimizes: the answer within the deadline, else a job to poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import CurrentPrincipal, Runtime, ViewedNode
from app.domain.access import ApiKeyRole
from app.services.runtime import ServiceRuntime
from app.storage.jobs import JobRecord

router = APIRouter(prefix="/api/v1", tags=["jobs"])
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Wait = Annotated[
    bool,
    Query(
        description="wait up to the request deadline (MCP_REQUEST_DEADLINE_S) for the result; false: 202 at once"
    ),
]
STILL_RUNNING: dict[int | str, dict[str, Any]] = {
    202: {"description": "still running after the deadline: poll the job at `Location`"}
}


async def answer(runtime: ServiceRuntime, job: JobRecord, response: Response, wait: bool) -> dict[str, Any]:
    """The job's result (or its error, raised as the route's own) when it ends in time; else 202 and the job."""
    deadline = runtime.settings.request_deadline_s if wait else 0.0
    task = await runtime.jobs.wait(job.id, deadline)
    if task is not None:
        return {**task.result(), "job_id": job.id}  # a failure raises here: the usual error mapping applies
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    current = await runtime.storage.jobs.get(job.tenant_id, job.id)
    return runtime.jobs.view(current)


@router.get("/jobs/{job_id}")
async def get_job(principal: CurrentPrincipal, runtime: Runtime, job_id: JobId) -> dict[str, Any]:
    """One job: state, progress (phase, done, total) and, once final, its result or error."""
    return runtime.jobs.view(await runtime.storage.jobs.get(principal.require(ApiKeyRole.VIEWER), job_id))


@router.get("/nodes/{node_id}/jobs")
async def node_jobs(node: ViewedNode, runtime: Runtime) -> dict[str, Any]:
    """The node's latest jobs, newest first."""
    jobs = await runtime.storage.jobs.for_node(node.tenant_id, node.id)
    return {"items": [runtime.jobs.view(job) for job in jobs]}
