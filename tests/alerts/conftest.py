"""Alert tests: real storage (nx-27017 or MCP_MONGODB_URL), a real vault, the Bot API stand-in over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.alerts.dispatcher import AlertDispatcher, DeliveryPolicy
from app.alerts.outbox import OutboxRepository
from app.alerts.sink import OutboxAlertSink
from app.alerts.targets import TargetBook, TelegramTarget
from app.alerts.telegram import TelegramClient
from app.security.keys import MasterKey
from app.security.vault import Keyring, Vault
from app.storage.database import Storage
from tests.alerts.bot_api import BotApi, running_bot_api
from tests.policy.execution_env import FakeClock
from tests.storage.conftest import mongo_url, storage  # noqa: F401

TOKEN = "123456789:AAH-stand_in_token_0123456789abcdefgh"
CHAT = "-1001234567890"
# A Monday noon: outside any quiet hours the tests set unless they say so.
MASTER_KEY = MasterKey.generate()  # one per session: every test's dispatchers open each other's targets
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApi]:
    """The Bot API stand-in."""
    async with running_bot_api() as running:
        yield running


@dataclass
class Delivery:
    """A dispatcher on real storage and the stand-in, with the test's clock."""

    clock: FakeClock
    outbox: OutboxRepository
    sink: OutboxAlertSink
    targets: TargetBook
    dispatcher: AlertDispatcher
    telegram: TelegramClient

    async def configure(self, tenant_id: str, **fields: object) -> TelegramTarget:
        """Give the tenant a chat (token and chat id of the stand-in)."""
        target = TelegramTarget.model_validate({"bot_token": TOKEN, "chat_id": CHAT, **fields})
        await self.targets.put(tenant_id, target)
        return target


def make_delivery(
    store: Storage, url: str, clock: FakeClock, policy: DeliveryPolicy | None = None
) -> Delivery:
    """The alert parts wired as app/alerts/service.py wires them, on `store` and the Bot API at `url`."""
    outbox = OutboxRepository(store.database)
    sink = OutboxAlertSink(outbox, timedelta(hours=1), clock)
    targets = TargetBook(store.secrets, Vault(Keyring(MASTER_KEY), store.audit_sink))
    telegram = TelegramClient(url)
    dispatcher = AlertDispatcher(
        outbox, sink, store.leases, targets, telegram, policy or DeliveryPolicy(), "test-instance", clock
    )
    return Delivery(clock, outbox, sink, targets, dispatcher, telegram)


@pytest.fixture
async def delivery(storage: Storage, bot_api: BotApi) -> AsyncIterator[Delivery]:  # noqa: F811
    """Alert delivery to the stand-in, at START by the test's clock."""
    parts = make_delivery(storage, bot_api.url, FakeClock(START))
    await parts.outbox.ensure_indexes()
    try:
        yield parts
    finally:
        await parts.telegram.aclose()
