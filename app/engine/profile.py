"""Decision profiles (conservative / balanced / aggressive) loaded from config/decision_thresholds.yaml."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from app.domain.base import DomainModel
from app.errors import ConfigError, validation_problems
from app.policy.limits import SafetyLimits

HEURISTIC_NAMES = (
    "centrality",
    "liquidity",
    "activity",
    "competitiveness",
    "reliability",
    "age_stability",
    "peer_quality",
    "network_position",
)


class LiquidityParams(DomainModel):
    """Target band of the local balance ratio."""

    target_band: tuple[float, float] = (0.35, 0.65)

    @field_validator("target_band")
    @classmethod
    def _ordered(cls, band: tuple[float, float]) -> tuple[float, float]:
        """The band must be a proper sub-interval of (0, 1)."""
        low, high = band
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"target_band must satisfy 0 < low < high < 1, got {list(band)}")
        return band


class ActivityParams(DomainModel):
    """Windows and saturation targets of the activity heuristic."""

    window_days: int = Field(default=30, ge=1, le=365)
    recent_days: int = Field(default=7, ge=1, le=90)
    turnover_target: float = Field(default=1.0, gt=0)
    revenue_target_ppm: float = Field(default=100.0, gt=0)
    count_target: int = Field(default=30, ge=1)
    # Flow inferred from balance changes (no forwarding history): syncs it needs, and how far it is trusted.
    inferred_min_samples: int = Field(default=3, ge=1, le=10_000)
    inferred_confidence: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _recent_inside_window(self) -> ActivityParams:
        """The recent window is part of the full window."""
        if self.recent_days > self.window_days:
            raise ValueError("recent_days must not exceed window_days")
        return self


class CompetitivenessParams(DomainModel):
    """How much market evidence the competitiveness heuristic needs."""

    min_competitors: int = Field(default=3, ge=1)


class AgeStabilityParams(DomainModel):
    """Maturity age and the change count that means instability."""

    mature_days: int = Field(default=180, ge=1)
    max_changes: int = Field(default=10, ge=1)


class DecisionParams(DomainModel):
    """Thresholds and step sizes of the decision rules."""

    depleted_ratio: float = Field(default=0.20, gt=0, lt=0.5)
    excess_ratio: float = Field(default=0.80, gt=0.5, lt=1)
    raise_step: float = Field(default=0.20, gt=0, le=1)
    lower_step: float = Field(default=0.15, gt=0, lt=1)
    min_recent_forwards: int = Field(default=1, ge=1)
    inbound_discount_ratio: float = Field(default=0.25, gt=0, le=1)
    max_htlc_headroom: float = Field(default=2.0, gt=1)
    # Off by default: a max HTLC lowered to a short channel's balance is never raised with the balance (that
    # would publish it), so it stayed low after the channel refilled; in the simulator six such writes cost a
    # router nearly all of its revenue, and the fewer failed attempts they save senders earned nothing.
    lower_max_htlc: bool = False
    close_max_score: float = Field(default=0.30, ge=0, le=1)
    close_min_age_days: int = Field(default=90, ge=0)
    rebalance_min_activity: float = Field(default=0.50, ge=0, le=1)


class Profile(DomainModel):
    """Everything the engine and validator need for one profile."""

    name: str
    weights: dict[str, float]
    liquidity: LiquidityParams = LiquidityParams()
    activity: ActivityParams = ActivityParams()
    competitiveness: CompetitivenessParams = CompetitivenessParams()
    age_stability: AgeStabilityParams = AgeStabilityParams()
    decisions: DecisionParams = DecisionParams()
    limits: SafetyLimits = SafetyLimits()

    @model_validator(mode="after")
    def _thresholds_fit_the_band(self) -> Profile:
        """Depleted/excess thresholds lie outside the target band, or a channel could be both fine and not."""
        low, high = self.liquidity.target_band
        if self.decisions.depleted_ratio > low or self.decisions.excess_ratio < high:
            raise ValueError(
                f"decisions.depleted_ratio {self.decisions.depleted_ratio} must be <= target_band low {low} and "
                f"decisions.excess_ratio {self.decisions.excess_ratio} >= target_band high {high}"
            )
        return self

    @field_validator("weights")
    @classmethod
    def _weights_complete(cls, weights: dict[str, float]) -> dict[str, float]:
        """One non-negative weight per heuristic, summing to 1."""
        missing = sorted(set(HEURISTIC_NAMES) - set(weights))
        unknown = sorted(set(weights) - set(HEURISTIC_NAMES))
        if missing or unknown:
            raise ValueError(
                f"weights must name every heuristic exactly: missing {missing}, unknown {unknown}"
            )
        if any(weight < 0 for weight in weights.values()):
            raise ValueError("weights must not be negative")
        total = sum(weights.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"weights must sum to 1, they sum to {total:.6f}")
        return weights


class ProfileBook(DomainModel):
    """All profiles of a thresholds file and the default one."""

    default_profile: str
    profiles: dict[str, Profile]

    def get(self, name: str | None = None) -> Profile:
        """The named profile, or the default; a clear error for an unknown name."""
        wanted = name or self.default_profile
        if wanted not in self.profiles:
            raise ConfigError(
                f"unknown profile {wanted!r}; choose one of {sorted(self.profiles)}",
                {"profile": wanted, "available": sorted(self.profiles)},
            )
        return self.profiles[wanted]


def load_profiles(path: Path) -> ProfileBook:
    """Read and validate a thresholds file; errors name the profile and field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"thresholds file {path} does not exist", {"path": str(path)}) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"thresholds file {path} is not valid YAML: {exc}", {"path": str(path)}) from exc
    return parse_profiles(document, source=str(path))


def parse_profiles(document: Any, source: str = "memory") -> ProfileBook:
    """Validate a decoded thresholds document: every profile is `defaults` deep-merged with its overrides."""
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), dict):
        raise ConfigError(f"{source}: expected a mapping with 'profiles'", {"path": source})
    defaults = document.get("defaults") or {}
    profiles: dict[str, Profile] = {}
    for name, overrides in document["profiles"].items():
        merged = _deep_merge(defaults, overrides or {})
        try:
            profiles[name] = Profile(name=name, **merged)
        except ValidationError as exc:
            problems = "; ".join(
                f"{problem['field']}: {problem['message']}"
                for problem in validation_problems(exc.errors(include_url=False), whole=name)
            )
            raise ConfigError(
                f"{source}: profile {name!r} is invalid: {problems}", {"profile": name}
            ) from exc
    default_profile = document.get("default_profile", "balanced")
    if default_profile not in profiles:
        raise ConfigError(f"{source}: default_profile {default_profile!r} is not defined", {"path": source})
    return ProfileBook(default_profile=default_profile, profiles=profiles)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `weights` is replaced whole so a profile cannot leave a stale weight behind."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "weights":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
