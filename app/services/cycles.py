"""Sync and optimize cycles, and the reads built on them (scores, decisions, shadow report; channel pages apart)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson

from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.domain.decision import DecisionKind, DecisionStatus
from app.domain.execution import ExecutionMode
from app.domain.policy import PolicySource
from app.errors import DomainError, InvalidInputError, NotFoundError, UpstreamError, UpstreamTemporaryError
from app.observability.metrics_cycles import count_decisions, cycle_phase
from app.services.channel_pages import ChannelPages
from app.services.execution import DecisionExpiredError, ExecutionService
from app.services.node_settings import parse_node_settings
from app.services.observe import Observation, ObserveService
from app.services.rollout import CYCLE_FAILED_METRIC, RolloutService, effective_mode, require_mode
from app.services.runtime import ServiceRuntime
from app.services.views import score_view
from app.storage.paging import Page
from app.storage.records import DecisionRecord, MetricPoint, NodeRecord, NodeUpdate, PolicyRecord
from app.storage.shadow_report import ShadowReport

# Decisions also change outside the node's invalidations (expiry, execution outcomes): a page lives this long.
DECISIONS_MAX_AGE_S = 1.0
LISTED_WITHOUT = {"decision": {"breakdown"}}


class CycleService:
    """What the API and the scheduler run against one node; every cycle holds the node's lease."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.observer = ObserveService(runtime)
        self.rollouts = RolloutService(runtime.storage, runtime.settings, runtime.alerts, runtime.clock)
        self.execution = ExecutionService(runtime, self.rollouts)
        self.channels = ChannelPages(runtime)

    async def sync(self, node: NodeRecord, actor: str) -> dict[str, Any]:
        """Observe and score the node; store the snapshot and the policy changes seen; no decisions are kept."""
        async with self.runtime.locks.hold(node.tenant_id, node.id, "sync"):
            observation = await self._observe(node, actor)
        return {
            "cycle_id": observation.cycle_id,
            "channels": len(observation.report.evaluations),
            "seconds": round(observation.seconds, 3),
            "external_changes": len(observation.external_changes),
        }

    async def optimize(self, node: NodeRecord, mode: ExecutionMode | None, actor: str) -> dict[str, Any]:
        """Observe, decide, validate and store every decision; in canary or live mode, write the approved ones.

        Without a mode the node's own setting applies, stepped down to what its rollout stage allows; an
        explicit mode the stage does not allow is refused (409 mode_not_allowed).
        """
        storage = self.runtime.storage
        settings = parse_node_settings(node.settings, self.runtime.profiles, self.runtime.settings.profile)
        async with self.runtime.locks.hold(node.tenant_id, node.id, "optimize") as lock:
            rollout = await self.rollouts.state(node)  # read under the lease: a demotion may just have run
            if mode is None:
                mode = effective_mode(rollout, settings.mode)
            require_mode(rollout.stage, mode, node.id)
            with cycle_phase("observe"):
                observation = await self._observe(node, actor)
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
            count_decisions(records)
            with cycle_phase("decide"):
                await self._supersede(node, observation.cycle_id)
                await storage.decisions.add_many(records)
            execution = None
            if mode is ExecutionMode.SHADOW:
                await self._record_shadow(node, records, observation, actor)
            else:
                with cycle_phase("execute"):
                    execution = await self.execution.run_cycle(
                        node, observation, records, mode, rollout, actor, lock
                    )
        return {
            "cycle_id": observation.cycle_id,
            "mode": mode.value,
            "profile": observation.profile.name,
            "seconds": round(observation.seconds, 3),
            **observation.report.summary(),
            "external_changes": len(observation.external_changes),
            "execution": execution,
        }

    async def _observe(self, node: NodeRecord, actor: str) -> Observation:
        """Observe within the sync deadline; the outcome is kept on the node, a failure as rollout evidence."""
        deadline = self.runtime.settings.sync_deadline_s
        try:
            try:
                async with asyncio.timeout(deadline):
                    observation = await self.observer.observe(node, actor)
            except TimeoutError:
                raise UpstreamTemporaryError(
                    f"the sync of node {node.id} did not finish within {deadline:g} s", {"node": node.id}
                ) from None
        except UpstreamError as exc:
            await self._record_failure(node, exc)
            raise
        return observation

    async def _record_failure(self, node: NodeRecord, exc: UpstreamError) -> None:
        now = self.runtime.clock()
        point = MetricPoint(
            tenant_id=node.tenant_id,
            node_id=node.id,
            timestamp=now,
            name=CYCLE_FAILED_METRIC,
            value=1.0,
            labels={"code": exc.code},
        )
        with contextlib.suppress(DomainError):
            await self.runtime.storage.metrics.record([point])
        failed = NodeUpdate(last_error=exc.message, last_error_at=now)  # a success is marked by the observer
        with contextlib.suppress(DomainError):  # best effort: deleted meanwhile, or storage down
            await self.runtime.storage.nodes.update(node.tenant_id, node.id, failed)
            await self.runtime.cache.invalidate_node(node.tenant_id, node.id)

    async def _supersede(self, node: NodeRecord, cycle_id: str) -> None:
        """Decisions still waiting from older cycles expire: this cycle decides afresh."""
        decisions = self.runtime.storage.decisions
        await decisions.expire_pending(
            node.tenant_id, node.id, [DecisionStatus.NEEDS_APPROVAL], keep_cycle=cycle_id
        )
        await decisions.expire_pending(
            node.tenant_id,
            node.id,
            [DecisionStatus.APPROVED],
            modes=[ExecutionMode.CANARY, ExecutionMode.LIVE],
            keep_cycle=cycle_id,
        )

    async def _record_shadow(
        self, node: NodeRecord, records: list[DecisionRecord], observation: Observation, actor: str
    ) -> None:
        """What shadow mode would have written, as policy history."""
        shadow = [
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
            for record in records
            if record.status is DecisionStatus.APPROVED and record.kind.writes_policy
        ]
        await self.runtime.storage.policies.add_many(shadow)

    async def score_body(self, node: NodeRecord, chan_id: str) -> bytes:
        """The score breakdown as JSON bytes, remembered in this process until the node is invalidated."""

        async def load() -> bytes:
            return orjson.dumps(await self.score(node, chan_id))

        return await self.runtime.cache.remembered(
            ("score", node.tenant_id, node.id, chan_id),
            load,
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=TtlClass.SCORES.seconds,
            size=len,
        )

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

    async def decisions_body(
        self,
        node: NodeRecord,
        status: DecisionStatus | None,
        kind: DecisionKind | None,
        limit: int,
        cursor: str | None,
    ) -> bytes:
        """A page of decisions as JSON bytes, remembered in this process for `DECISIONS_MAX_AGE_S`.

        Decisions change outside the node's invalidations too (expiry, execution outcomes), so a page is
        served that long (plus one reload); a review through this replica drops the tenant's pages at once.
        """

        async def load() -> bytes:
            page = await self.decisions(node, status, kind, limit, cursor)
            # The list leaves out each decision's score breakdown (the eight heuristics with their facts,
            # two thirds of a record): GET /api/v1/decisions/{id} has it. A page of 50 was ~200 KB.
            items = [record.model_dump(mode="json", exclude=LISTED_WITHOUT) for record in page.items]
            return orjson.dumps({"items": items, "next_cursor": page.next_cursor})

        return await self.runtime.cache.remembered(
            ("decisions", node.tenant_id, node.id, status, kind, limit, cursor),
            load,
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=DECISIONS_MAX_AGE_S,
            size=len,
        )

    async def decision(self, tenant_id: str, decision_id: str) -> DecisionRecord:
        """One decision of the tenant in full, its score breakdown included (404 for another tenant's)."""
        return await self.runtime.storage.decisions.get(tenant_id, decision_id)

    async def review(self, tenant_id: str, decision_id: str, approve: bool, actor: str) -> DecisionRecord:
        """Approve a decision waiting for an operator (a live or canary one is written at once), or reject one.

        An approval is checked again at write time: the decision must be younger than the maximum age and
        pass the gate on the node's fresh policy; otherwise it is refused and marked expired or rejected.
        """
        try:
            return await self._review(tenant_id, decision_id, approve, actor)
        finally:
            # The reviewer's next list shows the change: this process forgets the tenant's remembered pages.
            self.runtime.cache.records.drop_tenant(tenant_id)

    async def _review(self, tenant_id: str, decision_id: str, approve: bool, actor: str) -> DecisionRecord:
        runtime = self.runtime
        storage = runtime.storage
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
        if not approve:
            updated = await storage.decisions.set_status(
                tenant_id, decision_id, record.status, DecisionStatus.REJECTED, actor
            )
            await self.execution.audit_review(updated, approve=False, actor=actor)
            return updated
        try:
            self.execution.check_fresh(record, runtime.clock())
        except DecisionExpiredError:
            await storage.decisions.settle(
                tenant_id, decision_id, frozenset({record.status}), DecisionStatus.EXPIRED
            )
            raise
        if record.mode is ExecutionMode.SHADOW:
            updated = await storage.decisions.set_status(
                tenant_id, decision_id, record.status, DecisionStatus.APPROVED, actor
            )
            await self.execution.audit_review(updated, approve=True, actor=actor)
            return updated
        node = await storage.nodes.get(tenant_id, record.node_id)
        async with runtime.locks.hold(tenant_id, node.id, "approve") as lock:
            rollout = await self.rollouts.state(node)
            require_mode(rollout.stage, record.mode, node.id)
            approved = await storage.decisions.set_status(
                tenant_id, decision_id, record.status, DecisionStatus.APPROVED, actor
            )
            await self.execution.audit_review(approved, approve=True, actor=actor)
            await self.execution.apply_approved(node, approved, rollout, actor, lock)
        return await storage.decisions.get(tenant_id, decision_id)

    async def shadow_report(self, node: NodeRecord, days: int) -> ShadowReport:
        """What shadow mode would have changed, per day and per channel."""
        return await self.runtime.storage.decisions.shadow_report(node.tenant_id, node.id, days=days)
