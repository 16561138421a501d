"""Sync and optimize as jobs: the answer within the deadline, else 202 and a job to poll with its progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from app.domain.jobs import JobState
from app.sandbox.lnd.faults import FaultPlan
from app.storage.fields import epoch_ms
from app.storage.jobs import JobRecord
from tests.api.conftest import dump, running_service, tenant_with_key

POLL_DEADLINE_S = 60.0


async def poll(api: httpx.AsyncClient, location: str) -> dict[str, Any]:
    """The job once it is final (polled with a deadline, never a fixed wait)."""
    deadline = time.monotonic() + POLL_DEADLINE_S
    while time.monotonic() < deadline:
        answer = await api.get(location)
        assert answer.status_code == 200, dump(answer)
        job = answer.json()
        if job["state"] != "running":
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {location} still running after {POLL_DEADLINE_S} s")


async def test_work_longer_than_the_deadline_answers_202_and_the_job_tells_the_rest(
    tmp_path: Path, mongo_url: str
):
    async with running_service(
        tmp_path, mongo_url, request_deadline_s=0, rate_limit_per_second=1_000
    ) as service:
        _, key = await tenant_with_key(service, "jobs")
        async with service.client(key) as api:
            node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
            started = await api.post(f"/api/v1/nodes/{node_id}/sync")
            assert started.status_code == 202, dump(started)
            location = started.headers["Location"]
            assert location == f"/api/v1/jobs/{started.json()['id']}"
            assert started.json()["kind"] == "sync" and started.json()["node_id"] == node_id
            assert "instance_id" not in started.json()  # internal bookkeeping stays inside
            job = await poll(api, location)
            assert job["state"] == "succeeded", job
            assert job["result"]["channels"] == len(service.simulator.node.channels)
            assert job["progress"]["phase"] == "storing"
            assert job["progress"]["done"] == job["progress"]["total"] == job["result"]["channels"]
            listed = (await api.get(f"/api/v1/nodes/{node_id}/jobs")).json()["items"]
            assert [item["id"] for item in listed] == [job["id"]]

            optimized = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
            assert optimized.status_code == 202
            done = await poll(api, optimized.headers["Location"])
            assert done["state"] == "succeeded" and done["result"]["mode"] == "shadow"

            # A failure after the 202 is kept as the API's error body.
            service.simulator.set_faults(FaultPlan(error_rate=1.0, error_status=503))
            failing = await api.post(f"/api/v1/nodes/{node_id}/sync")
            failed = await poll(api, failing.headers["Location"])
            assert failed["state"] == "failed" and failed["error"]["code"].startswith("upstream"), failed
            assert failed["result"] is None


async def test_work_within_the_deadline_answers_as_before_unless_told_not_to_wait(
    tmp_path: Path, mongo_url: str
):
    async with running_service(tmp_path, mongo_url, rate_limit_per_second=1_000) as service:
        tenant_id, key = await tenant_with_key(service, "jobs")
        async with service.client(key) as api:
            node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
            synced = await api.post(f"/api/v1/nodes/{node_id}/sync")
            assert synced.status_code == 200 and synced.json()["job_id"], dump(synced)
            assert synced.json()["channels"] == len(service.simulator.node.channels)
            at_once = await api.post(f"/api/v1/nodes/{node_id}/sync", params={"wait": "false"})
            assert at_once.status_code == 202
            assert (await poll(api, at_once.headers["Location"]))["state"] == "succeeded"
            # A failure within the deadline is the route's own error, as before jobs.
            service.simulator.set_faults(FaultPlan(error_rate=1.0, error_status=503))
            refused = await api.post(f"/api/v1/nodes/{node_id}/sync")
            assert refused.status_code in (502, 503, 504) and "error" in refused.json()
            # Another tenant never sees the job.
            _, other = await tenant_with_key(service, "other")
            async with service.client(other) as intruder:
                assert (await intruder.get(f"/api/v1/jobs/{synced.json()['job_id']}")).status_code == 404

        # A running job whose process stopped writing is shown as interrupted.
        runtime = service.app.state.runtime
        silent = JobRecord(
            tenant_id=tenant_id, node_id=node_id, kind="sync", actor="x", instance_id="gone",
            heartbeat_ms=epoch_ms(runtime.clock()) - 60_000,
        )  # fmt: skip
        await runtime.storage.jobs.add(silent)
        async with service.client(key) as api:
            shown = (await api.get(f"/api/v1/jobs/{silent.id}")).json()
        assert shown["state"] == JobState.INTERRUPTED.value
