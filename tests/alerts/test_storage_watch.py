"""A storage outage long enough is one alert per tenant with a chat, sent once storage is back."""

from __future__ import annotations

from datetime import timedelta

from app.alerts.model import AlertKind
from app.alerts.storage_watch import StorageOutageWatch
from app.resilience.modes import ServiceMode
from app.storage.database import Storage
from app.storage.records import TenantRecord
from tests.alerts.bot_api import BotApi
from tests.alerts.conftest import Delivery


async def test_a_long_read_only_spell_alerts_each_tenant_with_a_chat_when_storage_is_back(
    delivery: Delivery, storage: Storage, bot_api: BotApi
):
    watched = await storage.tenants.add(TenantRecord(name="watched"))
    unwatched = await storage.tenants.add(TenantRecord(name="no-chat"))
    await delivery.configure(watched.id)
    mode = ServiceMode.FULL
    watch = StorageOutageWatch(lambda: mode, storage.tenants, delivery.targets, delivery.sink,
                               timedelta(minutes=5), delivery.clock)  # fmt: skip
    mode = ServiceMode.READ_ONLY
    for _ in range(3):  # a blip of 2 minutes is not worth an alert
        assert await watch.check_once() == []
        delivery.clock.advance(60)
    mode = ServiceMode.FULL
    assert await watch.check_once() == []
    mode = ServiceMode.READ_ONLY
    for _ in range(7):
        assert await watch.check_once() == []
        delivery.clock.advance(60)
    mode = ServiceMode.CACHE_DEGRADED  # storage is back (the cache is another matter)
    assert await watch.check_once() == [watched.id]
    assert await watch.check_once() == []
    await delivery.dispatcher.deliver_once()
    [message] = bot_api.requests
    assert AlertKind.STORAGE_READ_ONLY.value in message.body["text"] and "(7 min)" in message.body["text"]
    assert await delivery.outbox.recent(unwatched.id, 5) == []
