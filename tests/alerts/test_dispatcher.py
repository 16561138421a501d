"""Delivery from the outbox to the Bot API stand-in: once, escaped, retried with backoff, dropped when too old."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from app.alerts.dispatcher import DeliveryPolicy
from app.alerts.model import Alert, AlertKind, OutboxState
from app.storage.database import Storage
from tests.alerts.bot_api import BotApi, refused_url
from tests.alerts.conftest import CHAT, START, TOKEN, Delivery, make_delivery
from tests.policy.execution_env import FakeClock

TENANT = "tenant-a"


def rollback_alert(message: str = "node slowed <b>&</b> down", node: str = "node-1") -> Alert:
    """An automatic-rollback alert (critical)."""
    return Alert(kind=AlertKind.ROLLBACK_AUTOMATIC, tenant_id=TENANT, node_id=node, message=message)


async def test_an_alert_goes_out_once_as_escaped_html_to_the_tenants_chat(
    delivery: Delivery, bot_api: BotApi
):
    await delivery.configure(TENANT)
    await delivery.sink.send(rollback_alert())
    report = await delivery.dispatcher.deliver_once()
    assert report.sent == {TENANT: 1}
    [sent] = bot_api.requests
    assert sent.token == TOKEN and sent.body["chat_id"] == CHAT and sent.body["parse_mode"] == "HTML"
    assert "node slowed &lt;b&gt;&amp;&lt;/b&gt; down" in sent.body["text"]
    assert "<b>rollback.automatic</b>" in sent.body["text"]
    assert (await delivery.dispatcher.deliver_once()).sent == {}
    assert len(bot_api.requests) == 1
    [entry] = await delivery.outbox.recent(TENANT, 10)
    assert entry.state is OutboxState.SENT and entry.attempts == 1


async def test_the_outbox_keeps_an_alert_while_telegram_fails_and_delivers_it_later(
    delivery: Delivery, bot_api: BotApi
):
    await delivery.configure(TENANT)
    await delivery.sink.send(rollback_alert())
    bot_api.fail_next(500)
    bot_api.fail_next(429, retry_after=120)
    assert (await delivery.dispatcher.deliver_once()).failed[TENANT].startswith("Telegram failed (500)")
    assert REGISTRY.get_sample_value("mcp_alert_outbox_depth") == 1  # the gauge a pass leaves behind
    assert REGISTRY.get_sample_value("mcp_alert_oldest_pending_seconds") == 0  # created this very moment
    delivery.clock.advance(29)  # the first backoff is 30 s: nothing is tried before
    await delivery.dispatcher.deliver_once()
    assert REGISTRY.get_sample_value("mcp_alert_oldest_pending_seconds") == 29
    assert len(bot_api.requests) == 1
    delivery.clock.advance(2)
    assert "429" in (await delivery.dispatcher.deliver_once()).failed[TENANT]
    delivery.clock.advance(119)  # Telegram asked for 120 s
    await delivery.dispatcher.deliver_once()
    assert len(bot_api.requests) == 2
    delivery.clock.advance(2)
    assert (await delivery.dispatcher.deliver_once()).sent == {TENANT: 1}
    assert [sent.body["_status"] for sent in bot_api.requests] == [500, 429, 200]
    assert REGISTRY.get_sample_value("mcp_alert_outbox_depth") == 0
    assert REGISTRY.get_sample_value("mcp_alert_oldest_pending_seconds") == 0
    [entry] = await delivery.outbox.recent(TENANT, 10)
    assert entry.state is OutboxState.SENT and entry.attempts == 3


async def test_an_unreachable_bot_api_keeps_the_alert_and_no_error_names_the_token(
    storage: Storage, bot_api: BotApi
):
    clock = FakeClock(START)
    down = make_delivery(storage, refused_url(), clock)
    await down.outbox.ensure_indexes()
    await down.configure(TENANT)
    await down.sink.send(rollback_alert())
    report = await down.dispatcher.deliver_once()
    await down.telegram.aclose()
    assert report.failed[TENANT] == "Telegram unreachable (ConnectError)"
    [entry] = await down.outbox.pending(TENANT)
    assert entry.attempts == 1 and TOKEN not in (entry.last_error or "")
    # Telegram is back (the stand-in); the same outbox, read by a dispatcher that reaches it, delivers.
    up = make_delivery(storage, bot_api.url, clock)
    clock.advance(31)
    assert (await up.dispatcher.deliver_once()).sent == {TENANT: 1}
    await up.telegram.aclose()
    assert len(bot_api.delivered) == 1


async def test_an_alert_not_delivered_within_the_maximum_age_is_dropped(storage: Storage, bot_api: BotApi):
    policy = DeliveryPolicy(max_age=timedelta(hours=1), backoff_base_s=600, backoff_max_s=600)
    parts = make_delivery(storage, bot_api.url, FakeClock(START), policy)
    await parts.configure(TENANT)
    await parts.sink.send(rollback_alert())
    for _ in range(6):  # every attempt of the hour fails
        bot_api.fail_next(502)
        await parts.dispatcher.deliver_once()
        parts.clock.advance(601)
    report = await parts.dispatcher.deliver_once()
    await parts.telegram.aclose()
    assert report.dropped == 1 and report.sent == {}
    [entry] = await parts.outbox.recent(TENANT, 10)
    assert entry.state is OutboxState.DROPPED and "1 h" in (entry.last_error or "")
    assert bot_api.delivered == []


async def test_the_same_event_within_the_window_is_folded_into_one_alert(delivery: Delivery, bot_api: BotApi):
    await delivery.configure(TENANT)
    for _ in range(3):
        await delivery.sink.send(rollback_alert())
        delivery.clock.advance(60)
    await delivery.sink.send(rollback_alert(node="node-2"))  # another node: another event
    await delivery.dispatcher.deliver_once()
    [sent] = bot_api.requests
    assert sent.body["text"].count("rollback.automatic") == 2
    assert "(and 2 more times since)" in sent.body["text"]
    delivery.clock.advance(3_600)  # past the window: the same event is news again
    await delivery.sink.send(rollback_alert())
    await delivery.dispatcher.deliver_once()
    assert len(bot_api.delivered) == 2


async def test_a_chat_gets_at_most_its_rate_and_what_waits_goes_out_together(
    storage: Storage, bot_api: BotApi
):
    policy = DeliveryPolicy(rate_limit=2, rate_window=timedelta(hours=1))
    parts = make_delivery(storage, bot_api.url, FakeClock(START), policy)
    await parts.configure(TENANT)
    for number in range(4):
        await parts.sink.send(rollback_alert(node=f"node-{number}"))
        await parts.dispatcher.deliver_once()
        parts.clock.advance(60)
    assert len(bot_api.delivered) == 2
    held = await parts.outbox.pending(TENANT)
    assert sorted(entry.node_id for entry in held) == ["node-2", "node-3"]
    parts.clock.advance(3_600 - 4 * 60)  # the first message leaves the window at START + 1 h
    await parts.dispatcher.deliver_once()
    assert len(bot_api.delivered) == 2, "sent before the first message left the window"
    parts.clock.advance(60)
    await parts.dispatcher.deliver_once()
    await parts.telegram.aclose()
    assert len(bot_api.delivered) == 3
    last = bot_api.delivered[-1].body["text"]
    assert "node-2" in last and "node-3" in last


async def test_quiet_hours_hold_all_but_critical_alerts_until_they_end(delivery: Delivery, bot_api: BotApi):
    # 23:00 in Berlin on that day (UTC+1): inside 22:00-07:00.
    delivery.clock.now = delivery.clock.now.replace(hour=22)
    await delivery.configure(
        TENANT, quiet_hours={"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    )
    demoted = Alert(kind=AlertKind.ROLLOUT_DEMOTED, tenant_id=TENANT, node_id="node-1", message="demoted")
    await delivery.sink.send(demoted)
    await delivery.sink.send(rollback_alert())
    report = await delivery.dispatcher.deliver_once()
    assert report.sent == {TENANT: 1} and report.held == {TENANT: 1}
    assert "rollout.demoted" not in bot_api.requests[0].body["text"]
    delivery.clock.advance(7 * 3_600)  # 06:00 Berlin: still quiet
    await delivery.dispatcher.deliver_once()
    assert len(bot_api.requests) == 1
    delivery.clock.advance(3_600)  # 07:00 Berlin
    await delivery.dispatcher.deliver_once()
    assert len(bot_api.requests) == 2 and "rollout.demoted" in bot_api.requests[1].body["text"]


async def test_a_tenant_without_a_chat_gets_nothing_sent_and_its_alerts_are_marked(
    delivery: Delivery, bot_api: BotApi
):
    await delivery.sink.send(rollback_alert())
    report = await delivery.dispatcher.deliver_once()
    assert report.unrouted == 1 and bot_api.requests == []
    [entry] = await delivery.outbox.recent(TENANT, 10)
    assert entry.state is OutboxState.UNROUTED
    assert await delivery.outbox.depth() == 0


async def test_a_second_incident_on_the_same_node_is_news_but_a_lasting_condition_is_not(
    delivery: Delivery, bot_api: BotApi
):
    await delivery.configure(TENANT)
    await delivery.sink.send(rollback_alert("batch A rolled back"))
    await delivery.dispatcher.deliver_once()
    delivery.clock.advance(600)
    await delivery.sink.send(rollback_alert("batch B rolled back"))  # within the window, another incident
    unreachable = Alert(
        kind=AlertKind.NODE_UNREACHABLE, tenant_id=TENANT, node_id="node-1", message="for 15 min"
    )
    await delivery.sink.send(unreachable)
    await delivery.dispatcher.deliver_once()
    delivery.clock.advance(600)
    await delivery.sink.send(Alert(kind=AlertKind.NODE_UNREACHABLE, tenant_id=TENANT, node_id="node-1",
                                   message="for 25 min"))  # fmt: skip
    await delivery.dispatcher.deliver_once()
    texts = [sent.body["text"] for sent in bot_api.delivered]
    assert len(texts) == 2 and "batch B rolled back" in texts[1] and "for 15 min" in texts[1]
    [entry] = [e for e in await delivery.outbox.recent(TENANT, 10) if e.kind == AlertKind.NODE_UNREACHABLE]
    assert entry.repeats == 1
