"""Outcome of a policy update sent to a node."""

from __future__ import annotations

from enum import StrEnum

from app.domain.base import ChannelId, DomainModel
from app.domain.policy import ChannelPolicy


class UpdateOutcome(StrEnum):
    """What happened to one channel's policy update."""

    ACCEPTED = "accepted"  # the node reported success; not read back yet
    APPLIED = "applied"  # read back and equal to the target
    FAILED = "failed"  # the node refused it (per-channel failure or error)
    NOT_APPLIED = "not_applied"  # the node said yes, but the read-back still shows the old policy


class PolicyUpdateResult(DomainModel):
    """Per-channel result of an update, with what the node reported and what the read-back showed."""

    chan_id: ChannelId
    outcome: UpdateOutcome
    attempts: int = 1
    error: str | None = None
    failure_reason: str | None = None  # LND's UpdateFailure enum name, when given
    observed: ChannelPolicy | None = None  # the policy read back after the update
