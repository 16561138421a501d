"""Flow inferred from balance changes between syncs, for backends without forwarding history (LNbits)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from app.domain.balance import BalanceInterval
from app.engine.flow import DAY_S, FlowStats, InferredEvidence


@dataclass(frozen=True)
class InferredFlows:
    """Per-channel inferred flow, or why there is none yet (too few syncs)."""

    flows: dict[str, FlowStats] | None
    evidence: InferredEvidence
    unknown_reason: str = ""


def infer_flows(
    intervals: Iterable[BalanceInterval], now_s: int, window_days: int, recent_days: int, min_samples: int
) -> InferredFlows:
    """Count falls and rises of each channel's local balance inside the window, oldest interval first.

    An interval counts when it ends inside the window; "recent" and "later" use its end too, because
    that is when the move was seen. Fewer than `min_samples` intervals give no flow at all.
    """
    window_start = now_s - window_days * DAY_S
    recent_start = now_s - recent_days * DAY_S
    midpoint = now_s - window_days * DAY_S // 2
    inside = [i for i in intervals if window_start < i.end_s <= now_s]
    observed_s = now_s - max(window_start, min((i.start_s for i in inside), default=now_s))
    evidence = InferredEvidence(samples=len(inside), observed_days=round(observed_s / DAY_S, 3))
    if len(inside) < min_samples:
        reason = (
            f"flow is inferred from balance changes between syncs and needs {min_samples} compared syncs; "
            f"{len(inside)} so far"
        )
        return InferredFlows(None, evidence, reason)
    stats: dict[str, FlowStats] = {}
    for interval in inside:
        for chan_id, moved_sat in interval.moves_sat.items():
            flow = stats.setdefault(chan_id, FlowStats())
            volume = abs(moved_sat) * 1000
            if moved_sat < 0:
                flow.out_count += 1
                flow.out_volume_msat += volume
                if interval.end_s > recent_start:
                    flow.recent_out_count += 1
                    flow.recent_out_volume_msat += volume
            else:
                flow.in_count += 1
                flow.in_volume_msat += volume
            if interval.end_s > midpoint:
                flow.later_volume_msat += volume
    flows = {chan_id: replace(flow, inferred=evidence) for chan_id, flow in stats.items()}
    return InferredFlows(flows, evidence)
