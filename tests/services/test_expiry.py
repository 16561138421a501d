"""Waiting decisions expire after their maximum age even when no newer cycle comes."""

from __future__ import annotations

from datetime import timedelta

from app.domain.decision import DecisionStatus
from app.domain.execution import ExecutionMode
from app.services.expiry import DecisionExpiry
from app.services.runtime import ServiceRuntime
from tests.api.conftest import Service, tenant_with_key
from tests.storage import builders
from tests.storage.conftest import cycle_report  # noqa: F401  (session fixture)


async def test_old_waiting_decisions_expire_and_shadow_records_stay(service: Service, cycle_report):  # noqa: F811
    tenant_id, key = await tenant_with_key(service, "expiring")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
    runtime: ServiceRuntime = service.app.state.runtime
    old = runtime.clock() - timedelta(hours=7)
    made = builders.decisions(cycle_report, tenant_id, node_id)[:4]
    statuses = [
        (DecisionStatus.NEEDS_APPROVAL, ExecutionMode.LIVE, old),
        (DecisionStatus.APPROVED, ExecutionMode.LIVE, old),
        (DecisionStatus.APPROVED, ExecutionMode.SHADOW, old),
        (DecisionStatus.NEEDS_APPROVAL, ExecutionMode.LIVE, runtime.clock()),
    ]
    records = [
        record.model_copy(update={"status": status, "mode": mode, "created_at": at})
        for record, (status, mode, at) in zip(made, statuses, strict=True)
    ]
    await runtime.storage.decisions.add_many(records)
    assert await DecisionExpiry(runtime).run_once() == 2
    after = [(await runtime.storage.decisions.get(tenant_id, r.id)).status for r in records]
    assert after == [
        DecisionStatus.EXPIRED,
        DecisionStatus.EXPIRED,
        DecisionStatus.APPROVED,  # what shadow mode would have written stays on record
        DecisionStatus.NEEDS_APPROVAL,  # young enough
    ]
    assert await DecisionExpiry(runtime).run_once() == 0
