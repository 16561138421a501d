"""Progressive activation per node: shadow -> canary(1) -> canary(5) -> live, each step behind its gate.

A promotion needs the gate of the current stage to pass and an operator to ask for it (or the node's
`auto_promote` setting, which then needs every check to pass). A writing stage whose own evidence turns
bad (a write not proven applied, an automatic rollback) is demoted one stage, and an alert is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from app.clock import Clock, system_clock
from app.domain.execution import ChannelOutcome, ExecutionMode, RolloutStage, TransactionKind
from app.domain.forwarding import ForwardingEvent
from app.errors import ConflictError
from app.nodes.base import NodeClient
from app.policy.rollout import (
    UNSAFE_CODES,
    CanaryEvidence,
    FlowComparison,
    GateReport,
    RolloutRules,
    ShadowEvidence,
    canary_gate,
    demotion_reasons,
    shadow_gate,
)
from app.services.actors import HEALTH_ACTOR
from app.services.alerts import Alert, AlertSink
from app.services.history import SYNC_METRIC
from app.settings import Settings
from app.storage.database import Storage
from app.storage.execution_records import RolloutRecord, StageChange
from app.storage.fields import bson_utc
from app.storage.records import AuditRecord, NodeRecord

log = logging.getLogger(__name__)
CYCLE_FAILED_METRIC = "cycle.failed"
BASELINE_DAYS = 14
DAY_S = 86_400


class ModeNotAllowedError(ConflictError):
    """The node's rollout stage does not allow this execution mode yet."""

    code = "mode_not_allowed"


class PromotionRefusedError(ConflictError):
    """The gate to the next stage has not passed."""

    code = "promotion_refused"


class RolloutStatus(BaseModel):
    """A node's stage, what it may run, and the gate to the next stage."""

    stage: RolloutStage
    entered_at: datetime
    allowed_modes: list[ExecutionMode]
    canary_channels: list[str]
    gate: GateReport
    gate_passed: bool
    operator_may_promote: bool
    history: list[StageChange]


def rules_from(settings: Settings) -> RolloutRules:
    """The gate thresholds configured for this service."""
    return RolloutRules(
        shadow_days=settings.rollout_shadow_days,
        canary_days=settings.rollout_canary_days,
        min_cycles=settings.rollout_min_cycles,
        min_forwards=settings.rollout_min_forwards,
        tolerance=settings.rollout_tolerance,
    )


def require_mode(stage: RolloutStage, mode: ExecutionMode, node_id: str) -> None:
    """Refuse a mode the node's stage does not allow, naming what would allow it."""
    if mode in stage.allowed_modes:
        return
    needed = next(candidate for candidate in RolloutStage if mode in candidate.allowed_modes)
    raise ModeNotAllowedError(
        f"mode {mode.value!r} is not allowed while the node is at rollout stage {stage.value!r}; "
        f"it needs stage {needed.value!r} (promote with POST /api/v1/nodes/{node_id}/rollout)",
        {"stage": stage.value, "allowed_modes": [m.value for m in stage.allowed_modes]},
    )


def effective_mode(record: RolloutRecord, wanted: ExecutionMode) -> ExecutionMode:
    """The node's mode, stepped down to what its stage allows (after a demotion)."""
    allowed = record.stage.allowed_modes
    return wanted if wanted in allowed else allowed[-1]


class RolloutService:
    """Reads, promotes, demotes and enforces a node's rollout stage."""

    def __init__(
        self, storage: Storage, settings: Settings, alerts: AlertSink, clock: Clock = system_clock
    ) -> None:
        self.storage = storage
        self.rules = rules_from(settings)
        self.alerts = alerts
        self.clock = clock

    async def state(self, node: NodeRecord) -> RolloutRecord:
        """The node's rollout record; a node never promoted is in shadow since it was registered."""

        def initial(record: RolloutRecord) -> RolloutRecord | None:
            return None if record.version else record.model_copy(update={"entered_at": node.created_at})

        return await self.storage.rollouts.change(node.tenant_id, node.id, initial)

    async def status(self, node: NodeRecord, client: NodeClient | None) -> RolloutStatus:
        """Stage, allowed modes, canary channels and the gate to the next stage."""
        record = await self.state(node)
        gate = await self.gate(node, record, client)
        return RolloutStatus(
            stage=record.stage,
            entered_at=record.entered_at,
            allowed_modes=list(record.stage.allowed_modes),
            canary_channels=record.canary_channels,
            gate=gate,
            gate_passed=gate.passed,
            operator_may_promote=gate.operator_may_promote,
            history=record.history,
        )

    async def gate(self, node: NodeRecord, record: RolloutRecord, client: NodeClient | None) -> GateReport:
        """The checks between the node's stage and the next one (none from live)."""
        report = GateReport(stage=record.stage, next_stage=record.stage.next)
        if record.stage is RolloutStage.SHADOW:
            report.checks.extend(shadow_gate(await self.shadow_evidence(node, record), self.rules))
        elif record.stage.next is not None:
            report.checks.extend(canary_gate(await self.canary_evidence(node, record, client), self.rules))
        return report

    async def promote(
        self, node: NodeRecord, actor: str, reason: str, client: NodeClient | None
    ) -> RolloutStatus:
        """Move to the next stage if its gate lets an operator do so."""
        record = await self.state(node)
        gate = await self.gate(node, record, client)
        if not gate.operator_may_promote:
            blocking = [check for check in gate.checks if check.status.value in ("failed", "pending")]
            raise PromotionRefusedError(
                f"the gate from {record.stage.value} is not passed"
                + (
                    ": " + "; ".join(f"{c.name}: {c.detail}" for c in blocking)
                    if blocking
                    else " (already live)"
                ),
                {
                    "stage": record.stage.value,
                    "checks": [check.model_dump(mode="json") for check in gate.checks],
                },
            )
        assert record.stage.next is not None
        await self._move(node, record, record.stage.next, actor, reason or "promoted by an operator")
        return await self.status(node, client)

    async def demote(self, node: NodeRecord, actor: str, reason: str) -> RolloutRecord:
        """Step back one stage (no-op in shadow) and alert."""
        record = await self.state(node)
        target = record.stage.previous
        if target is None:
            return record
        moved = await self._move(node, record, target, actor, reason)
        await self.alerts.send(
            Alert(
                kind="rollout.demoted",
                tenant_id=node.tenant_id,
                node_id=node.id,
                message=f"node {node.name} demoted {record.stage.value} -> {target.value}: {reason}",
            )
        )
        return moved

    async def enforce(
        self, node: NodeRecord, client: NodeClient | None, auto_promote: bool, actor: str
    ) -> str | None:
        """Demote a writing stage whose evidence turned bad; promote when allowed and every check passed."""
        record = await self.state(node)
        if record.stage is not RolloutStage.SHADOW:
            evidence = await self.canary_evidence(node, record, client)
            reasons = demotion_reasons(evidence)
            if reasons:
                await self.demote(node, actor, "; ".join(reasons))
                return "demoted"
        if auto_promote and record.stage.next is not None:
            gate = await self.gate(node, record, client)
            if gate.passed:
                await self._move(
                    node, record, record.stage.next, actor, "automatic promotion: every check passed"
                )
                return "promoted"
        return None

    async def canary_set(
        self,
        node: NodeRecord,
        record: RolloutRecord,
        named: Sequence[str],
        candidates: Sequence[tuple[str, int, int]],
        existing: set[str],
    ) -> list[str]:
        """The channels a canary run may write: the operator's named ones, else the lowest-risk ones picked.

        `candidates` are (chan_id, fee revenue msat in the window, capacity sat) of channels with a writing
        proposal this cycle. Picked channels are kept in the rollout record and stay the canary while the
        node still has them (a canary in its cooldown simply writes nothing that cycle); only empty places
        are filled, lowest revenue first, then smallest.
        """
        size = record.stage.canary_size
        if named:
            return list(named)[:size]
        kept = [chan_id for chan_id in record.canary_channels if chan_id in existing][:size]
        ranked = sorted((c for c in candidates if c[0] not in kept), key=lambda c: (c[1], c[2], c[0]))
        chosen = kept + [c[0] for c in ranked][: size - len(kept)]
        if chosen != record.canary_channels:
            await self.storage.rollouts.change(
                node.tenant_id, node.id, lambda r: r.model_copy(update={"canary_channels": chosen})
            )
        return chosen

    # --- evidence ----------------------------------------------------------------------------------------

    async def shadow_evidence(self, node: NodeRecord, record: RolloutRecord) -> ShadowEvidence:
        """Cycles, unsafe proposals and node errors since the node entered shadow."""
        now = self.clock()
        since = record.entered_at
        metrics = self.storage.metrics
        # Counted on the server: a node syncing every few minutes has thousands of samples in a stage.
        cycles = await metrics.count(node.tenant_id, node.id, SYNC_METRIC, since=since, until=now)
        errors = await metrics.count(node.tenant_id, node.id, CYCLE_FAILED_METRIC, since=since, until=now)
        unsafe = await self.storage.decisions.rejected_with_codes_since(
            node.tenant_id, node.id, since, UNSAFE_CODES
        )
        return ShadowEvidence(
            days_in_stage=(now - since).total_seconds() / DAY_S,
            cycles=cycles,
            unsafe_proposals=unsafe,
            node_errors=errors,
        )

    async def canary_evidence(
        self, node: NodeRecord, record: RolloutRecord, client: NodeClient | None
    ) -> CanaryEvidence:
        """Writes, proofs, automatic rollbacks and flow on the written channels since the stage began."""
        now = self.clock()
        transactions = await self.storage.transactions.since(node.tenant_id, node.id, record.entered_at)
        writes = unverified = rollbacks = 0
        written: set[str] = set()
        first_write: datetime | None = None
        for transaction in transactions:
            if transaction.kind is TransactionKind.ROLLBACK and transaction.actor == HEALTH_ACTOR:
                rollbacks += 1
            if transaction.kind is not TransactionKind.APPLY or not transaction.state.terminal:
                continue  # a batch still resolving its outcomes is judged once it has
            for entry in await self.storage.journal.for_transaction(node.tenant_id, transaction.id):
                if not entry.attempts:
                    continue
                writes += 1
                written.add(entry.chan_id)
                first_write = first_write or transaction.created_at
                if entry.outcome not in (ChannelOutcome.APPLIED, ChannelOutcome.RESTORED):
                    unverified += 1
        flow = None
        if client is not None and client.capabilities.forwarding_history and first_write is not None:
            flow = await self._flow(client, written, first_write, now)
        elif client is not None and client.capabilities.forwarding_history:
            flow = FlowComparison(BASELINE_DAYS, 0.0, 0, 0, 0, 0)
        return CanaryEvidence(
            days_in_stage=(now - record.entered_at).total_seconds() / DAY_S,
            writes=writes,
            unverified_writes=unverified,
            automatic_rollbacks=rollbacks,
            flow=flow,
        )

    @staticmethod
    async def _flow(
        client: NodeClient, channels: set[str], first_write: datetime, now: datetime
    ) -> FlowComparison:
        start = first_write - timedelta(days=BASELINE_DAYS)
        events = await client.forwarding_history(int(start.timestamp()), int(now.timestamp()) + 1)
        split_ns = int(first_write.timestamp() * 1e9)
        before = [
            event for event in events if event.chan_id_out in channels and event.timestamp_ns < split_ns
        ]
        after = [
            event for event in events if event.chan_id_out in channels and event.timestamp_ns >= split_ns
        ]
        return FlowComparison(
            baseline_days=BASELINE_DAYS,
            elapsed_days=max(0.0, (now - first_write).total_seconds() / DAY_S),
            revenue_before_msat=_fees(before),
            revenue_after_msat=_fees(after),
            forwards_before=len(before),
            forwards_after=len(after),
        )

    async def _move(
        self, node: NodeRecord, record: RolloutRecord, stage: RolloutStage, actor: str, reason: str
    ) -> RolloutRecord:
        now = bson_utc(self.clock())
        change = StageChange(
            from_stage=record.stage, to_stage=stage, at=now, actor=actor, reason=reason[:500]
        )

        def move(current: RolloutRecord) -> RolloutRecord | None:
            if current.stage is not record.stage:
                raise ConflictError(
                    f"the rollout stage of node {node.id} changed meanwhile (now {current.stage.value})"
                )
            return current.model_copy(
                update={"stage": stage, "entered_at": now, "history": [*current.history, change][-100:]}
            )

        moved = await self.storage.rollouts.change(node.tenant_id, node.id, move)
        await self.storage.audit.add(
            AuditRecord(
                tenant_id=node.tenant_id,
                at=now,
                actor=actor,
                action="rollout.promote" if _rank(stage) > _rank(record.stage) else "rollout.demote",
                outcome=stage.value,
                node_id=node.id,
                target=f"node {node.id}",
                details={"reason": reason[:300]},
                before={"stage": record.stage.value},
                after={"stage": stage.value},
            )
        )
        log.warning("rollout of node %s: %s -> %s (%s)", node.id, record.stage.value, stage.value, reason)
        return moved


def _rank(stage: RolloutStage) -> int:
    return list(RolloutStage).index(stage)


def _fees(events: Sequence[ForwardingEvent]) -> int:
    return sum(event.fee_msat for event in events)
