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
from app.engine.decisions import DecisionEngine
from app.engine.facts import ChannelFacts
from app.engine.flow import DAY_S, NO_HISTORY, summarize_forwards
from app.engine.gc_pause import collector_paused
from app.engine.heuristics import Heuristic, default_heuristics
from app.engine.inferred_flow import infer_flows
from app.engine.profile import Profile
from app.engine.scoring import score_channel
from app.graph.centrality import CentralityScores
from app.graph.model import ChannelGraph
from app.policy.gate import ChangeHistory, validate_cycle


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


def _days_since(moment_s: int | None, now_s: int) -> float | None:
    """Days from `moment_s` to now (None stays None: unknown)."""
    return None if moment_s is None else max(now_s - moment_s, 0) / DAY_S


def run_cycle(
    snapshot: NodeSnapshot,
    graph: ChannelGraph,
    centrality: CentralityScores,
    profile: Profile,
    heuristics: Sequence[Heuristic] | None = None,
) -> CycleReport:
    """Score, decide and validate every channel of a node; nothing is written anywhere."""
    with collector_paused():
        return _run_cycle(snapshot, graph, centrality, profile, heuristics)


def _run_cycle(
    snapshot: NodeSnapshot,
    graph: ChannelGraph,
    centrality: CentralityScores,
    profile: Profile,
    heuristics: Sequence[Heuristic] | None,
) -> CycleReport:
    heuristics = list(heuristics) if heuristics is not None else default_heuristics()
    activity = profile.activity
    flows = None
    evidence = None
    unknown_reason = NO_HISTORY
    if snapshot.forwards is not None and snapshot.capabilities.forwarding_history:
        flows = summarize_forwards(
            snapshot.forwards, snapshot.now_s, activity.window_days, activity.recent_days
        )
    elif snapshot.balance_history is not None:
        inferred = infer_flows(
            snapshot.balance_history,
            snapshot.now_s,
            activity.window_days,
            activity.recent_days,
            activity.inferred_min_samples,
        )
        flows = inferred.flows
        evidence = inferred.evidence if flows is not None else None
        if flows is None:
            unknown_reason += f", and {inferred.unknown_reason}"
    history = ChangeHistory.from_changes(snapshot.policy_changes, snapshot.external_changes)
    context = ScoringContext(
        graph=graph,
        centrality=centrality,
        node_pubkey=snapshot.node.pubkey,
        now_s=snapshot.now_s,
        channels=snapshot.channels,
        profile=profile,
        flows=flows,
        flow_evidence=evidence,
        flow_unknown_reason=unknown_reason,
        node_fees_month_msat=snapshot.node.fees_month_msat,
        policy_changes=history.times,
        block_height=snapshot.node.block_height or None,
    )
    own = context.own_fee_rates_ascending
    engine = DecisionEngine(
        profile,
        snapshot.capabilities,
        earned_fee_ppm=context.earned_fee_ppm,
        cheapest_exit_ppm=own[0] if own else None,
    )
    decisions = [
        engine.decide(
            ChannelFacts(
                channel=channel,
                breakdown=score_channel(channel, context, heuristics),
                flow=context.flow(channel.chan_id),
                age_days=channel_age_days(channel.chan_id, context.block_height),
                flow_unknown_reason=unknown_reason,
                fee_age_days=_days_since(
                    history.last_change_s(channel.chan_id, channel.policy_updated_s), snapshot.now_s
                ),
            )
        )
        for channel in snapshot.channels
    ]
    results = validate_cycle(
        engine.validator,
        decisions,
        snapshot.channels,
        snapshot.now_s,
        history,
        snapshot.capabilities,
        snapshot.optimizer_updates_last_24h,
    )
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
