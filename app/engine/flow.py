"""Per-channel summary of forwarding history over the activity window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.forwarding import ForwardingEvent

NS_PER_S = 1_000_000_000
NO_HISTORY = "no forwarding history from this backend"
DAY_S = 86_400


@dataclass(frozen=True)
class InferredEvidence:
    """How much balance history an inferred flow rests on: syncs compared and the days they span."""

    samples: int
    observed_days: float


@dataclass
class FlowStats:
    """Flow totals of one channel; zero means "nothing flowed", never "unknown".

    From forwarding history when the backend has one (`inferred` None). Otherwise inferred from balance
    changes between syncs (`inferred` set): counts are intervals in which the balance fell or rose, volumes
    are net moves, and no fee is known per channel.
    """

    out_count: int = 0
    out_volume_msat: int = 0
    out_fee_msat: int = 0
    in_count: int = 0
    in_volume_msat: int = 0
    recent_out_count: int = 0
    # in + out volume in the second half of the window; the first half is total_volume_msat minus this
    later_volume_msat: int = 0
    recent_out_volume_msat: int = 0
    inferred: InferredEvidence | None = None

    @property
    def total_volume_msat(self) -> int:
        """Volume in both directions."""
        return self.out_volume_msat + self.in_volume_msat

    def covers(self, days: float) -> bool:
        """Whether the evidence spans `days`: forwarding history covers its window, inferred flow what was seen."""
        return self.inferred is None or self.inferred.observed_days >= days


def summarize_forwards(
    events: Iterable[ForwardingEvent], now_s: int, window_days: int, recent_days: int
) -> dict[str, FlowStats]:
    """Aggregate forwards inside [now - window, now] per channel; channels without forwards are absent."""
    window_start_ns = (now_s - window_days * DAY_S) * NS_PER_S
    recent_start_ns = (now_s - recent_days * DAY_S) * NS_PER_S
    midpoint_ns = (now_s - window_days * DAY_S // 2) * NS_PER_S
    end_ns = now_s * NS_PER_S
    stats: dict[str, FlowStats] = {}
    for event in events:
        timestamp = event.timestamp_ns
        if timestamp < window_start_ns or timestamp > end_ns:
            continue
        recent = timestamp >= recent_start_ns
        later = timestamp >= midpoint_ns
        outgoing = stats.setdefault(event.chan_id_out, FlowStats())
        outgoing.out_count += 1
        outgoing.out_volume_msat += event.amt_out_msat
        outgoing.out_fee_msat += event.fee_msat
        incoming = stats.setdefault(event.chan_id_in, FlowStats())
        incoming.in_count += 1
        incoming.in_volume_msat += event.amt_in_msat
        if recent:
            outgoing.recent_out_count += 1
            outgoing.recent_out_volume_msat += event.amt_out_msat
        if later:
            outgoing.later_volume_msat += event.amt_out_msat
            incoming.later_volume_msat += event.amt_in_msat
    return stats
