"""SafetyLimits: defaults, field and cross-field validation, loading from a profile mapping."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.capabilities import NodeCapabilities
from app.errors import ConfigError
from app.policy import SafetyLimits, ValidationContext


def test_defaults_are_the_documented_numbers() -> None:
    limits = SafetyLimits()
    assert (limits.fee_rate_min_ppm, limits.fee_rate_max_ppm) == (0, 2_500)
    assert (limits.base_fee_min_msat, limits.base_fee_max_msat) == (0, 10_000)
    assert (limits.time_lock_delta_min, limits.time_lock_delta_max) == (24, 144)
    assert (limits.max_step_ratio, limits.step_floor_ppm) == (0.5, 50)
    assert (limits.min_change_ppm, limits.min_change_ratio) == (10, 0.05)
    assert (limits.cooldown_hours, limits.cooldown_s, limits.daily_cap) == (24, 86_400, 5)
    assert limits.pinned_channels == frozenset() and limits.excluded_channels == frozenset()
    assert not limits.require_manual_approval and not limits.allow_positive_inbound
    assert limits.max_htlc_reserve_ratio == 0.01


def test_limits_are_frozen() -> None:
    limits = SafetyLimits()
    with pytest.raises(ValidationError):
        limits.fee_rate_max_ppm = 10_000  # type: ignore[misc]


def test_cooldown_under_12_hours_is_refused_because_of_gossip() -> None:
    with pytest.raises(ValidationError) as info:
        SafetyLimits(cooldown_hours=11)
    text = str(info.value)
    assert "cooldown_hours 11 is below 12" in text
    assert "Core Lightning relays about 2 channel_updates per channel direction per day" in text
    assert "gossip" in text


def test_cooldown_of_12_hours_is_accepted_and_rounded_up_to_seconds() -> None:
    assert SafetyLimits(cooldown_hours=12).cooldown_s == 43_200
    assert SafetyLimits(cooldown_hours=12.5).cooldown_s == 45_000
    assert SafetyLimits(cooldown_hours=12.0001).cooldown_s == 43_201  # 43,200.36 s: never shorter


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("fee_rate_min_ppm", "fee_rate_max_ppm"),
        ("base_fee_min_msat", "base_fee_max_msat"),
        ("time_lock_delta_min", "time_lock_delta_max"),
    ],
)
def test_min_above_max_is_refused_naming_both_fields(low: str, high: str) -> None:
    with pytest.raises(ValidationError) as info:
        SafetyLimits(**{low: 100, high: 99})
    assert f"{low} 100 is above {high} 99" in str(info.value)


def test_every_inverted_pair_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        SafetyLimits(fee_rate_min_ppm=10, fee_rate_max_ppm=5, base_fee_min_msat=10, base_fee_max_msat=5)
    assert "fee_rate_min_ppm 10 is above fee_rate_max_ppm 5" in str(info.value)
    assert "base_fee_min_msat 10 is above base_fee_max_msat 5" in str(info.value)


def test_change_rules_must_leave_room_for_a_change() -> None:
    with pytest.raises(ValidationError, match="min_change_ppm 60 is above step_floor_ppm 50"):
        SafetyLimits(min_change_ppm=60)
    with pytest.raises(ValidationError, match=r"min_change_ratio 0\.6 is above max_step_ratio 0\.5"):
        SafetyLimits(min_change_ratio=0.6)


@pytest.mark.parametrize(
    "bad",
    [
        {"time_lock_delta_min": 23},  # LND refuses < 24
        {"time_lock_delta_max": 70_000},  # BOLT 7: u16
        {"fee_rate_min_ppm": -1},
        {"max_step_ratio": 0},
        {"max_step_ratio": float("nan")},
        {"min_change_ratio": 1.5},
        {"max_htlc_reserve_ratio": 1.0},
        {"daily_cap": -1},
        {"cooldown_hours": float("inf")},
        {"pinned_channels": ["not-a-channel-id"]},
        {"surprise": 1},
    ],
)
def test_field_validation(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SafetyLimits(**bad)


def test_from_mapping_reads_a_yaml_profile_section() -> None:
    limits = SafetyLimits.from_mapping(
        {"fee_rate_max_ppm": 3_000, "cooldown_hours": 36, "pinned_channels": ["123", "456"], "daily_cap": 0}
    )
    assert limits.fee_rate_max_ppm == 3_000 and limits.cooldown_s == 36 * 3_600 and limits.daily_cap == 0
    assert limits.pinned_channels == frozenset({"123", "456"})
    assert SafetyLimits.from_mapping(None) == SafetyLimits() == SafetyLimits.from_mapping({})


def test_from_mapping_raises_config_error_with_the_pydantic_text() -> None:
    with pytest.raises(ConfigError) as info:
        SafetyLimits.from_mapping({"cooldown_hours": 6, "fee_rate_max_ppm": "lots"}, source="profile default")
    error = info.value
    assert error.code == "config_error"
    assert error.message.startswith("profile default are invalid: ")
    assert "cooldown_hours: Value error, cooldown_hours 6 is below 12" in error.message
    assert "fee_rate_max_ppm: Input should be a valid integer" in error.message
    assert {item["field"] for item in error.details["errors"]} == {"cooldown_hours", "fee_rate_max_ppm"}


def test_from_mapping_reports_cross_field_errors_and_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="fee_rate_min_ppm 9 is above fee_rate_max_ppm 1"):
        SafetyLimits.from_mapping({"fee_rate_min_ppm": 9, "fee_rate_max_ppm": 1})
    with pytest.raises(ConfigError, match="fee_rate_max: Extra inputs are not permitted"):
        SafetyLimits.from_mapping({"fee_rate_max": 1})


def test_from_mapping_refuses_a_non_mapping() -> None:
    with pytest.raises(ConfigError, match="expected a mapping of limit names to values, got list"):
        SafetyLimits.from_mapping([1, 2])  # type: ignore[arg-type]


def test_context_validation() -> None:
    context = ValidationContext(capacity_sat=1_000, now_s=10)
    assert (
        context.local_reserve_sat == 0
        and context.last_change_s is None
        and context.node_updates_last_24h == 0
    )
    assert context.capabilities == NodeCapabilities()
    with pytest.raises(ValidationError):
        ValidationContext(capacity_sat=-1, now_s=10)
    with pytest.raises(ValidationError):
        ValidationContext(capacity_sat=1_000, now_s=10, node_updates_last_24h=-1)


def test_fee_step_helpers_use_the_configured_decimals() -> None:
    # In binary floats 100 * 0.07 is 7.000000000000001 and 100 * 0.29 is 28.999999999999996.
    limits = SafetyLimits(max_step_ratio=0.29, step_floor_ppm=1, min_change_ppm=1, min_change_ratio=0.07)
    assert limits.min_fee_change_ppm(100) == 7
    assert limits.max_fee_step_ppm(100) == 29
    defaults = SafetyLimits()
    assert (defaults.min_fee_change_ppm(0), defaults.max_fee_step_ppm(0)) == (10, 50)
    assert (defaults.min_fee_change_ppm(1_000), defaults.max_fee_step_ppm(1_000)) == (50, 500)
