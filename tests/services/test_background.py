"""The background jobs on a running service: health watch and automatic rollback, recovery, scheduler, backups."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.domain.execution import RolloutStage, TransactionKind, TransactionState
from app.sandbox.lnd.faults import FaultPlan
from app.scheduler.runner import CycleScheduler
from app.services.alerts import LoggingAlertSink
from app.services.health_watch import HealthWatch
from app.services.maintenance import BackupMaintenance
from app.services.recovery import RecoveryService
from app.services.rollbacks import RollbackService
from app.services.rollout import RolloutService
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import BackupKind
from tests.api.conftest import Service
from tests.api.test_live import ok, on_node, registered, to_stage
from tests.policy.execution_env import FakeClock
from tests.storage import builders

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def service(live_service: Service) -> Service:
    """The running service with the demo's short rollout (see tests/api/conftest.py)."""
    return live_service


def with_clock(runtime: ServiceRuntime, clock: FakeClock, alerts: LoggingAlertSink) -> ServiceRuntime:
    """The same service resources, seen through a clock and an alert sink of the test's own."""
    fields = {field.name: getattr(runtime, field.name) for field in dataclasses.fields(runtime) if field.init}
    return ServiceRuntime(**{**fields, "clock": clock, "alerts": alerts})


async def live_node(service: Service, name: str) -> tuple[str, str, dict[str, Any]]:
    """A node taken to live, with one committed live batch; returns (key, node id, the batch)."""
    key, node_id = await registered(service, name)
    async with service.client(key) as api:
        await to_stage(api, node_id, "live")
        result = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "live"}))
    assert result["execution"]["state"] == "committed"
    return key, node_id, result["execution"]


async def test_a_slower_node_after_a_batch_is_rolled_back_demoted_and_alerted(service: Service):
    _, node_id, batch = await live_node(service, "slowed")
    runtime: ServiceRuntime = service.app.state.runtime
    node = await _node(runtime, node_id)
    transaction = await runtime.storage.transactions.get(node.tenant_id, batch["transaction_id"])
    clock = FakeClock(transaction.created_at - timedelta(hours=1))
    alerts = LoggingAlertSink()
    observed = with_clock(runtime, clock, alerts)
    rollouts = RolloutService(observed.storage, observed.settings, alerts, clock)
    watch = HealthWatch(observed, rollouts, RollbackService(observed))
    client = await runtime.clients.get(node, "test")
    for _ in range(3):  # the node's own baseline, before the batch
        await watch.probe(node, client, clock())
        clock.advance(600)
    service.simulator.set_faults(FaultPlan(paths=("/v1/getinfo",), latency_ms=250))
    clock.now = transaction.created_at + timedelta(minutes=1)
    rolled: list[str] = []
    for check in range(3):
        clock.advance(300)
        rolled = await watch.check_node(node)
        if check < 2:
            assert rolled == [], "judged before the minimum number of samples"
    service.simulator.set_faults(FaultPlan())
    assert len(rolled) >= 1
    rollback = await runtime.storage.transactions.get(node.tenant_id, rolled[-1])
    assert rollback.kind is TransactionKind.ROLLBACK and rollback.actor == "health-watch"
    assert rollback.state is TransactionState.COMMITTED and "node latency" in rollback.reason
    undone = await runtime.storage.transactions.get(node.tenant_id, batch["transaction_id"])
    assert rollback.id in undone.rolled_back_by
    for entry in await runtime.storage.journal.for_transaction(node.tenant_id, undone.id):
        assert on_node(service, entry.chan_id) == entry.before  # every channel back at its backup
    assert (await rollouts.state(node)).stage is RolloutStage.CANARY_5  # one step back
    assert sorted(alert.kind for alert in alerts.recent) == ["rollback.automatic", "rollout.demoted"]
    assert await watch.check_node(node) == []  # rolled back batches are no longer watched


async def test_recovery_finishes_what_a_crash_left_and_skips_what_it_cannot_reach(service: Service):
    _, node_id, _ = await live_node(service, "recovered")
    runtime: ServiceRuntime = service.app.state.runtime
    node = await _node(runtime, node_id)
    orphan = await runtime.storage.transactions.add(builders.transaction(node.tenant_id, "deleted-node"))
    planned = await runtime.storage.transactions.add(
        builders.transaction(node.tenant_id, node.id, channels=0)
    )
    report = await RecoveryService(runtime).run_once()
    assert orphan.id in report.orphaned
    assert report.finished == {planned.id: "rolled_back"}  # abandoned before any write
    after = await runtime.storage.transactions.get(node.tenant_id, planned.id)
    assert after.effects_done and "interrupted" in after.notes[-1] and after.recovery_passes == 1
    again = await RecoveryService(runtime).run_once()
    assert again.finished == {} and again.orphaned == [orphan.id]  # idempotent
    async with runtime.locks.hold(node.tenant_id, node.id, "test"):
        busy = await runtime.storage.transactions.add(builders.transaction(node.tenant_id, node.id))
        assert busy.id in (await RecoveryService(runtime).run_once()).busy


async def test_the_scheduler_runs_each_node_in_its_mode_and_demotes_one_whose_write_did_not_take(
    service: Service,
):
    key, node_id = await registered(service, "scheduled")
    async with service.client(key) as api:
        await to_stage(api, node_id, "canary_1")
        await ok(
            await api.put(
                f"/api/v1/nodes/{node_id}/settings", json={"mode": "canary", "limits": {"daily_cap": 60}}
            )
        )
    runtime: ServiceRuntime = service.app.state.runtime
    service.simulator.set_faults(FaultPlan(paths=("/v1/chanpolicy",), silent_drop_rate=1.0))
    report = await CycleScheduler(runtime, interval_s=3600, jitter_s=0, lease_s=60).tick()
    service.simulator.set_faults(FaultPlan())
    assert report.ran == [node_id] and report.rollout == {node_id: "demoted"}, report
    node = await _node(runtime, node_id)
    latest = (await runtime.storage.transactions.list(node.tenant_id, node_id, limit=1)).items[0]
    assert latest.mode is not None and latest.mode.value == "canary" and latest.counts == {"not_applied": 1}
    rollout = await RolloutService(runtime.storage, runtime.settings, runtime.alerts).state(node)
    assert rollout.stage is RolloutStage.SHADOW and "not proven applied" in rollout.history[-1].reason


async def test_every_synced_node_gets_a_daily_full_backup_once_a_day(service: Service, tmp_path: Path):
    key, node_id = await registered(service, "backed-up")
    async with service.client(key) as api:
        await ok(await api.post(f"/api/v1/nodes/{node_id}/sync"))
    runtime: ServiceRuntime = service.app.state.runtime
    clock = FakeClock(runtime.clock())
    maintenance = BackupMaintenance(with_clock(runtime, clock, LoggingAlertSink()))
    first = await maintenance.run_once()
    assert first.backed_up == [node_id] and first.retention is not None
    assert len(first.retention.exported) == 1  # written as a cold file at once
    assert (await maintenance.run_once()).backed_up == []  # not due again
    clock.advance(25 * 3600)
    assert (await maintenance.run_once()).backed_up == [node_id]
    node = await _node(runtime, node_id)
    backups = await runtime.storage.backups.list(node.tenant_id, node_id, kind=BackupKind.DAILY)
    assert len(backups.items) == 2
    assert all(len(b.policies) == len(service.simulator.node.channels) for b in backups.items)
    assert len(list(runtime.settings.backups_path.glob("*/*/*.json.gz"))) == 2


async def _node(runtime: ServiceRuntime, node_id: str) -> Any:
    """The node record, found across tenants (the test knows only its id)."""
    document = await runtime.storage.database["nodes"].find_one({"_id": node_id})
    assert document is not None
    return await runtime.storage.nodes.get(document["tenant_id"], node_id)
