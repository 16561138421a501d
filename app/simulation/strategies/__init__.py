"""Fee strategies the simulator compares, each behind the FeeStrategy interface, built by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.engine.profile import ProfileBook
from app.errors import InvalidInputError
from app.graph.centrality import CentralityScores
from app.simulation.strategies.base import FeeStrategy
from app.simulation.strategies.charge_lnd import ChargeLndProportional
from app.simulation.strategies.clboss import ClbossFees
from app.simulation.strategies.engine import EngineStrategy
from app.simulation.strategies.lndg import LndgAutoFees
from app.simulation.strategies.static import StaticFees
from app.simulation.strategies.tuning import tuned, variant_suffix

PEER_STRATEGIES = ("static", "charge_lnd_proportional", "lndg_autofees", "clboss")
OUR_PROFILES = ("conservative", "balanced", "aggressive")
STRATEGY_NAMES = (*PEER_STRATEGIES, *(f"ours_{profile}" for profile in OUR_PROFILES))


def make_strategy(
    name: str,
    seed: int,
    profiles: ProfileBook,
    centrality: Callable[[], CentralityScores],
    profile_overrides: Sequence[str] = (),
) -> FeeStrategy:
    """A fresh strategy by name; `centrality` is called only for ours (it costs a second on the full graph).

    `profile_overrides` (section.field=value) make a variant of our profile for experiments.
    """
    if name == "static":
        return StaticFees()
    if name == "charge_lnd_proportional":
        return ChargeLndProportional()
    if name == "lndg_autofees":
        return LndgAutoFees()
    if name == "clboss":
        return ClbossFees(seed=seed)
    if name.startswith("ours_") and name.removeprefix("ours_") in profiles.profiles:
        profile = tuned(profiles.get(name.removeprefix("ours_")), profile_overrides)
        return EngineStrategy(
            profile=profile, centrality=centrality(), suffix=variant_suffix(profile_overrides)
        )
    raise InvalidInputError(
        f"unknown strategy {name!r}; choose one of {list(STRATEGY_NAMES)}", {"strategy": name}
    )
