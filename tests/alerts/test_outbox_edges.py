"""Edges of the outbox: storage down at alert time, a message too long for one send, a chat that refuses."""

from __future__ import annotations

from datetime import timedelta

from app.alerts.dispatcher import DeliveryPolicy
from app.alerts.model import Alert, AlertKind, OutboxState
from app.alerts.outbox import OutboxRepository
from app.alerts.sink import OutboxAlertSink
from app.alerts.targets import TargetBook, TelegramTarget
from app.alerts.telegram import MESSAGE_LIMIT
from app.security.keys import MasterKey
from app.security.vault import Keyring, Vault
from app.settings import Settings
from app.storage.database import Storage, open_storage
from tests.alerts.bot_api import BotApi
from tests.alerts.conftest import CHAT, START, TOKEN, Delivery, make_delivery
from tests.policy.execution_env import FakeClock
from tests.storage.conftest import storage_settings

TENANT = "tenant-e"


def alert(node: str, message: str = "partial") -> Alert:
    """A critical alert of one node."""
    return Alert(kind=AlertKind.TRANSACTION_PARTIAL, tenant_id=TENANT, node_id=node, message=message)


async def test_alerts_raised_while_storage_is_down_wait_in_memory_and_are_stored_later(
    storage: Storage, mongo_url: str
):
    settings: Settings = storage_settings(mongo_url, storage.database.name)
    gone = await open_storage(settings)
    await gone.close()  # every operation on it now fails as an outage
    clock = FakeClock(START)
    sink = OutboxAlertSink(OutboxRepository(gone.database), timedelta(hours=1), clock)
    await sink.send(alert("node-1"))  # does not raise: a rollback must not fail for its alert
    assert [buffered.node_id for buffered in sink.buffer] == ["node-1"]
    assert await sink.flush() == 0 and len(sink.buffer) == 1  # still down
    sink.outbox = OutboxRepository(storage.database)  # storage is back
    assert await sink.flush() == 1 and not sink.buffer
    [entry] = await sink.outbox.pending(TENANT)
    assert entry.node_id == "node-1" and entry.kind == AlertKind.TRANSACTION_PARTIAL


async def test_alerts_too_long_for_one_message_go_out_in_several(delivery: Delivery, bot_api: BotApi):
    await delivery.configure(TENANT)
    for number in range(4):
        await delivery.sink.send(alert(f"node-{number}", "x" * 1_500))
    await delivery.dispatcher.deliver_once()
    await delivery.dispatcher.deliver_once()
    texts = [sent.body["text"] for sent in bot_api.delivered]
    assert len(texts) == 2 and all(len(text) <= MESSAGE_LIMIT for text in texts)
    assert "2 more alerts in the next message" in texts[0]
    assert sum(text.count("transaction.partial") for text in texts) == 4
    assert await delivery.outbox.pending(TENANT) == []


async def test_a_chat_that_refuses_is_retried_at_the_longest_backoff(storage: Storage, bot_api: BotApi):
    policy = DeliveryPolicy(backoff_max_s=900)
    parts = make_delivery(storage, bot_api.url, FakeClock(START), policy)
    await parts.configure(TENANT)
    await parts.sink.send(alert("node-1"))
    bot_api.fail_next(403)  # the bot was blocked: waiting will not help soon, the operator may fix it
    report = await parts.dispatcher.deliver_once()
    assert report.failed[TENANT].startswith("Telegram refused (403)")
    [entry] = await parts.outbox.pending(TENANT)
    assert entry.next_attempt_ms - entry.created_ms == 900_000
    parts.clock.advance(900)
    assert (await parts.dispatcher.deliver_once()).sent == {TENANT: 1}
    await parts.telegram.aclose()
    [sent] = await parts.outbox.recent(TENANT, 5)
    assert sent.state is OutboxState.SENT and sent.attempts == 2


async def test_a_tenant_whose_target_cannot_be_opened_does_not_hold_up_the_others(
    delivery: Delivery, storage: Storage, bot_api: BotApi
):
    other_key = TargetBook(storage.secrets, Vault(Keyring(MasterKey.generate()), storage.audit_sink))
    await other_key.put(
        "tenant-sealed-elsewhere", TelegramTarget.model_validate({"bot_token": TOKEN, "chat_id": CHAT})
    )
    await delivery.configure(TENANT)
    await delivery.sink.send(
        Alert(
            kind=AlertKind.TRANSACTION_PARTIAL, tenant_id="tenant-sealed-elsewhere", node_id="n", message="x"
        )
    )
    await delivery.sink.send(alert("node-2"))
    report = await delivery.dispatcher.deliver_once()
    assert report.sent == {TENANT: 1}
    assert (
        "tenant-sealed-elsewhere" in report.failed and TOKEN not in report.failed["tenant-sealed-elsewhere"]
    )
    assert len(bot_api.delivered) == 1
