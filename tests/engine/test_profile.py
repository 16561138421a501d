"""Profiles: the shipped file, weights summing to 1, deep-merged overrides and clear errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from app.engine.profile import load_profiles, parse_profiles
from app.errors import ConfigError
from app.settings import DEFAULT_THRESHOLDS_FILE


@pytest.fixture
def document():
    return yaml.safe_load(DEFAULT_THRESHOLDS_FILE.read_text())


def test_shipped_file_has_three_profiles_and_balanced_default():
    book = load_profiles(DEFAULT_THRESHOLDS_FILE)
    assert set(book.profiles) == {"conservative", "balanced", "aggressive"}
    balanced = book.get()
    assert balanced.name == "balanced"
    assert balanced.weights["liquidity"] == 0.25
    assert balanced.limits.cooldown_hours == 24
    assert book.get("conservative").limits.require_manual_approval is True
    assert book.get("aggressive").decisions.raise_step == 0.35
    # overrides keep the defaults they do not mention
    assert book.get("aggressive").liquidity.target_band == (0.35, 0.65)


def test_weights_must_sum_to_one(document):
    broken = copy.deepcopy(document)
    broken["profiles"]["balanced"] = {"weights": {**document["defaults"]["weights"], "centrality": 0.5}}
    with pytest.raises(ConfigError, match=r"profile 'balanced'.*sum to 1"):
        parse_profiles(broken)


def test_weights_must_name_every_heuristic(document):
    broken = copy.deepcopy(document)
    weights = dict(document["defaults"]["weights"])
    weights["magic"] = weights.pop("centrality")
    broken["defaults"]["weights"] = weights
    with pytest.raises(ConfigError, match=r"missing \['centrality'\], unknown \['magic'\]"):
        parse_profiles(broken)


def test_limits_are_validated_through_the_profile(document):
    broken = copy.deepcopy(document)
    broken["profiles"]["aggressive"]["limits"]["cooldown_hours"] = 6
    with pytest.raises(ConfigError, match="aggressive"):
        parse_profiles(broken)


def test_unknown_profile_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown profile 'yolo'"):
        load_profiles(DEFAULT_THRESHOLDS_FILE).get("yolo")
    with pytest.raises(ConfigError, match="does not exist"):
        load_profiles(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profiles(bad)


def test_target_band_must_be_ordered(document):
    broken = copy.deepcopy(document)
    broken["defaults"]["liquidity"]["target_band"] = [0.7, 0.3]
    with pytest.raises(ConfigError, match="target_band"):
        parse_profiles(broken)
