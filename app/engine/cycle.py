"""One decision cycle for one node: score every channel, decide, validate, summarise."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.channel import Channel, channel_age_days
from app.domain.decision import Decision
from app.domain.node import NodeInfo
from app.domain.snapshot import NodeSnapshot
from app.domain.validation import ValidationResult, Verdict
from app.engine.context import ScoringContext
from app.engine.decisions import ChannelFacts, DecisionEngine
from app.engine.flow import summarize_forwards
from app.engine.heuristics import Heuristic, default_heuristics
from app.engine.profile import Profile
from app.engine.scoring import score_channel
from app.graph.centrality import CentralityScores
from app.graph.model import ChannelGraph
from app.policy.limits import ValidationContext
from app.policy.validator import PolicyValidator


@dataclass(frozen=True)
class ChannelEvaluation:
    """The decision on one channel and the validator's verdict on it."""

    channel: Channel
    peer_alias: str
    decision: Decision
    validation: ValidationResult


@dataclass(frozen=True)
class CycleReport:
    """Every channel's evaluation plus counts an operator reads first."""

    node: NodeInfo
    profile: str
    evaluations: list[ChannelEvaluation]

    def summary(self) -> dict[str, Any]:
        """Counts by decision kind, by verdict, and rejections by issue code."""
        kinds = Counter(e.decision.kind.value for e in self.evaluations)
        verdicts = Counter(e.validation.verdict.value for e in self.evaluations)
        rejections = Counter(
            issue.code.value
            for e in self.evaluations
            if e.validation.verdict is Verdict.REJECTED
            for issue in e.validation.issues
        )
        return {
            "channels": len(self.evaluations),
            "decisions": dict(sorted(kinds.items())),
            "verdicts": dict(sorted(verdicts.items())),
            "rejections_by_code": dict(sorted(rejections.items())),
        }


def run_cycle(
    snapshot: NodeSnapshot,
    graph: ChannelGraph,
    centrality: CentralityScores,
    profile: Profile,
    heuristics: Sequence[Heuristic] | None = None,
) -> CycleReport:
    """Score, decide and validate every channel of a node; nothing is written anywhere."""
    heuristics = list(heuristics) if heuristics is not None else default_heuristics()
    activity = profile.activity
    flows = None
    if snapshot.forwards is not None and snapshot.capabilities.forwarding_history:
        flows = summarize_forwards(
            snapshot.forwards, snapshot.now_s, activity.window_days, activity.recent_days
        )
    changes_by_channel: dict[str, list[int]] | None = None
    if snapshot.policy_changes is not None:
        changes_by_channel = {}
        for change in snapshot.policy_changes:
            changes_by_channel.setdefault(change.chan_id, []).append(change.changed_at_s)
    context = ScoringContext(
        graph=graph,
        centrality=centrality,
        node_pubkey=snapshot.node.pubkey,
        now_s=snapshot.now_s,
        channels=snapshot.channels,
        profile=profile,
        flows=flows,
        policy_changes=changes_by_channel,
        block_height=snapshot.node.block_height or None,
    )
    engine = DecisionEngine(profile, snapshot.capabilities)
    decisions = [
        engine.decide(
            ChannelFacts(
                channel=channel,
                breakdown=score_channel(channel, context, heuristics),
                flow=context.flow(channel.chan_id),
                age_days=channel_age_days(channel.chan_id, context.block_height),
            )
        )
        for channel in snapshot.channels
    ]
    results = _validate(snapshot, engine.validator, decisions, changes_by_channel)
    evaluations = [
        ChannelEvaluation(
            channel=channel,
            peer_alias=graph.alias_of(channel.remote_pubkey),
            decision=decision,
            validation=result,
        )
        for channel, decision, result in zip(snapshot.channels, decisions, results, strict=True)
    ]
    return CycleReport(node=snapshot.node, profile=profile.name, evaluations=evaluations)


def _validate(
    snapshot: NodeSnapshot,
    validator: PolicyValidator,
    decisions: list[Decision],
    changes_by_channel: dict[str, list[int]] | None,
) -> list[ValidationResult]:
    """Validate all proposals of the node against its shared daily budget."""
    now = snapshot.now_s
    changes = changes_by_channel or {}
    updates_last_24h = snapshot.optimizer_updates_last_24h
    capabilities = snapshot.capabilities
    contexts = {
        channel.chan_id: ValidationContext.for_channel(
            channel,
            now_s=now,
            last_change_s=_last_change(channel, changes),
            # Either source proves the cooldown: our own history, or the node's own gossip timestamp.
            change_history_known=changes_by_channel is not None or channel.policy_updated_s is not None,
            supports_inbound_fees=capabilities.inbound_fees,
            supports_htlc_limits=capabilities.htlc_limits,
            supports_time_lock=capabilities.time_lock,
        )
        for channel in snapshot.channels
    }
    return validator.validate_batch(decisions, contexts, updates_last_24h)


def _last_change(channel: Channel, changes: dict[str, list[int]]) -> int | None:
    """The latest known policy change of a channel, from history or from the node's gossip timestamp."""
    moments = [
        *changes.get(channel.chan_id, []),
        *([channel.policy_updated_s] if channel.policy_updated_s else []),
    ]
    return max(moments) if moments else None
