"""Profile variants for experiments: overrides apply, are validated like the profiles file, and name the run."""

from __future__ import annotations

import pytest

from app.engine.profile import Profile, load_profiles
from app.errors import InvalidInputError
from app.settings import get_settings
from app.simulation.strategies import make_strategy
from app.simulation.strategies.engine import EngineStrategy
from app.simulation.strategies.tuning import tuned


def balanced() -> Profile:
    return load_profiles(get_settings().thresholds_file).get("balanced")


def test_an_override_changes_that_field_only():
    profile = balanced()
    variant = tuned(profile, ["limits.daily_cap=100", "activity.recent_days=3"])
    assert (variant.limits.daily_cap, variant.activity.recent_days) == (100, 3)
    assert variant.model_copy(update={"limits": profile.limits, "activity": profile.activity}) == profile


def test_unknown_fields_and_invalid_values_are_refused():
    with pytest.raises(InvalidInputError):
        tuned(balanced(), ["limits.daily_kap=100"])
    with pytest.raises(ValueError):
        tuned(balanced(), ["limits.daily_cap=-1"])


def test_a_variant_is_named_apart(small_centrality):
    book = load_profiles(get_settings().thresholds_file)
    overrides = ["limits.daily_cap=100", "decisions.excess_ratio=0.99"]
    strategy = make_strategy("ours_balanced", 1, book, lambda: small_centrality, overrides)
    assert isinstance(strategy, EngineStrategy)
    assert strategy.name == "ours_balanced[daily_cap=100,excess_ratio=0.99]"
    assert strategy.profile.limits.daily_cap == 100
