"""Validator verdicts on proposed policy changes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from app.domain.base import ChannelId, DomainModel


class Verdict(StrEnum):
    """Outcome of validating one proposal."""

    APPROVED = "approved"  # may be applied as is
    REJECTED = "rejected"  # breaks a hard limit: never applied
    NEEDS_APPROVAL = "needs_approval"  # within limits, waits for an operator
    NO_WRITE = "no_write"  # hold or advisory: nothing to apply


class IssueCode(StrEnum):
    """Machine-readable reason a proposal was not approved as is."""

    FEE_RATE_OUT_OF_BOUNDS = "fee_rate_out_of_bounds"
    BASE_FEE_OUT_OF_BOUNDS = "base_fee_out_of_bounds"
    TIME_LOCK_OUT_OF_BOUNDS = "time_lock_out_of_bounds"
    MAX_HTLC_ABOVE_CAPACITY = "max_htlc_above_capacity"
    MIN_HTLC_NOT_POSITIVE = "min_htlc_not_positive"
    MIN_HTLC_ABOVE_MAX_HTLC = "min_htlc_above_max_htlc"
    MAX_HTLC_UNSET = "max_htlc_unset"
    STEP_TOO_LARGE = "step_too_large"
    CHANGE_TOO_SMALL = "change_too_small"
    COOLDOWN_ACTIVE = "cooldown_active"
    COOLDOWN_UNKNOWN = "cooldown_unknown"
    DAILY_CAP_REACHED = "daily_cap_reached"
    CHANNEL_PINNED = "channel_pinned"
    CHANNEL_EXCLUDED = "channel_excluded"
    INBOUND_FEE_POSITIVE = "inbound_fee_positive"
    INBOUND_DISCOUNT_EXCEEDS_OUTBOUND = "inbound_discount_exceeds_outbound"
    MANUAL_APPROVAL_REQUIRED = "manual_approval_required"
    EXTERNAL_CHANGE_HOLD = "external_change_hold"  # changed outside the service recently: not fought
    POLICY_CHANGED_SINCE_DECISION = "policy_changed_since_decision"  # the node moved on: decide again
    DECISION_EXPIRED = "decision_expired"  # superseded by a newer cycle or older than its maximum age
    CHANNEL_NOT_FOUND = "channel_not_found"  # the node no longer has the channel
    WRITE_UNRESOLVED = "write_unresolved"  # an earlier write to the channel is not proven either way yet
    NOT_IN_CANARY = "not_in_canary"  # a canary run writes only the node's canary channels
    UNSUPPORTED_BY_BACKEND = "unsupported_by_backend"
    ADVISORY_ONLY = "advisory_only"
    NO_CHANGE = "no_change"


class ValidationIssue(DomainModel):
    """One broken rule, with a message an operator can act on."""

    code: IssueCode
    message: str
    field: str | None = None


class ValidationResult(DomainModel):
    """The validator's structured verdict on one proposal."""

    chan_id: ChannelId
    verdict: Verdict
    issues: list[ValidationIssue] = Field(default_factory=list)

    @property
    def codes(self) -> list[IssueCode]:
        """Codes of every issue, in the order found."""
        return [issue.code for issue in self.issues]
