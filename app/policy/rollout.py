"""Progressive activation gates: what a node must show before it may write more (pure rules, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from app.domain.base import DomainModel
from app.domain.execution import RolloutStage
from app.domain.validation import IssueCode

# Refusals that mean the engine proposed something unsafe (not merely "not now", like a cooldown or the cap).
UNSAFE_CODES = frozenset(
    {
        IssueCode.FEE_RATE_OUT_OF_BOUNDS,
        IssueCode.BASE_FEE_OUT_OF_BOUNDS,
        IssueCode.TIME_LOCK_OUT_OF_BOUNDS,
        IssueCode.MAX_HTLC_ABOVE_CAPACITY,
        IssueCode.MIN_HTLC_NOT_POSITIVE,
        IssueCode.MIN_HTLC_ABOVE_MAX_HTLC,
        IssueCode.MAX_HTLC_UNSET,
        IssueCode.STEP_TOO_LARGE,
        IssueCode.INBOUND_FEE_POSITIVE,
        IssueCode.INBOUND_DISCOUNT_EXCEEDS_OUTBOUND,
        IssueCode.UNSUPPORTED_BY_BACKEND,
    }
)


class CheckStatus(StrEnum):
    """How one gate condition stands."""

    PASSED = "passed"
    FAILED = "failed"  # evidence against promotion (and, for a running canary or live node, a demotion)
    PENDING = "pending"  # not enough time or evidence yet
    UNJUDGED = "unjudged"  # the backend cannot give the evidence; only an operator may promote past it


class GateCheck(DomainModel):
    """One condition of a gate, with the figures behind it."""

    name: str
    status: CheckStatus
    detail: str


class GateReport(DomainModel):
    """The gate between a node's stage and the next one."""

    stage: RolloutStage
    next_stage: RolloutStage | None
    checks: list[GateCheck] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every check passed: automatic promotion may go ahead."""
        return self.next_stage is not None and all(
            check.status is CheckStatus.PASSED for check in self.checks
        )

    @property
    def operator_may_promote(self) -> bool:
        """Nothing failed or is pending; checks the backend cannot judge are left to the operator."""
        return self.next_stage is not None and all(
            check.status in (CheckStatus.PASSED, CheckStatus.UNJUDGED) for check in self.checks
        )


@dataclass(frozen=True)
class RolloutRules:
    """Thresholds of the gates (from the settings)."""

    shadow_days: float = 14.0
    canary_days: float = 3.0
    min_cycles: int = 3
    min_forwards: int = 10
    tolerance: float = 0.1


@dataclass(frozen=True)
class ShadowEvidence:
    """What the node showed in shadow since it entered the stage."""

    days_in_stage: float
    cycles: int
    unsafe_proposals: int
    node_errors: int


@dataclass(frozen=True)
class FlowComparison:
    """Fee revenue and forwards of the canary channels before and since their first write."""

    baseline_days: float
    elapsed_days: float
    revenue_before_msat: int
    revenue_after_msat: int
    forwards_before: int
    forwards_after: int

    def expected(self, before: int) -> float:
        """What the baseline rate predicts for the time since the first write."""
        return before / self.baseline_days * self.elapsed_days if self.baseline_days > 0 else 0.0


@dataclass(frozen=True)
class CanaryEvidence:
    """What the node showed while writing (canary or live) since it entered the stage."""

    days_in_stage: float
    writes: int  # channel writes sent
    unverified_writes: int  # sent but not proven applied (refused, not applied, unknown, not restored)
    automatic_rollbacks: int
    flow: FlowComparison | None  # None: the backend reports no forwarding history


def _check(name: str, ok: bool, detail: str, pending: bool = False) -> GateCheck:
    status = CheckStatus.PASSED if ok else CheckStatus.PENDING if pending else CheckStatus.FAILED
    return GateCheck(name=name, status=status, detail=detail)


def shadow_gate(evidence: ShadowEvidence, rules: RolloutRules) -> list[GateCheck]:
    """Shadow -> canary(1): long enough, enough cycles, no unsafe proposal, no node errors."""
    return [
        _check(
            "time_in_stage",
            evidence.days_in_stage >= rules.shadow_days,
            f"{evidence.days_in_stage:.2f} of {rules.shadow_days:g} days in shadow",
            pending=True,
        ),
        _check(
            "shadow_cycles",
            evidence.cycles >= rules.min_cycles,
            f"{evidence.cycles} cycles run, {rules.min_cycles} needed",
            pending=True,
        ),
        _check(
            "no_unsafe_proposal",
            evidence.unsafe_proposals == 0,
            f"{evidence.unsafe_proposals} proposals refused for a hard safety limit",
        ),
        _check(
            "no_node_errors",
            evidence.node_errors == 0,
            f"{evidence.node_errors} cycles failed on node errors",
        ),
    ]


def canary_gate(evidence: CanaryEvidence, rules: RolloutRules) -> list[GateCheck]:
    """Canary -> next: long enough, every write proven, no automatic rollback, flow not worse than before."""
    checks = [
        _check(
            "time_in_stage",
            evidence.days_in_stage >= rules.canary_days,
            f"{evidence.days_in_stage:.2f} of {rules.canary_days:g} days in this stage",
            pending=True,
        ),
        _check("writes_made", evidence.writes > 0, f"{evidence.writes} channel writes made", pending=True),
        _check(
            "every_write_verified",
            evidence.unverified_writes == 0,
            f"{evidence.unverified_writes} of {evidence.writes} writes not proven applied",
        ),
        _check(
            "no_automatic_rollback",
            evidence.automatic_rollbacks == 0,
            f"{evidence.automatic_rollbacks} automatic rollbacks",
        ),
    ]
    return [*checks, *flow_checks(evidence.flow, rules)]


def flow_checks(flow: FlowComparison | None, rules: RolloutRules) -> list[GateCheck]:
    """Revenue and forwards on the canary channels against their own baseline rate."""
    if flow is None:
        detail = "the backend reports no forwarding history, so revenue and success cannot be compared"
        return [GateCheck(name="revenue_not_worse", status=CheckStatus.UNJUDGED, detail=detail)]
    checks = []
    floor = 1 - rules.tolerance
    for name, before, after, unit in (
        ("revenue_not_worse", flow.revenue_before_msat, flow.revenue_after_msat, "msat"),
        ("forwards_not_worse", flow.forwards_before, flow.forwards_after, "forwards"),
    ):
        expected = flow.expected(before)
        expected_forwards = flow.expected(flow.forwards_before)
        detail = (
            f"{after} {unit} in {flow.elapsed_days:.2f} days since the first write; the baseline of "
            f"{flow.baseline_days:g} days predicts {expected:.1f} (at least {expected * floor:.1f} passes)"
        )
        needed = max(1, rules.min_forwards)
        if expected_forwards < needed:
            # min_forwards 0 means "do not wait for evidence": a flow too small to judge passes.
            status = CheckStatus.PENDING if rules.min_forwards else CheckStatus.PASSED
            detail += f"; {expected_forwards:.1f} forwards expected so far, {needed} needed to judge"
            checks.append(GateCheck(name=name, status=status, detail=detail))
            continue
        checks.append(_check(name, after >= expected * floor, detail))
    return checks


def demotion_reasons(evidence: CanaryEvidence) -> list[str]:
    """Why a writing stage must step back (empty: it may stay)."""
    reasons = []
    if evidence.unverified_writes:
        reasons.append(f"{evidence.unverified_writes} write(s) not proven applied")
    if evidence.automatic_rollbacks:
        reasons.append(f"{evidence.automatic_rollbacks} automatic rollback(s)")
    return reasons
