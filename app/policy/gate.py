"""The one policy gate: it validates when a cycle decides, and again right before a write on a fresh read.

At write time the decision is rebased onto the policy just read from the node: only the fields the
decision meant to move (and the backend can write) take the proposed values, every other field is sent
as the node has it now, so a time lock or HTLC limit changed outside the service is never reverted by a
write that did not mean to touch it. If a field the decision moves has itself changed since the decision
was made, the decision is stale and refused: it was computed from a policy that no longer exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel
from app.domain.decision import Decision
from app.domain.forwarding import PolicyChange
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.validation import IssueCode, ValidationIssue, ValidationResult, Verdict
from app.policy.limits import ValidationContext
from app.policy.validator import PolicyValidator


@dataclass(frozen=True)
class ChangeHistory:
    """Past policy changes of a node's channels, as far as they are known."""

    # chan_id -> moments its policy changed (by anyone); None when the history is unknown.
    times: Mapping[str, Sequence[int]] | None
    # chan_id -> the latest change made outside the service (kept regardless of `times`).
    external: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_changes(
        cls, changes: Sequence[PolicyChange] | None, external: Mapping[str, int] | None = None
    ) -> ChangeHistory:
        """Group change records by channel."""
        times: dict[str, list[int]] | None = None
        if changes is not None:
            times = {}
            for change in changes:
                times.setdefault(change.chan_id, []).append(change.changed_at_s)
        return cls(times=times, external=dict(external or {}))

    def last_change_s(self, chan_id: str, gossip_s: int | None) -> int | None:
        """The latest known change of a channel, from history or from the node's own gossip timestamp."""
        moments = [*(self.times or {}).get(chan_id, ()), *([gossip_s] if gossip_s else [])]
        return max(moments) if moments else None

    def proves_cooldown(self, gossip_s: int | None) -> bool:
        """Either source proves the cooldown: our own history, or the node's gossip timestamp (0 is unknown)."""
        return self.times is not None or bool(gossip_s)


def validation_context(
    channel: Channel,
    now_s: int,
    history: ChangeHistory,
    capabilities: NodeCapabilities,
    gossip_s: int | None = None,
) -> ValidationContext:
    """What the validator needs about one channel; `gossip_s` overrides the channel's own timestamp."""
    updated = gossip_s if gossip_s is not None else channel.policy_updated_s
    return ValidationContext.for_channel(
        channel,
        now_s=now_s,
        last_change_s=history.last_change_s(channel.chan_id, updated),
        change_history_known=history.proves_cooldown(updated),
        external_change_s=history.external.get(channel.chan_id),
        capabilities=capabilities,
    )


def validate_cycle(
    validator: PolicyValidator,
    decisions: Sequence[Decision],
    channels: Sequence[Channel],
    now_s: int,
    history: ChangeHistory,
    capabilities: NodeCapabilities,
    updates_last_24h: int,
) -> list[ValidationResult]:
    """Gate (a): a cycle's proposals against the node's shared daily budget, in input order."""
    # Holds and advisories never read their context (the validator answers NO_WRITE first), so only writing
    # proposals get the full one, with their history; that halves the work of this gate on a large node.
    writing = {decision.chan_id for decision in decisions if decision.kind.writes_policy}
    contexts = {
        channel.chan_id: validation_context(channel, now_s, history, capabilities)
        if channel.chan_id in writing
        else ValidationContext.of_channel_size(channel)
        for channel in channels
    }
    return validator.validate_batch(decisions, contexts, updates_last_24h)


@dataclass(frozen=True)
class WriteCheck:
    """Gate (b) on one decision: the decision rebased onto the fresh policy, and the verdict on it."""

    decision: Decision
    result: ValidationResult

    @property
    def target(self) -> ChannelPolicy:
        """The complete policy to send."""
        return self.decision.proposed_policy


def rebase(decision: Decision, fresh: ChannelPolicy, capabilities: NodeCapabilities) -> Decision | None:
    """The decision moved onto the fresh policy; None when a field it changes has moved since (stale)."""
    writable = capabilities.writable_fields()
    moving = [name for name in decision.changed_fields if name in writable]
    if any(getattr(fresh, name) != getattr(decision.current_policy, name) for name in moving):
        return None
    target = fresh.model_copy(update={name: getattr(decision.proposed_policy, name) for name in moving})
    # Fields the decision changes but the backend cannot write stay in `proposed`, so the validator refuses them.
    unwritable = {
        name: getattr(decision.proposed_policy, name)
        for name in decision.changed_fields
        if name not in writable
    }
    target = target.model_copy(update=unwritable)
    return decision.model_copy(update={"current_policy": fresh, "proposed_policy": target})


def check_writes(
    validator: PolicyValidator,
    decisions: Sequence[Decision],
    channels: Mapping[str, Channel],
    readings: Mapping[str, PolicyReading],
    now_s: int,
    history: ChangeHistory,
    capabilities: NodeCapabilities,
    updates_last_24h: int,
) -> list[WriteCheck]:
    """Gate (b): every decision rebased onto the node's fresh policy and validated again, in input order.

    A channel the node no longer has, or whose moving fields changed since the decision, is refused
    without reaching the validator; the rest share the daily budget exactly as in a cycle.
    """
    checks: dict[int, WriteCheck] = {}
    rebased: list[tuple[int, Decision]] = []
    for index, decision in enumerate(decisions):
        reading = readings.get(decision.chan_id)
        channel = channels.get(decision.chan_id)
        if reading is None or channel is None:
            checks[index] = _refused(
                decision, IssueCode.CHANNEL_NOT_FOUND, "the node no longer has this channel"
            )
            continue
        moved = rebase(decision, reading.policy, capabilities)
        if moved is None:
            checks[index] = _refused(
                decision,
                IssueCode.POLICY_CHANGED_SINCE_DECISION,
                "the fields this decision changes were changed on the node since it was made; "
                "a new cycle will decide again",
            )
            continue
        rebased.append((index, moved))
    contexts = {
        decision.chan_id: validation_context(
            channels[decision.chan_id], now_s, history, capabilities, readings[decision.chan_id].updated_s
        )
        for _, decision in rebased
    }
    results = validator.validate_batch([decision for _, decision in rebased], contexts, updates_last_24h)
    for (index, decision), result in zip(rebased, results, strict=True):
        checks[index] = WriteCheck(decision, result)
    return [checks[index] for index in range(len(decisions))]


def restore_target(
    backup: ChannelPolicy,
    fresh: ChannelPolicy,
    capabilities: NodeCapabilities,
    fields: Sequence[str] | None = None,
) -> ChannelPolicy:
    """`fresh` with `fields` (default: every writable one) put back to `backup`; the rest as the node has them."""
    writable = capabilities.writable_fields()
    chosen = writable if fields is None else tuple(name for name in fields if name in writable)
    return fresh.model_copy(update={name: getattr(backup, name) for name in chosen})


def _refused(decision: Decision, code: IssueCode, message: str) -> WriteCheck:
    issue = ValidationIssue(code=code, message=message)
    return WriteCheck(
        decision, ValidationResult(chan_id=decision.chan_id, verdict=Verdict.REJECTED, issues=[issue])
    )
