"""Alerting as the service runs it: the outbox sink, the delivery loop and the daily digest, built once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from app.alerts.digest import ClientFor, DailyDigest
from app.alerts.dispatcher import AlertDispatcher, DeliveryPolicy
from app.alerts.outbox import OutboxRepository
from app.alerts.sink import OutboxAlertSink
from app.alerts.storage_watch import StorageOutageWatch
from app.alerts.targets import ALERTS_ACTOR, TargetBook
from app.alerts.telegram import TelegramClient
from app.clock import Clock, system_clock
from app.nodes.base import NodeClient
from app.scheduler.supervisor import every, supervise
from app.security.vault import Vault
from app.services.runtime import ServiceRuntime
from app.settings import Settings
from app.storage.database import Storage
from app.storage.records import NodeRecord

Job = Callable[[], Awaitable[object]]
DIGEST_CHECK_S = 600.0  # the digest hour is looked for every 10 minutes


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """The delivery policy from the settings."""
    return DeliveryPolicy(
        max_age=timedelta(hours=settings.alert_max_age_hours),
        backoff_max_s=settings.alert_backoff_max_s,
        rate_limit=settings.alert_rate_limit,
        rate_window=timedelta(seconds=settings.alert_rate_window_s),
    )


@dataclass
class Alerting:
    """The sink services send to, and what delivers what it stored."""

    outbox: OutboxRepository
    sink: OutboxAlertSink
    targets: TargetBook
    dispatcher: AlertDispatcher
    telegram: TelegramClient

    async def close(self) -> None:
        """Close the Bot API connections."""
        await self.telegram.aclose()


async def build_alerting(
    settings: Settings, storage: Storage, vault: Vault, holder: str, clock: Clock = system_clock
) -> Alerting:
    """The outbox (indexes ensured), its sink, the target book and the dispatcher."""
    outbox = OutboxRepository(storage.database)
    await outbox.ensure_indexes()
    sink = OutboxAlertSink(
        outbox,
        timedelta(seconds=settings.alert_dedup_window_s),
        clock,
        timedelta(seconds=settings.alert_group_wait_s),
    )
    targets = TargetBook(storage.secrets, vault)
    telegram = TelegramClient(settings.telegram_api_url)
    dispatcher = AlertDispatcher(
        outbox, sink, storage.leases, targets, telegram, delivery_policy(settings), holder, clock
    )
    return Alerting(outbox=outbox, sink=sink, targets=targets, dispatcher=dispatcher, telegram=telegram)


def alert_jobs(
    alerting: Alerting, settings: Settings, storage: Storage, client_for: ClientFor
) -> dict[str, Job]:
    """Name -> body of the periodic alert work (delivery, digest), for the supervised `every` loop."""
    digest = DailyDigest(storage, alerting.outbox, alerting.targets, client_for, settings.alert_digest_hour,
                         alerting.sink.clock)  # fmt: skip
    return {"alert-delivery": alerting.dispatcher.deliver_once, "alert-digest": digest.run_once}


async def start_alerting(
    runtime: ServiceRuntime, stack: AsyncExitStack
) -> tuple[Alerting, list[asyncio.Task[None]]]:
    """Make the outbox the runtime's alert sink and start delivery and digest as supervised loops.

    Called before the other background jobs are built: they take the runtime's sink when they start.
    """
    settings = runtime.settings
    alerting = await build_alerting(
        settings, runtime.storage, runtime.vault, runtime.instance_id, runtime.clock
    )
    stack.push_async_callback(alerting.close)
    runtime.alerts = alerting.sink

    async def client_for(node: NodeRecord) -> NodeClient:
        return await runtime.clients.get(node, ALERTS_ACTOR)

    outage = StorageOutageWatch(runtime.mode, runtime.storage.tenants, alerting.targets, alerting.sink,
                                timedelta(seconds=settings.storage_outage_alert_s), runtime.clock)  # fmt: skip
    jobs = {
        **alert_jobs(alerting, settings, runtime.storage, client_for),
        "storage-outage": outage.check_once,
    }
    intervals = {
        "alert-delivery": settings.alert_delivery_interval_s,
        "alert-digest": DIGEST_CHECK_S,
        "storage-outage": settings.health_interval_s,  # follows the mode the health refresh sets
    }
    tasks = [
        asyncio.create_task(supervise(name, partial(every, name, intervals[name], body)), name=name)
        for name, body in jobs.items()
    ]
    return alerting, tasks
