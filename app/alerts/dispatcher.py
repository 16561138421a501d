"""Delivery passes over the outbox: per tenant, quiet hours, the per-chat rate limit, one message, backoff.

A pass stores what the sink buffered in memory, then for each tenant with a due entry, under the lease
`alerts/<tenant>` (one replica at a time): drops entries older than the maximum age, marks entries of a
tenant without a chat as unrouted, holds non-critical entries through quiet hours, waits when the chat
had its share of messages in the window, and sends the due entries as one message. A failed send keeps
every entry pending with exponential backoff (or Telegram's own retry_after).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.alerts.model import OutboxEntry, OutboxState, Severity
from app.alerts.outbox import OutboxRepository
from app.alerts.render import render_message
from app.alerts.sink import OutboxAlertSink
from app.alerts.targets import TargetBook, TelegramTarget
from app.alerts.telegram import TelegramClient, TelegramError
from app.clock import Clock, system_clock
from app.errors import DomainError, StorageUnavailableError
from app.observability.metrics_alerts import (
    ALERT_DELIVERIES,
    ALERT_OLDEST_PENDING_SECONDS,
    ALERT_OUTBOX_DEPTH,
)
from app.storage.fields import epoch_ms, new_id
from app.storage.leases import LeaseRepository

log = logging.getLogger("app.alerts")
LEASE_S = 120.0  # longer than one tenant's pass (a send times out after 10 s)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try and how often a chat may be written to."""

    max_age: timedelta = timedelta(hours=48)
    backoff_base_s: float = 30.0
    backoff_max_s: float = 1_800.0
    rate_limit: int = 10
    rate_window: timedelta = timedelta(hours=1)

    def backoff_s(self, attempts: int, error: TelegramError) -> float:
        """Seconds until the next attempt after `attempts` failed ones."""
        if error.retry_after_s is not None:
            return max(1.0, error.retry_after_s)
        if error.permanent:
            return self.backoff_max_s
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** max(0, attempts - 1))


@dataclass
class PassReport:
    """What one delivery pass did, by tenant."""

    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    unrouted: int = 0


class AlertDispatcher:
    """Delivers the outbox to each tenant's Telegram chat."""

    def __init__(
        self,
        outbox: OutboxRepository,
        sink: OutboxAlertSink,
        leases: LeaseRepository,
        targets: TargetBook,
        telegram: TelegramClient,
        policy: DeliveryPolicy,
        holder: str,
        clock: Clock = system_clock,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.leases = leases
        self.targets = targets
        self.telegram = telegram
        self.policy = policy
        self.holder = holder
        self.clock = clock

    async def deliver_once(self) -> PassReport:
        """One pass over every tenant with a due entry."""
        report = PassReport()
        await self.sink.flush()
        now = self.clock()
        for tenant_id in await self.outbox.due_tenants(now):
            lease = f"alerts/{tenant_id}"
            if not await self.leases.acquire(lease, self.holder, LEASE_S, now):
                continue  # another replica is delivering this tenant's alerts
            try:
                await self._deliver_tenant(tenant_id, now, report)
            except StorageUnavailableError:
                raise  # nothing else will work either: the pass ends, the next one retries
            except (
                DomainError
            ) as exc:  # e.g. a target the vault cannot open: the other tenants still get theirs
                report.failed[tenant_id] = exc.message
                log.warning("alerts of tenant %s not delivered: %s", tenant_id, exc.message)
            finally:
                await self.leases.release(lease, self.holder)
        ALERT_OUTBOX_DEPTH.set(await self.outbox.depth())
        oldest = await self.outbox.oldest_pending_ms()
        ALERT_OLDEST_PENDING_SECONDS.set(0 if oldest is None else max(0, epoch_ms(now) - oldest) / 1_000)
        return report

    async def _deliver_tenant(self, tenant_id: str, now: datetime, report: PassReport) -> None:
        now_ms = epoch_ms(now)
        pending = await self.outbox.pending(tenant_id)
        max_age_ms = int(self.policy.max_age.total_seconds() * 1_000)
        too_old = [entry for entry in pending if now_ms - entry.created_ms > max_age_ms]
        if too_old:
            hours = self.policy.max_age.total_seconds() / 3_600
            report.dropped += await self.outbox.settle(
                too_old, state=OutboxState.DROPPED, last_error=f"not delivered within {hours:g} h"
            )
            ALERT_DELIVERIES.labels(outcome="dropped").inc(len(too_old))
            log.warning("dropped %d alerts of tenant %s older than %g h", len(too_old), tenant_id, hours)
        pending = [entry for entry in pending if entry not in too_old]
        due = [entry for entry in pending if entry.next_attempt_ms <= now_ms]
        if not due:
            return
        target = await self.targets.get(tenant_id)
        if target is None:
            report.unrouted += await self.outbox.settle(
                due, state=OutboxState.UNROUTED, last_error="no Telegram chat is set for the tenant"
            )
            ALERT_DELIVERIES.labels(outcome="unrouted").inc(len(due))
            return
        due = await self._outside_quiet_hours(target, due, now, report)
        if due:
            due = await self._within_rate_limit(target, due, now, report)
        if due:
            await self._send(tenant_id, target, due, now, report)

    async def _outside_quiet_hours(
        self, target: TelegramTarget, due: list[OutboxEntry], now: datetime, report: PassReport
    ) -> list[OutboxEntry]:
        """The entries that may go now; the others wait for the end of the quiet hours."""
        quiet = target.quiet_hours
        if quiet is None or not quiet.contains(now):
            return due
        held = [entry for entry in due if entry.severity is not Severity.CRITICAL]
        if held:
            wake = epoch_ms(quiet.ends_after(now))
            await self.outbox.settle(held, next_attempt_ms=wake)
            report.held[held[0].tenant_id] = len(held)
            ALERT_DELIVERIES.labels(outcome="quiet").inc(len(held))
        return [entry for entry in due if entry.severity is Severity.CRITICAL]

    async def _within_rate_limit(
        self, target: TelegramTarget, due: list[OutboxEntry], now: datetime, report: PassReport
    ) -> list[OutboxEntry]:
        """All of `due` when the chat may get a message now; else none, rescheduled for when it may."""
        window_ms = int(self.policy.rate_window.total_seconds() * 1_000)
        now_ms = epoch_ms(now)
        sent = await self.outbox.deliveries_since(due[0].tenant_id, target.chat_hash, now_ms - window_ms)
        if len(sent) < self.policy.rate_limit:
            return due
        # The chat gets its next message when the oldest one in the window leaves it; what waits until then
        # goes out together in that message.
        frees_at = sorted(sent)[len(sent) - self.policy.rate_limit] + window_ms + 1
        await self.outbox.settle(due, next_attempt_ms=frees_at)
        report.held[due[0].tenant_id] = len(due)
        ALERT_DELIVERIES.labels(outcome="rate_limited").inc(len(due))
        return []

    async def _send(
        self,
        tenant_id: str,
        target: TelegramTarget,
        due: list[OutboxEntry],
        now: datetime,
        report: PassReport,
    ) -> None:
        now_ms = epoch_ms(now)
        text, included = render_message(due)
        try:
            await self.telegram.send_message(target.bot_token.get_secret_value(), target.chat_id, text)
        except TelegramError as exc:
            for entry in included:
                attempts = entry.attempts + 1
                wait_ms = int(self.policy.backoff_s(attempts, exc) * 1_000)
                await self.outbox.settle(
                    [entry], attempts=attempts, next_attempt_ms=now_ms + wait_ms, last_error=exc.message
                )
            report.failed[tenant_id] = exc.message
            ALERT_DELIVERIES.labels(outcome="retry").inc(len(included))
            log.warning("alerts of tenant %s not delivered (%s); retrying later", tenant_id, exc.message)
            return
        delivery = new_id()
        for entry in included:
            await self.outbox.settle(
                [entry],
                state=OutboxState.SENT,
                attempts=entry.attempts + 1,
                sent_ms=now_ms,
                delivery_id=delivery,
                chat_hash=target.chat_hash,
                last_error=None,
            )
        report.sent[tenant_id] = len(included)
        ALERT_DELIVERIES.labels(outcome="sent").inc(len(included))
