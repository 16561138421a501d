"""LNDg AutoFees, as in cryptosharks131/lndg `af.py`, with its published defaults.

MaxRate 2500, MinRate 0, Increment 5, Multiplier 5, FailedHTLCs 25, UpdateHours 24, LowLiqLimit 15,
ExcessLimit 95. Forwards of at least 1,000 sat count. Per channel, by outbound percentage:
- low (<= LowLiq): + 5 x Multiplier when more than FailedHTLCs forwards failed out of it for lack of
  balance in the last day and nothing was routed in through it that day;
- balanced: + 2 x Multiplier x (1 + net / capacity) when the 7-day net outflow (rounded, in capacities)
  exceeds 1 (af.py divides the already capacity-relative net by the capacity again; kept as written);
  - 3 x Multiplier when nothing flowed either way in 7 days;
- excess (>= Excess): - 5 x Multiplier when the channel mostly assists others (net inflow and fees earned
  on forwards in through it > 10 x its own), or when nothing flowed in 7 days.
The result is rounded to the increment and clamped; only channels whose fee last changed over
UpdateHours ago and whose rate moved are updated (LNDg's jobs.py applies `eligible` rows with an adjustment).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.policy import ChannelPolicy
from app.simulation.strategies.base import DAY_S, ChannelState, FeeStrategy, StrategyView

MIN_FORWARD_MSAT = 1_000_000


@dataclass(frozen=True)
class ChannelFlows:
    """The forwarding facts af.py reads for one channel (amounts in sat, fees in msat)."""

    in_1d_sat: int = 0
    in_7d_sat: int = 0
    out_7d_sat: int = 0
    revenue_7d_msat: int = 0
    assist_7d_msat: int = 0
    failed_out_1d: int = 0


@dataclass
class LndgAutoFees(FeeStrategy):
    """LNDg's flow- and liquidity-driven fee steps."""

    max_rate: int = 2500
    min_rate: int = 0
    increment: int = 5
    multiplier: int = 5
    failed_htlcs: int = 25
    update_hours: int = 24
    lowliq_limit: int = 15
    excess_limit: int = 95
    name: str = "lndg_autofees"

    def new_rate(self, state: ChannelState, flows: ChannelFlows) -> int:
        """af.py's rate for one channel."""
        capacity = state.channel.capacity_sat
        rate = state.policy.fee_rate_ppm
        m = self.multiplier
        out_percent = round(state.local_msat / 1000 / capacity * 100)
        net_routed_7d = round((flows.out_7d_sat - flows.in_7d_sat) / capacity, 1)
        idle = flows.in_7d_sat + flows.out_7d_sat == 0
        new: float = rate
        if out_percent <= self.lowliq_limit:
            if flows.failed_out_1d > self.failed_htlcs and flows.in_1d_sat == 0:
                new = rate + 5 * m
        elif out_percent < self.excess_limit:
            if net_routed_7d > 1:
                new = rate + (2 * m) * (1 + net_routed_7d / capacity)
            if idle:
                new = rate - 3 * m
        else:
            if net_routed_7d < 0 and flows.assist_7d_msat > flows.revenue_7d_msat * 10:
                new = rate - 5 * m
            if idle:
                new = rate - 5 * m
        rounded = int(round(new / self.increment, 0) * self.increment)
        return max(min(rounded, self.max_rate), self.min_rate)

    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """Eligible channels whose rate moves."""
        flows = self._flows(view)
        updates = {}
        for state in view.channels:
            if state.policy.disabled:
                continue
            if (
                state.last_update_s is not None
                and view.now_s - state.last_update_s <= self.update_hours * 3600
            ):
                continue
            rate = self.new_rate(state, flows.get(state.channel.index, ChannelFlows()))
            if rate != state.policy.fee_rate_ppm:
                updates[state.channel.index] = state.policy.model_copy(update={"fee_rate_ppm": rate})
        return updates

    @staticmethod
    def _flows(view: StrategyView) -> dict[int, ChannelFlows]:
        """Sum the last 7 days of forwards and the last day of failures per channel."""
        day_ago, week_ago = view.now_s - DAY_S, view.now_s - 7 * DAY_S
        sums: dict[int, list[int]] = {}
        for forward in reversed(view.node.forwards):
            if forward.time_s < week_ago:
                break
            if forward.amt_out_msat < MIN_FORWARD_MSAT:
                continue
            amount_sat = forward.amt_out_msat // 1000
            into = sums.setdefault(forward.in_channel, [0] * 6)
            into[1] += amount_sat
            into[4] += forward.fee_msat
            if forward.time_s >= day_ago:
                into[0] += amount_sat
            out = sums.setdefault(forward.out_channel, [0] * 6)
            out[2] += amount_sat
            out[3] += forward.fee_msat
        for failure in reversed(view.node.failures):
            if failure.time_s < day_ago:
                break
            if failure.amount_msat > failure.available_msat:
                sums.setdefault(failure.out_channel, [0] * 6)[5] += 1
        return {index: ChannelFlows(*values) for index, values in sums.items()}
