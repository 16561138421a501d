"""LND's forwarding log (time-ordered, paged by index offset) and the SIMULATED forwards that extend it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from app.sandbox.lnd.clock import NS
from app.sandbox.lnd.model import Forward, LiveChannel, Policy

HOUR_NS = 3_600 * NS
# How much demand reacts to a fee change: accept probability (old fee / new fee) ** ELASTICITY.
ELASTICITY = 0.5
FEE_SMOOTHING_MSAT = 1_000  # keeps the ratio sane around zero fees


class ForwardingLog:
    """Settled forwards in time order with unique nanosecond timestamps, as LND's bbolt log keeps them."""

    def __init__(self, events: Iterable[Forward] = ()) -> None:
        self._events: list[Forward] = []
        self._times: list[int] = []
        self.append(sorted(events))

    def __len__(self) -> int:
        return len(self._events)

    @property
    def events(self) -> list[Forward]:
        """Every event, oldest first (do not mutate)."""
        return self._events

    def append(self, events: Iterable[Forward]) -> None:
        """Add events no older than the newest one; equal timestamps move up by 1 ns, as LND does."""
        last = self._times[-1] if self._times else -1
        for event in sorted(events):
            stamp = max(event.timestamp_ns, last + 1)
            self._events.append(event._replace(timestamp_ns=stamp))
            self._times.append(stamp)
            last = stamp

    def query(
        self,
        start_ns: int,
        end_ns: int,
        index_offset: int,
        num_max_events: int,
        incoming: frozenset[str] = frozenset(),
        outgoing: frozenset[str] = frozenset(),
    ) -> tuple[list[Forward], int]:
        """LND's ForwardingLog.Query: events in [start, end], skip `index_offset` matches, at most `num_max`.

        Returns the events and `last_offset_index` (the offset to pass next time).
        """
        low = bisect_left(self._times, start_ns)
        high = bisect_right(self._times, end_ns)
        if not incoming and not outgoing:
            first = min(low + index_offset, high)
            window = self._events[first : min(first + num_max_events, high)]
            return window, index_offset + len(window)
        page: list[Forward] = []
        skip = index_offset
        for event in self._events[low:high]:
            if len(page) >= num_max_events:
                break
            if (incoming and event.chan_id_in not in incoming) or (
                outgoing and event.chan_id_out not in outgoing
            ):
                continue
            if skip:
                skip -= 1
                continue
            page.append(event)
        return page, index_offset + len(page)

    def fee_sum_msat(self, start_ns: int, end_ns: int) -> int:
        """Total fees earned by forwards settled in [start, end]."""
        low = bisect_left(self._times, start_ns)
        high = bisect_right(self._times, end_ns)
        return sum(event.fee_msat for event in self._events[low:high])


@dataclass(frozen=True)
class _Candidate:
    timestamp_ns: int
    template: int
    factor: float
    draw: float


class ForwardSimulator:
    """SIMULATED new forwards, hour by hour: the same hour always yields the same candidates (seeded).

    Candidates copy the channel pairs and amounts of the node's past forwards at its past rate; each is
    settled against the channels' current state: it needs active channels, liquidity and HTLC limits that
    fit, and is priced with the current policy (demand falls as the fee rises, see ELASTICITY).
    """

    def __init__(self, seed: int, node_key: int, templates: list[Forward], rate_per_s: float) -> None:
        self._seed = seed
        self._node_key = node_key
        self._templates = templates
        self._per_hour = rate_per_s * 3_600

    def between(
        self, start_ns: int, end_ns: int, channels: Mapping[str, LiveChannel], reference: Mapping[str, Policy]
    ) -> list[Forward]:
        """Forwards settled in (start, end], applied to the channels' balances as they happen."""
        if end_ns <= start_ns or not self._templates or self._per_hour <= 0:
            return []
        settled: list[Forward] = []
        for hour in range(start_ns // HOUR_NS, end_ns // HOUR_NS + 1):
            for candidate in self._hour(hour):
                if start_ns < candidate.timestamp_ns <= end_ns:
                    event = self._settle(candidate, channels, reference)
                    if event is not None:
                        settled.append(event)
        return settled

    def _hour(self, hour: int) -> list[_Candidate]:
        rng = np.random.default_rng([self._seed, self._node_key, hour])
        count = int(rng.poisson(self._per_hour))
        offsets = np.sort(rng.integers(0, HOUR_NS, count))
        templates = rng.integers(0, len(self._templates), count)
        factors = rng.lognormal(0.0, 0.3, count)
        draws = rng.random(count)
        return [
            _Candidate(hour * HOUR_NS + int(offset) + 1, int(template), float(factor), float(draw))
            for offset, template, factor, draw in zip(offsets, templates, factors, draws, strict=True)
        ]

    def _settle(
        self, candidate: _Candidate, channels: Mapping[str, LiveChannel], reference: Mapping[str, Policy]
    ) -> Forward | None:
        template = self._templates[candidate.template]
        incoming = channels.get(template.chan_id_in)
        outgoing = channels.get(template.chan_id_out)
        if incoming is None or outgoing is None or not (incoming.channel.active and outgoing.channel.active):
            return None
        policy = outgoing.policy
        amount = max(1, round(template.amt_out_msat * candidate.factor))
        if (
            policy.disabled
            or amount < policy.min_htlc_msat
            or (policy.max_htlc_msat and amount > policy.max_htlc_msat)
        ):
            return None
        outbound = policy.fee_msat(amount)
        entry = incoming.policy  # inbound fees are charged on the channel the HTLC comes in through
        inbound = entry.inbound_base_fee_msat + (amount + outbound) * entry.inbound_fee_rate_ppm // 1_000_000
        fee = max(0, outbound + inbound)  # an inbound discount never makes the total fee negative
        old = reference[outgoing.chan_id].fee_msat(amount) if outgoing.chan_id in reference else outbound
        if candidate.draw >= min(
            1.0, ((old + FEE_SMOOTHING_MSAT) / (fee + FEE_SMOOTHING_MSAT)) ** ELASTICITY
        ):
            return None
        reserve_msat = outgoing.channel.local_reserve_sat * 1_000
        if outgoing.local_msat - amount < reserve_msat or incoming.remote_msat < amount + fee:
            return None
        outgoing.local_msat -= amount
        outgoing.remote_msat += amount
        outgoing.sent_msat += amount
        incoming.remote_msat -= amount + fee
        incoming.local_msat += amount + fee
        incoming.received_msat += amount + fee
        outgoing.num_updates += 4
        incoming.num_updates += 4
        return Forward(candidate.timestamp_ns, incoming.chan_id, outgoing.chan_id, amount + fee, amount)
