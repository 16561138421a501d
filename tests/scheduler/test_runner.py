"""Two service instances on one database: every node gets exactly one scheduled cycle per pass."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from app.observability.request_context import background_pass, current_request_id, current_tenant_id
from app.scheduler.runner import CycleScheduler
from app.services.runtime import ServiceRuntime
from tests.api.conftest import Service, tenant_with_key


async def test_two_replicas_never_run_the_same_node(service: Service):
    _, key = await tenant_with_key(service, "scheduled")
    async with service.client(key) as api:
        node_ids = []
        for name in ("a", "b"):
            created = await api.post("/api/v1/nodes", json=service.lnd_registration(name))
            node_ids.append(created.json()["node"]["id"])
    runtime = service.app.state.runtime
    first = CycleScheduler(runtime, interval_s=3600, jitter_s=0, lease_s=600)
    second_runtime = replica(runtime, "replica-two")
    second = CycleScheduler(second_runtime, interval_s=3600, jitter_s=0, lease_s=600)
    one, two = await asyncio.gather(first.tick(), second.tick())
    ran = one.ran + two.ran
    assert sorted(ran) == sorted(node_ids), (one, two)
    assert sorted(one.skipped + two.skipped) == sorted(node_ids)
    assert not one.failed and not two.failed
    async with service.client(key) as api:
        for node_id in node_ids:
            decisions = (await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 500})).json()
            assert len(decisions["items"]) == len(service.simulator.node.channels)  # one cycle, not two
    # A third replica ticking moments later finds both leases held and runs nothing.
    third = CycleScheduler(replica(runtime, "replica-three"), 3600, 0, 600)
    later = await third.tick()
    assert later.ran == [] and sorted(later.skipped) == sorted(node_ids)


class ContextRecorder(logging.Handler):
    """Each record's logger with the tenant and request ids in force where it was logged."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep (logger, tenant, request, message); emit runs where the line was logged."""
        self.lines.append(
            (record.name, current_tenant_id.get(), current_request_id.get(), record.getMessage())
        )


async def test_a_scheduled_cycle_logs_under_its_node_s_tenant(service: Service):
    tenant_id, key = await tenant_with_key(service, "logged-by-the-scheduler")
    async with service.client(key) as api:
        created = await api.post("/api/v1/nodes", json=service.lnd_registration("logged"))
        assert created.status_code == 201, created.text
    scheduler = CycleScheduler(replica(service.app.state.runtime, "logging-replica"), 3600, 0, 600)
    recorder, root = ContextRecorder(), logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.INFO)
    try:
        with background_pass("cycle-scheduler") as pass_id:
            report = await scheduler.tick()
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    assert created.json()["node"]["id"] in report.ran
    node_calls = [line for line in recorder.lines if line[0] == "httpx" and "/v1/" in line[3]]
    mine = [line for line in node_calls if line[1] == tenant_id]
    assert mine, recorder.lines  # the node's reads, far below the scheduler, name its tenant
    assert all(line[2] == pass_id for line in recorder.lines)  # every line of the pass shares its id
    [summary] = [line for line in recorder.lines if line[3].startswith("scheduled cycles:")]
    assert summary[1] == "-"  # the pass over every tenant belongs to none
    assert current_tenant_id.get() == "-"


def replica(runtime: ServiceRuntime, instance_id: str) -> ServiceRuntime:
    """Another service instance on the same database and node clients."""
    fields = {field.name: getattr(runtime, field.name) for field in dataclasses.fields(runtime) if field.init}
    return ServiceRuntime(**{**fields, "instance_id": instance_id})
