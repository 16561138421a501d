"""Fee decisions proposed by the engine."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, computed_field

from app.domain.base import ChannelId, DomainModel
from app.domain.policy import ChannelPolicy
from app.domain.scoring import ScoreBreakdown


class DecisionKind(StrEnum):
    """What the engine proposes for a channel."""

    RAISE_FEE = "raise_fee"
    LOWER_FEE = "lower_fee"
    HOLD = "hold"
    SET_INBOUND_DISCOUNT = "set_inbound_discount"
    SET_MAX_HTLC = "set_max_htlc"
    SUGGEST_REBALANCE = "suggest_rebalance"
    SUGGEST_CLOSE = "suggest_close"

    @property
    def is_advisory(self) -> bool:
        """Advisories are shown to the operator and never turned into policy writes."""
        return self in (DecisionKind.SUGGEST_REBALANCE, DecisionKind.SUGGEST_CLOSE)

    @property
    def writes_policy(self) -> bool:
        """Whether applying this decision sends a policy update to the node."""
        return not self.is_advisory and self is not DecisionKind.HOLD


class DecisionStatus(StrEnum):
    """Life cycle of a stored decision; changed only by compare-and-set."""

    PROPOSED = "proposed"  # not validated yet
    APPROVED = "approved"  # validator (or an operator) approved it
    REJECTED = "rejected"  # breaks a limit (at decision or at write time), or an operator refused it
    NEEDS_APPROVAL = "needs_approval"  # within limits, waiting for an operator
    NO_WRITE = "no_write"  # hold or advisory
    APPLIED = "applied"  # written and verified by read-back
    FAILED = "failed"  # the write was refused or never took effect
    ROLLED_BACK = "rolled_back"  # applied, then restored from its backup
    EXPIRED = "expired"  # never acted on before a newer cycle superseded it or it grew too old


class Decision(DomainModel):
    """A proposal for one channel with the complete current and proposed policy and its reasons."""

    chan_id: ChannelId
    kind: DecisionKind
    current_policy: ChannelPolicy
    proposed_policy: ChannelPolicy
    confidence: float = Field(ge=0.0, le=1.0)
    total_score: float = Field(ge=0.0, le=1.0)
    breakdown: ScoreBreakdown
    reasons: list[str] = Field(min_length=1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed_fields(self) -> list[str]:
        """Policy fields this decision would change."""
        return self.current_policy.changed_fields(self.proposed_policy)
