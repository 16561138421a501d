"""Policy history as data: first sightings, our proven writes and changes made outside the service.

Every sync compares what it read with the last policy the service knows each channel to have. A
difference the service did not make (our own writes update the known policy when they are proven) is
recorded as `external`: it starts the channel's cooldown, and the optimizer leaves the channel alone for
the external hold (7 days by default) instead of fighting whoever changed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel
from app.domain.forwarding import PolicyChange
from app.domain.policy import PolicySource
from app.policy.executor import busy_channels
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits
from app.storage.database import Storage
from app.storage.execution_records import KnownPolicy, PolicyStateRecord
from app.storage.records import AuditRecord, NodeRecord, PolicyRecord

SYNC_METRIC = "sync.completed"
# Sources that are changes of a channel's policy (a first sighting is a baseline, not a change).
CHANGE_SOURCES = (PolicySource.APPLIED, PolicySource.MANUAL, PolicySource.EXTERNAL)


@dataclass(frozen=True)
class ExternalChange:
    """A policy change found on the node that the service did not make."""

    chan_id: str
    before: dict[str, object]
    after: dict[str, object]


class PolicyHistoryService:
    """Records what each sync sees and answers what the gate needs to know about the past."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def record_sync(
        self,
        node: NodeRecord,
        channels: Sequence[Channel],
        capabilities: NodeCapabilities,
        now: datetime,
        actor: str,
    ) -> list[ExternalChange]:
        """Compare the channels' policies with the known ones; record first sightings and external changes.

        Channels of a batch that has not finished (effects included) are skipped: their policy is ours
        or the backup's, and the batch will say which.
        """
        storage = self.storage
        busy = await busy_channels(storage, node.tenant_id, node.id)
        state = await storage.policy_states.load(node.tenant_id, node.id)
        now_s = int(now.timestamp())
        records: list[PolicyRecord] = []
        changes: list[ExternalChange] = []
        for channel in channels:
            if channel.chan_id in busy:
                continue
            known = state.channels.get(channel.chan_id)
            current = channel.local_policy
            if known is None:
                records.append(self._record(node, channel, PolicySource.OBSERVED, now, actor))
            elif not capabilities.policy_matches(current, known.policy):
                records.append(self._record(node, channel, PolicySource.EXTERNAL, now, "node", known))
                changes.append(
                    ExternalChange(
                        channel.chan_id, known.policy.model_dump(mode="json"), current.model_dump(mode="json")
                    )
                )
        if records:
            await storage.policies.add_many(records)
            await storage.audit.add_many([self._audit(node, change, now) for change in changes])

        def update(latest: PolicyStateRecord) -> PolicyStateRecord | None:
            known = dict(latest.channels)
            for record in records:
                known[record.channel_id] = KnownPolicy(policy=record.policy, source=record.source, at_s=now_s)
            return latest.model_copy(update={"channels": known}) if records else None

        await storage.policy_states.change(node.tenant_id, node.id, update)
        return changes

    async def change_history(
        self, node: NodeRecord, limits: SafetyLimits, now: datetime
    ) -> tuple[list[PolicyChange] | None, dict[str, int]]:
        """(changes inside the cooldown, latest external change per channel inside the hold).

        The changes are None (unknown) until the node has been watched for a whole cooldown: before
        that, a change we did not see could still be inside it.
        """
        storage = self.storage
        cooldown = timedelta(seconds=limits.cooldown_s)
        hold = timedelta(seconds=limits.external_hold_s)
        records = await storage.policies.node_history(
            node.tenant_id, node.id, since=now - max(cooldown, hold)
        )
        external: dict[str, int] = {}
        for record in records:
            if record.source is PolicySource.EXTERNAL and record.applied_at >= now - hold:
                external[record.channel_id] = int(record.applied_at.timestamp())
        first = await storage.metrics.series(
            node.tenant_id, node.id, SYNC_METRIC, since=now - timedelta(days=30), limit=1
        )
        if not first or first[0].timestamp > now - cooldown:
            return None, external
        changes = [
            PolicyChange(
                chan_id=record.channel_id,
                changed_at_s=int(record.applied_at.timestamp()),
                fee_rate_ppm=record.policy.fee_rate_ppm,
            )
            for record in records
            if record.source in CHANGE_SOURCES and record.applied_at >= now - cooldown
        ]
        return changes, external

    async def gate_history(self, node: NodeRecord, limits: SafetyLimits, now: datetime) -> ChangeHistory:
        """The change history the gate checks a write against."""
        changes, external = await self.change_history(node, limits, now)
        return ChangeHistory.from_changes(changes, external)

    @staticmethod
    def _record(
        node: NodeRecord,
        channel: Channel,
        source: PolicySource,
        now: datetime,
        actor: str,
        known: KnownPolicy | None = None,
    ) -> PolicyRecord:
        return PolicyRecord(
            tenant_id=node.tenant_id,
            node_id=node.id,
            channel_id=channel.chan_id,
            applied_at=now,
            policy=channel.local_policy,
            previous=known.policy if known else None,
            source=source,
            actor=actor,
        )

    @staticmethod
    def _audit(node: NodeRecord, change: ExternalChange, now: datetime) -> AuditRecord:
        return AuditRecord(
            tenant_id=node.tenant_id,
            at=now,
            actor="node",
            action="policy.external_change",
            outcome="recorded",
            node_id=node.id,
            target=f"channel {change.chan_id}",
            before=change.before,
            after=change.after,
        )
