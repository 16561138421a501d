"""Alerts on the running service: an automatic rollback is one Telegram message; the chat is set through the API."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.alerts.digest import DailyDigest
from app.alerts.dispatcher import AlertDispatcher
from app.alerts.model import OutboxState
from app.alerts.service import Alerting, delivery_policy
from app.alerts.sink import OutboxAlertSink
from app.sandbox.lnd.faults import FaultPlan
from app.scheduler.runner import CycleScheduler
from app.services.health_watch import HealthWatch
from app.services.rollbacks import RollbackService
from app.services.rollout import RolloutService
from app.services.runtime import ServiceRuntime
from tests.alerts.bot_api import BotApi
from tests.alerts.conftest import CHAT, TOKEN
from tests.api.conftest import ADMIN_KEY, FAST_ROLLOUT, Service, running_service, tenant_with_key
from tests.api.test_live import ok, registered, to_stage
from tests.policy.execution_env import FakeClock
from tests.services.test_background import _node, live_node, with_clock

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def service(tmp_path: Path, mongo_url: str, bot_api: BotApi) -> AsyncIterator[Service]:
    """The live service of tests/services (short rollout) with its Bot API at the stand-in.

    Its own delivery loop waits an hour, so the test's dispatcher, on the test's clock, is the one that sends.
    """
    async with running_service(
        tmp_path,
        mongo_url,
        simulated_until_s=int(time.time()),
        telegram_api_url=bot_api.url,
        alert_delivery_interval_s=3_600,
        **FAST_ROLLOUT,
    ) as running:
        yield running


def dispatcher_on(service: Service, sink: OutboxAlertSink, clock: FakeClock) -> AlertDispatcher:
    """The service's own outbox, targets and Telegram client, delivered on the test's clock."""
    alerting: Alerting = service.app.state.alerting
    runtime: ServiceRuntime = service.app.state.runtime
    policy = delivery_policy(service.settings)
    return AlertDispatcher(
        alerting.outbox,
        sink,
        runtime.storage.leases,
        alerting.targets,
        alerting.telegram,
        policy,
        "test",
        clock,
    )


async def set_chat(service: Service, key: str) -> None:
    """Give the key's tenant the stand-in's chat through the API; nothing secret comes back."""
    async with service.client(key) as api:
        answer = await api.put("/api/v1/alerts/telegram", json={"bot_token": TOKEN, "chat_id": CHAT})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"configured": True, "quiet_hours": None}


async def test_an_automatic_rollback_reaches_the_chat_as_exactly_one_message(
    service: Service, bot_api: BotApi, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    key, node_id, batch = await live_node(service, "alerted")
    await set_chat(service, key)
    runtime: ServiceRuntime = service.app.state.runtime
    alerting: Alerting = service.app.state.alerting
    node = await _node(runtime, node_id)
    transaction = await runtime.storage.transactions.get(node.tenant_id, batch["transaction_id"])
    clock = FakeClock(transaction.created_at - timedelta(hours=1))
    group_wait = timedelta(seconds=service.settings.alert_group_wait_s)
    sink = OutboxAlertSink(alerting.outbox, alerting.sink.dedup_window, clock, group_wait)
    observed = with_clock(runtime, clock, sink)  # type: ignore[arg-type]
    rollouts = RolloutService(observed.storage, observed.settings, sink, clock)
    watch = HealthWatch(observed, rollouts, RollbackService(observed))
    client = await runtime.clients.get(node, "test")
    for _ in range(3):  # the node's own baseline, before the batch
        await watch.probe(node, client, clock())
        clock.advance(600)
    service.simulator.set_faults(FaultPlan(paths=("/v1/getinfo",), latency_ms=250))
    clock.now = transaction.created_at + timedelta(minutes=1)
    automatic = REGISTRY.get_sample_value("mcp_rollbacks_total", {"trigger": "automatic"}) or 0.0
    rolled: list[str] = []
    for _ in range(3):
        clock.advance(300)
        rolled = await watch.check_node(node)
    service.simulator.set_faults(FaultPlan())
    assert rolled, "the slowed node was not rolled back"
    assert REGISTRY.get_sample_value("mcp_rollbacks_total", {"trigger": "automatic"}) == automatic + len(
        rolled
    )
    dispatcher = dispatcher_on(service, sink, clock)
    await dispatcher.deliver_once()
    assert bot_api.requests == [], "sent before the incident's other alerts could join"
    clock.advance(group_wait.total_seconds())
    assert (await dispatcher.deliver_once()).sent == {node.tenant_id: 2}
    clock.advance(3_600)
    await dispatcher.deliver_once()
    [message] = bot_api.requests
    text = message.body["text"]
    assert message.token == TOKEN and message.body["chat_id"] == CHAT
    assert "rollback.automatic" in text and "rollout.demoted" in text and node_id in text
    assert f"rolled back by {rolled[0]}" in text
    async with service.client(key) as api:
        listed = await ok(await api.get("/api/v1/alerts"))
    assert sorted(item["kind"] for item in listed["items"]) == ["rollback.automatic", "rollout.demoted"]
    assert {item["state"] for item in listed["items"]} == {OutboxState.SENT.value}
    assert any(
        "sendMessage" in record.getMessage() for record in caplog.records
    )  # the Bot API call was logged
    assert not any(TOKEN in record.getMessage() for record in caplog.records), (
        "the bot token reached a log line"
    )


async def test_a_batch_whose_writes_did_not_take_is_alerted(service: Service, bot_api: BotApi):
    key, node_id = await registered(service, "dropped-writes")
    await set_chat(service, key)
    async with service.client(key) as api:
        await to_stage(api, node_id, "canary_1")
        await ok(await api.put(f"/api/v1/nodes/{node_id}/settings", json={"mode": "canary"}))
    runtime: ServiceRuntime = service.app.state.runtime
    service.simulator.set_faults(FaultPlan(paths=("/v1/chanpolicy",), silent_drop_rate=1.0))
    await CycleScheduler(runtime, interval_s=3_600, jitter_s=0, lease_s=60).tick()
    service.simulator.set_faults(FaultPlan())
    async with service.client(key) as api:
        kinds = [item["kind"] for item in (await ok(await api.get("/api/v1/alerts")))["items"]]
    assert "transaction.failed" in kinds and "rollout.demoted" in kinds


async def test_the_chat_is_set_by_an_admin_key_only_and_never_shown_or_logged(
    service: Service, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    tenant_id, admin = await tenant_with_key(service, "chatty")
    async with service.client(admin) as api:
        viewer = (
            await api.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": "v", "role": "viewer"})
        ).json()["key"]
        assert (await ok(await api.get("/api/v1/alerts/telegram"))) == {
            "configured": False,
            "quiet_hours": None,
        }
        bad = await api.put("/api/v1/alerts/telegram", json={"bot_token": "not-a-token", "chat_id": CHAT})
        assert bad.status_code == 422 and "not-a-token" not in bad.text
        quiet = {"start": "22:00", "end": "07:00", "timezone": "Nowhere/Atlantis"}
        unknown_zone = await api.put(
            "/api/v1/alerts/telegram", json={"bot_token": TOKEN, "chat_id": CHAT, "quiet_hours": quiet}
        )
        assert unknown_zone.status_code == 422, unknown_zone.text
        quiet["timezone"] = "Europe/Berlin"
        body = {"bot_token": TOKEN, "chat_id": CHAT, "quiet_hours": quiet}
        assert (await ok(await api.put("/api/v1/alerts/telegram", json=body)))["configured"] is True
        shown = await api.get("/api/v1/alerts/telegram")
        assert shown.json() == {"configured": True, "quiet_hours": quiet}
    async with service.client(viewer) as api:
        refused = await api.put("/api/v1/alerts/telegram", json=body)
        assert refused.status_code == 403
        assert (await api.get("/api/v1/alerts")).status_code == 200
    async with service.client() as anonymous:
        assert (await anonymous.get("/api/v1/alerts")).status_code == 401
    async with service.client(admin) as api:
        assert (await api.delete("/api/v1/alerts/telegram")).status_code == 204
        assert (await ok(await api.get("/api/v1/alerts/telegram")))["configured"] is False
    secrets = service.app.state.runtime.storage.database["secrets"]
    async with service.client(admin) as api:
        assert (await ok(await api.put("/api/v1/alerts/telegram", json=body)))["configured"] is True
    stored = await secrets.find({"tenant_id": tenant_id}).to_list()
    assert len(stored) == 1 and TOKEN not in str(stored) and CHAT not in str(stored)  # sealed
    async with service.client(ADMIN_KEY) as platform:  # deleting the tenant removes its chat from the vault
        assert (await platform.delete(f"/api/v1/tenants/{tenant_id}")).status_code == 200
    assert await secrets.find({"tenant_id": tenant_id}).to_list() == []
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and CHAT not in record.getMessage()


async def test_a_node_that_stops_answering_is_one_alert_however_often_it_is_checked(
    service: Service, bot_api: BotApi
):
    key, node_id = await registered(service, "silent")
    await set_chat(service, key)
    runtime: ServiceRuntime = service.app.state.runtime
    alerting: Alerting = service.app.state.alerting
    node = await _node(runtime, node_id)
    clock = FakeClock(runtime.clock())
    sink = OutboxAlertSink(alerting.outbox, alerting.sink.dedup_window, clock)
    observed = with_clock(runtime, clock, sink)  # type: ignore[arg-type]
    watch = HealthWatch(observed, RolloutService(runtime.storage, runtime.settings, sink, clock),
                        RollbackService(observed))  # fmt: skip
    await watch.check_node(node)  # answered
    clock.advance(60)
    service.simulator.set_faults(FaultPlan(paths=("/v1/getinfo",), error_rate=1.0, error_status=500))
    checks_until_alert = 0
    while not await alerting.outbox.pending(node.tenant_id):
        await watch.check_node(node)
        checks_until_alert += 1
        clock.advance(300)
        assert checks_until_alert <= 5, "no alert after 20 minutes of failed probes"
    assert checks_until_alert == 4  # failing since the first of them: 0, 300, 600, 900 s
    for _ in range(2):  # still down: the same event
        await watch.check_node(node)
        clock.advance(300)
    service.simulator.set_faults(FaultPlan())
    await dispatcher_on(service, sink, clock).deliver_once()
    [message] = bot_api.requests
    assert "node.unreachable" in message.body["text"] and "(and 2 more times since)" in message.body["text"]
    assert "has not answered any probe for 15 minutes" in message.body["text"]


async def test_the_daily_digest_goes_once_a_day_with_changes_and_earnings(service: Service, bot_api: BotApi):
    key, node_id, _ = await live_node(service, "digested")
    await set_chat(service, key)
    runtime: ServiceRuntime = service.app.state.runtime
    alerting: Alerting = service.app.state.alerting
    node = await _node(runtime, node_id)
    clock = FakeClock(runtime.clock().replace(minute=59, second=0, microsecond=0))
    hour = (clock.now.hour + 1) % 24
    digest = DailyDigest(runtime.storage, alerting.outbox, alerting.targets,
                         lambda record: runtime.clients.get(record, "test"), hour, clock)  # fmt: skip
    if hour:  # before the digest hour (at midnight the hour before is yesterday's)
        assert await digest.run_once() == []
    clock.advance(60)
    assert await digest.run_once() == [node.tenant_id]
    clock.advance(3_600)
    assert await digest.run_once() == [], "a second digest the same day"
    replica = DailyDigest(runtime.storage, alerting.outbox, alerting.targets,
                          lambda record: runtime.clients.get(record, "test"), hour, clock)  # fmt: skip
    assert await replica.run_once() == [], "another replica made a second digest the same day"
    await dispatcher_on(service, alerting.sink, clock).deliver_once()
    [message] = bot_api.requests
    text = message.body["text"]
    assert "digest.daily" in text and re.search(
        r"sim: [1-9]\d* batches committed, [1-9]\d* channels changed", text
    )
    assert re.search(r"\d+ forwards earned [\d,]+ sat", text), text
