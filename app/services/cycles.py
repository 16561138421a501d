"""Sync and optimize cycles, and the reads built on them (channels, scores, decisions, shadow report)."""

from __future__ import annotations

from typing import Any

from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.domain.decision import DecisionKind
from app.errors import InvalidInputError, NotFoundError
from app.services.observe import SYNC_METRIC, ObserveService, channels_key
from app.services.runtime import ServiceRuntime
from app.services.views import channel_view, score_view
from app.storage.paging import Page
from app.storage.records import (
    DecisionRecord,
    DecisionStatus,
    ExecutionMode,
    NodeRecord,
    PolicyRecord,
    PolicySource,
)
from app.storage.shadow_report import ShadowReport


class CycleService:
    """What the API and the scheduler run against one node."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.observer = ObserveService(runtime)

    async def sync(self, node: NodeRecord, actor: str) -> dict[str, Any]:
        """Observe and score the node; store the snapshot; no decisions are kept."""
        observation = await self.observer.observe(node, actor)
        return {
            "cycle_id": observation.cycle_id,
            "channels": len(observation.report.evaluations),
            "seconds": round(observation.seconds, 3),
        }

    async def optimize(self, node: NodeRecord, mode: ExecutionMode, actor: str) -> dict[str, Any]:
        """A shadow cycle: observe, decide, validate, and store every decision (nothing is written)."""
        if mode is not ExecutionMode.SHADOW:
            raise InvalidInputError(
                f"mode {mode.value!r} is refused: live and canary execution are not available in this release; "
                "use mode 'shadow'",
                {"mode": mode.value, "allowed": ["shadow"]},
            )
        observation = await self.observer.observe(node, actor)
        records = [
            DecisionRecord.from_decision(
                tenant_id=node.tenant_id,
                node_id=node.id,
                cycle_id=observation.cycle_id,
                decision=e.decision,
                validation=e.validation,
                mode=mode,
                created_at=observation.taken_at,
            )
            for e in observation.report.evaluations
        ]
        await self.runtime.storage.decisions.add_many(records)
        for record in records:
            if record.status is DecisionStatus.APPROVED and record.kind.writes_policy:
                await self.runtime.storage.policies.add(
                    PolicyRecord(
                        tenant_id=node.tenant_id,
                        node_id=node.id,
                        channel_id=record.chan_id,
                        applied_at=observation.taken_at,
                        policy=record.decision.proposed_policy,
                        source=PolicySource.SHADOW,
                        decision_id=record.id,
                        actor=actor,
                    )
                )
        return {
            "cycle_id": observation.cycle_id,
            "mode": mode.value,
            "profile": observation.profile.name,
            "seconds": round(observation.seconds, 3),
            **observation.report.summary(),
        }

    async def channels(self, node: NodeRecord, limit: int, cursor: str | None) -> dict[str, Any]:
        """The latest channel list (hot from cache, else from the last snapshot), paged by chan_id."""
        listing = await self.runtime.cache.get_json(channels_key(node))
        if listing is None:
            listing = await self._channels_from_storage(node)
            await self.runtime.cache.set_json(channels_key(node), listing, TtlClass.CHANNELS)
        items = listing["channels"]
        start = 0
        if cursor:
            start = next((i + 1 for i, item in enumerate(items) if item["chan_id"] == cursor), len(items))
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {
            "cycle_id": listing["cycle_id"],
            "items": page,
            "next_cursor": page[-1]["chan_id"] if more else None,
        }

    async def _channels_from_storage(self, node: NodeRecord) -> dict[str, Any]:
        storage = self.runtime.storage
        last = await storage.metrics.latest(node.tenant_id, node.id, SYNC_METRIC)
        if last is None:
            return {"cycle_id": None, "channels": []}
        cycle_id = last.labels.get("cycle_id", "")
        snapshots = await storage.channels.for_cycle(node.tenant_id, node.id, cycle_id)
        graph = self.runtime.default_graph.graph
        views = [
            channel_view(s.channel, graph.alias_of(s.channel.remote_pubkey) if graph else "", s.score)
            for s in snapshots
        ]
        return {"cycle_id": cycle_id, "channels": views}

    async def score(self, node: NodeRecord, chan_id: str) -> dict[str, Any]:
        """The full score breakdown of one channel from its latest snapshot (cached for 15 min)."""
        key = cache_key(node.tenant_id, node.id, "score", chan_id)
        cached = await self.runtime.cache.get_json(key)
        if cached is not None:
            return dict(cached)
        snapshot = await self.runtime.storage.channels.latest(node.tenant_id, node.id, chan_id)
        if snapshot is None or snapshot.score is None:
            raise NotFoundError(f"no score for channel {chan_id} of node {node.id}; run a sync first")
        view = score_view(chan_id, snapshot.score, snapshot.cycle_id or "")
        await self.runtime.cache.set_json(key, view, TtlClass.SCORES)
        return view

    async def decisions(
        self,
        node: NodeRecord,
        status: DecisionStatus | None,
        kind: DecisionKind | None,
        limit: int,
        cursor: str | None,
    ) -> Page[DecisionRecord]:
        """Stored decisions of the node, newest first."""
        return await self.runtime.storage.decisions.list(
            node.tenant_id, node.id, status=status, kind=kind, limit=limit, cursor=cursor
        )

    async def review(self, tenant_id: str, decision_id: str, approve: bool, actor: str) -> DecisionRecord:
        """Approve a decision waiting for an operator, or reject a pending or approved one."""
        storage = self.runtime.storage
        record = await storage.decisions.get(tenant_id, decision_id)
        allowed = (
            (DecisionStatus.NEEDS_APPROVAL,)
            if approve
            else (DecisionStatus.NEEDS_APPROVAL, DecisionStatus.APPROVED)
        )
        if record.status not in allowed:
            verb = "approved" if approve else "rejected"
            raise InvalidInputError(
                f"decision {decision_id} is {record.status.value} and cannot be {verb}",
                {"status": record.status.value, "allowed_from": [s.value for s in allowed]},
            )
        new = DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED
        return await storage.decisions.set_status(tenant_id, decision_id, record.status, new, actor)

    async def shadow_report(self, node: NodeRecord, days: int) -> ShadowReport:
        """What shadow mode would have changed, per day and per channel."""
        return await self.runtime.storage.decisions.shadow_report(node.tenant_id, node.id, days=days)
