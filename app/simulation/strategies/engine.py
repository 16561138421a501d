"""`ours`: the service's own decision engine and policy validator, run exactly as a cycle runs them.

Each simulated day the focal node reports what an LND node would (channels with balances and both
policies, 30 days of forwarding history, the policy changes the optimizer made, its updates in the last
24 h) as a NodeSnapshot, and `app.engine.cycle.run_cycle` - the function the service's observe step
calls - scores, decides and validates every channel. Decisions the gate approves are applied; with
`approve_waiting` an operator approves every decision the profile holds for manual approval
(the conservative profile holds them all), otherwise those are never applied.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.domain.channel import Channel
from app.domain.forwarding import ForwardingEvent, PolicyChange
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy
from app.domain.snapshot import NodeSnapshot
from app.domain.validation import Verdict
from app.engine.cycle import CycleReport, run_cycle
from app.engine.profile import Profile
from app.graph.centrality import CentralityScores
from app.graph.synthetic import block_height_at
from app.simulation.strategies.base import DAY_S, FeeStrategy, StrategyView

NUMBER = re.compile(r"-?\d[\d,.]*")  # numbers in reasons, so the same rule's reasons count together


@dataclass
class EngineStrategy(FeeStrategy):
    """Our engine under one profile."""

    profile: Profile
    centrality: CentralityScores
    approve_waiting: bool = True
    suffix: str = ""  # names a profile variant (see strategies/tuning.py)
    name: str = "ours"
    last_report: CycleReport | None = None
    _events: list[ForwardingEvent] = field(default_factory=list)
    _tally: Counter[str] = field(default_factory=Counter)
    _reasons: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        """Name the strategy after its profile."""
        self.name = f"ours_{self.profile.name}{self.suffix}"

    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """Run one cycle and return the policies of the decisions that would be written."""
        report = run_cycle(self.snapshot(view), view.network.graph, self.centrality, self.profile)
        self.last_report = report
        self._count(report)
        writable = {Verdict.APPROVED, Verdict.NEEDS_APPROVAL} if self.approve_waiting else {Verdict.APPROVED}
        index = {state.channel.chan_id: state.channel.index for state in view.channels}
        return {
            index[e.channel.chan_id]: e.decision.proposed_policy
            for e in report.evaluations
            if e.decision.kind.writes_policy and e.validation.verdict in writable
        }

    def _count(self, report: CycleReport) -> None:
        """Tally decision kinds, verdicts, the validator's issue codes and the reasons the rules gave."""
        for e in report.evaluations:
            kind = e.decision.kind.value
            self._tally[f"kind:{kind}"] += 1
            self._tally[f"verdict:{kind}:{e.validation.verdict.value}"] += 1
            for issue in e.validation.issues:
                self._tally[f"issue:{kind}:{issue.code.value}"] += 1
            for reason in e.decision.reasons:
                self._reasons[NUMBER.sub("#", reason)[:120]] += 1

    def diagnostics(self) -> dict[str, Any]:
        """Every channel-day's decision kind, verdict and issue codes, and the 25 most frequent reasons."""
        return {
            "counts": dict(sorted(self._tally.items())),
            "top_reasons": dict(self._reasons.most_common(25)),
        }

    def snapshot(self, view: StrategyView) -> NodeSnapshot:
        """What the simulated node reports, in the shapes the service reads from LND."""
        network = view.network
        now_s = int(view.now_s)
        node = view.node
        channels = [
            Channel(
                chan_id=state.channel.chan_id,
                channel_point=state.channel.channel_point,
                remote_pubkey=network.graph.pubkeys[state.channel.peer],
                capacity_sat=state.channel.capacity_sat,
                local_balance_sat=state.local_msat // 1000,
                remote_balance_sat=state.remote_msat // 1000,
                local_reserve_sat=network.reserve_msat[state.channel.out_half] // 1000,
                remote_reserve_sat=network.reserve_msat[state.channel.out_half ^ 1] // 1000,
                active=True,
                local_policy=state.policy,
                remote_policy=network.policy(state.channel.out_half ^ 1),
            )
            for state in view.channels
        ]
        ids = [c.chan_id for c in node.channels]
        for forward in node.forwards[len(self._events) :]:
            # Built once per forward; model_construct because the values are our own, already valid.
            self._events.append(
                ForwardingEvent.model_construct(
                    timestamp_ns=int(forward.time_s * 1e9),
                    chan_id_in=ids[forward.in_channel],
                    chan_id_out=ids[forward.out_channel],
                    amt_in_msat=forward.amt_in_msat,
                    amt_out_msat=forward.amt_out_msat,
                    fee_msat=forward.fee_msat,
                )
            )
        window_start_ns = (now_s - self.profile.activity.window_days * DAY_S) * 1_000_000_000
        forwards = [event for event in self._events if event.timestamp_ns >= window_start_ns]
        changes = [
            PolicyChange(
                chan_id=ids[u.channel], changed_at_s=int(u.time_s), fee_rate_ppm=u.policy.fee_rate_ppm
            )
            for u in node.updates
        ]
        recent = sum(1 for u in node.updates if now_s - DAY_S < u.time_s <= now_s)
        info = NodeInfo(
            pubkey=node.pubkey,
            alias=node.alias,
            block_height=block_height_at(now_s),
            num_active_channels=len(channels),
            num_peers=len({c.remote_pubkey for c in channels}),
            simulated=True,
        )
        return NodeSnapshot(
            node=info,
            channels=channels,
            now_s=now_s,
            optimizer_updates_last_24h=recent,
            policy_changes=changes,
            forwards=forwards,
        )
