"""Two service instances on one database: every node gets exactly one scheduled cycle per pass."""

from __future__ import annotations

import asyncio
import dataclasses

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


def replica(runtime: ServiceRuntime, instance_id: str) -> ServiceRuntime:
    """Another service instance on the same database and node clients."""
    fields = {field.name: getattr(runtime, field.name) for field in dataclasses.fields(runtime) if field.init}
    return ServiceRuntime(**{**fields, "instance_id": instance_id})
