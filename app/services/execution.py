"""Live and canary execution: a cycle's approved decisions, or an operator's approval, become a journaled batch."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from app.alerts.triggers import alert_on_transaction
from app.domain.decision import DecisionStatus
from app.domain.execution import ExecutionMode, TransactionKind
from app.domain.validation import IssueCode, ValidationIssue, ValidationResult, Verdict
from app.errors import ConflictError, InvalidInputError
from app.nodes.base import NodeClient
from app.observability.metrics_cycles import count_batch
from app.policy.driver import DriverSettings
from app.policy.effects import TransactionEffects
from app.policy.executor import BatchIntent, BatchReport, Executor, Proposal
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits
from app.services.history import PolicyHistoryService
from app.services.locks import NodeLock
from app.services.node_settings import parse_node_settings
from app.services.observe import Observation
from app.services.rollout import RolloutService, require_mode
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import RolloutRecord, TransactionRecord
from app.storage.records import AuditRecord, DecisionRecord, NodeRecord

REJECTABLE = frozenset({DecisionStatus.APPROVED, DecisionStatus.NEEDS_APPROVAL})


class DecisionExpiredError(ConflictError):
    """The decision is too old, or a newer cycle superseded it: decide again."""

    code = "decision_expired"


def driver_settings(runtime: ServiceRuntime) -> DriverSettings:
    """Driver tunables from the service settings."""
    return DriverSettings(
        write_concurrency=runtime.settings.write_concurrency,
        unknown_settle_s=runtime.settings.unknown_settle_s,
    )


def make_executor(
    runtime: ServiceRuntime, client: NodeClient, limits: SafetyLimits, lock: NodeLock
) -> Executor:
    """An executor for one node, writing only while `lock` is held."""
    effects = TransactionEffects(runtime.storage, runtime.clock, runtime.cache.invalidate_node)
    return Executor(
        runtime.storage, client, limits, runtime.clock, driver_settings(runtime), effects, lock.held
    )


def transaction_summary(transaction: TransactionRecord | None, report: BatchReport) -> dict[str, Any]:
    """What an API caller sees of a batch: its id, state and outcomes, and why channels were left out."""
    refused = Counter(issue.code.value for result in report.refused.values() for issue in result.issues)
    return {
        "transaction_id": transaction.id if transaction else None,
        "state": transaction.state.value if transaction else None,
        "outcomes": transaction.counts if transaction else {},
        "refused_at_write_time": len(report.refused),
        "refused_by_code": dict(sorted(refused.items())),
        "skipped": report.skipped,
    }


class ExecutionService:
    """Runs batches for cycles and approvals; the caller holds the node's lease."""

    def __init__(self, runtime: ServiceRuntime, rollouts: RolloutService) -> None:
        self.runtime = runtime
        self.rollouts = rollouts
        self.history = PolicyHistoryService(runtime.storage)

    async def run_cycle(
        self,
        node: NodeRecord,
        observation: Observation,
        records: list[DecisionRecord],
        mode: ExecutionMode,
        rollout: RolloutRecord,
        actor: str,
        lock: NodeLock,
    ) -> dict[str, Any]:
        """Write the cycle's approved decisions (only the canary channels in canary mode)."""
        writing = [r for r in records if r.status in REJECTABLE and r.kind.writes_policy]
        outside: list[DecisionRecord] = []
        canary: list[str] = []
        if mode is ExecutionMode.CANARY:
            settings = parse_node_settings(
                node.settings, self.runtime.profiles, self.runtime.settings.profile
            )
            revenue = _revenue_by_channel(observation)
            capacity = {e.channel.chan_id: e.channel.capacity_sat for e in observation.report.evaluations}
            # Picked among every writing proposal, so a node that needs manual approval gets a canary too.
            candidates = [(r.chan_id, revenue.get(r.chan_id, 0), capacity.get(r.chan_id, 0)) for r in writing]
            existing = set(capacity)
            canary = await self.rollouts.canary_set(
                node, rollout, settings.canary_channels, candidates, existing
            )
            outside = [r for r in writing if r.chan_id not in canary]
            writing = [r for r in writing if r.chan_id in canary]
        approved = [r for r in writing if r.status is DecisionStatus.APPROVED]
        channels = {e.channel.chan_id: e.channel for e in observation.report.evaluations}
        proposals = [Proposal(channels[r.chan_id], r.decision, r.id) for r in approved]
        reason = f"{mode.value} cycle {observation.cycle_id}"
        limits = observation.profile.limits
        report = await self._apply(node, mode, actor, reason, limits, lock, proposals, observation.history)
        for record in outside:
            await self.runtime.storage.decisions.settle(
                node.tenant_id,
                record.id,
                REJECTABLE,
                DecisionStatus.REJECTED,
                validation=_not_in_canary(record),
            )
        summary = transaction_summary(report.transaction, report)
        if mode is ExecutionMode.CANARY:
            summary |= {"canary_channels": canary, "outside_canary": len(outside)}
        return summary

    async def apply_approved(
        self, node: NodeRecord, record: DecisionRecord, rollout: RolloutRecord, actor: str, lock: NodeLock
    ) -> dict[str, Any]:
        """Write one operator-approved decision of a live or canary cycle, gated again on a fresh read."""
        runtime = self.runtime
        require_mode(rollout.stage, record.mode, node.id)
        settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
        profile = settings.effective_profile(runtime.profiles, runtime.settings.profile)
        size = rollout.stage.canary_size
        canary = list(settings.canary_channels)[:size] or rollout.canary_channels[:size]
        if record.mode is ExecutionMode.CANARY and record.chan_id not in canary:
            raise InvalidInputError(
                f"channel {record.chan_id} is not a canary channel of node {node.id} at stage "
                f"{rollout.stage.value}; canary mode writes only {', '.join(canary) or 'its canary channels'}",
                {"chan_id": record.chan_id, "canary_channels": canary},
            )
        snapshot = await runtime.storage.channels.latest(node.tenant_id, node.id, record.chan_id)
        if snapshot is None:
            raise InvalidInputError(f"channel {record.chan_id} has no snapshot; run a sync first")
        history = await self.history.gate_history(node, profile.limits, runtime.clock())
        proposal = Proposal(snapshot.channel, record.decision, record.id, operator_approved=True)
        reason = f"decision {record.id} approved by {actor}"
        report = await self._apply(
            node, record.mode, actor, reason, profile.limits, lock, [proposal], history
        )
        return transaction_summary(report.transaction, report)

    async def _apply(
        self,
        node: NodeRecord,
        mode: ExecutionMode,
        actor: str,
        reason: str,
        limits: SafetyLimits,
        lock: NodeLock,
        proposals: list[Proposal],
        history: ChangeHistory,
    ) -> BatchReport:
        """One apply batch of the node; decisions the write-time gate refuses become rejected."""
        client = await self.runtime.clients.get(node, actor)
        executor = make_executor(self.runtime, client, limits, lock)
        intent = BatchIntent(
            tenant_id=node.tenant_id,
            node_id=node.id,
            actor=actor,
            kind=TransactionKind.APPLY,
            reason=reason,
            mode=mode,
        )
        report = await executor.apply(intent, proposals, history)
        await alert_on_transaction(self.runtime.alerts, report.transaction)  # failed or partial: wake someone
        count_batch(report.transaction, report.refused.values())
        await self._reject(node, report, proposals)
        return report

    def check_fresh(self, record: DecisionRecord, now: datetime) -> None:
        """Refuse a decision older than the maximum age (it is marked expired by the caller)."""
        limit = timedelta(hours=self.runtime.settings.decision_max_age_hours)
        if now - record.created_at > limit:
            raise DecisionExpiredError(
                f"decision {record.id} was made at {record.created_at:%Y-%m-%d %H:%M:%S} UTC, more than "
                f"{self.runtime.settings.decision_max_age_hours:g} h ago; a new cycle will decide again",
                {"decision_id": record.id, "created_at": record.created_at.isoformat()},
            )

    async def _reject(self, node: NodeRecord, report: BatchReport, proposals: list[Proposal]) -> None:
        """Decisions the write-time gate refused become rejected, with the write-time reasons."""
        ids = {proposal.channel.chan_id: proposal.decision_id for proposal in proposals}
        for chan_id, result in report.refused.items():
            decision_id = ids.get(chan_id)
            if decision_id is not None:
                await self.runtime.storage.decisions.settle(
                    node.tenant_id, decision_id, REJECTABLE, DecisionStatus.REJECTED, validation=result
                )

    async def audit_review(self, record: DecisionRecord, approve: bool, actor: str) -> None:
        """Record an operator's approval or rejection."""
        await self.runtime.storage.audit.add(
            AuditRecord(
                tenant_id=record.tenant_id,
                actor=actor,
                action="decision.approve" if approve else "decision.reject",
                outcome="approved" if approve else "rejected",
                node_id=record.node_id,
                target=f"decision {record.id}",
                details={"chan_id": record.chan_id, "kind": record.kind.value, "mode": record.mode.value},
                before=record.decision.current_policy.model_dump(mode="json"),
                after=record.decision.proposed_policy.model_dump(mode="json"),
            )
        )


def _revenue_by_channel(observation: Observation) -> dict[str, int]:
    revenue: Counter[str] = Counter()
    for event in observation.snapshot.forwards or ():
        revenue[event.chan_id_out] += event.fee_msat
    return dict(revenue)


def _not_in_canary(record: DecisionRecord) -> ValidationResult:
    issue = ValidationIssue(
        code=IssueCode.NOT_IN_CANARY, message="canary mode writes only the node's canary channels"
    )
    return ValidationResult(chan_id=record.chan_id, verdict=Verdict.REJECTED, issues=[issue])
