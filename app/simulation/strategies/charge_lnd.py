"""charge-lnd's `proportional` strategy, as in accumulator/charge-lnd `charge_lnd/strategy.py`.

ppm = int(min_fee_ppm + (1 - ratio) * (max_fee_ppm - min_fee_ppm)), ratio = local / (local + remote),
clamped at 0; a change is applied only when it differs by at least `min_fee_ppm_delta` (10 when the
config does not set it, `charge_lnd/charge_lnd.py`). The numbers are those of a published config
(min 10, max 2000, base 1000 msat, run on a schedule); we run it once a simulated day.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.policy import ChannelPolicy
from app.simulation.strategies.base import FeeStrategy, StrategyView


def proportional_ppm(ratio: float, min_fee_ppm: int, max_fee_ppm: int) -> int:
    """charge-lnd's proportional fee rate for a local balance ratio."""
    return max(int(min_fee_ppm + (1.0 - ratio) * (max_fee_ppm - min_fee_ppm)), 0)


@dataclass
class ChargeLndProportional(FeeStrategy):
    """Fee rate falls linearly as our local share rises."""

    min_fee_ppm: int = 10
    max_fee_ppm: int = 2000
    base_fee_msat: int | None = 1000
    min_fee_ppm_delta: int = 10
    name: str = "charge_lnd_proportional"

    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """Every channel whose proportional rate moved by at least the delta, or whose base fee differs."""
        updates = {}
        for state in view.channels:
            current = state.policy
            if current.disabled:
                continue
            ppm = proportional_ppm(state.local_ratio, self.min_fee_ppm, self.max_fee_ppm)
            ppm_changed = (
                ppm != current.fee_rate_ppm and abs(ppm - current.fee_rate_ppm) >= self.min_fee_ppm_delta
            )
            base = current.base_fee_msat if self.base_fee_msat is None else self.base_fee_msat
            if ppm_changed or base != current.base_fee_msat:
                new_ppm = ppm if ppm_changed else current.fee_rate_ppm
                updates[state.channel.index] = current.model_copy(
                    update={"fee_rate_ppm": new_ppm, "base_fee_msat": base}
                )
        return updates
