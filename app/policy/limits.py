"""Hard safety limits for policy writes and the per-channel context the validator checks them against."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from app.domain.base import ChannelId, DomainModel, Sat
from app.domain.capabilities import LND_CAPABILITIES, NodeCapabilities
from app.domain.channel import Channel
from app.domain.trusted import trusted
from app.errors import ConfigError, validation_problems

# LND refuses a time_lock_delta below 24 in `POST /v1/chanpolicy`.
LND_MIN_TIME_LOCK_DELTA = 24
# BOLT 7 carries cltv_expiry_delta as a u16.
MAX_TIME_LOCK_DELTA = 65_535
# Core Lightning relays about 2 channel_updates per channel direction per day: a shorter
# per-channel cooldown only produces updates that most of the network never sees.
MIN_COOLDOWN_HOURS = 12.0
SECONDS_PER_HOUR = 3_600


@lru_cache(maxsize=256)  # a handful of configured values, asked for on every channel of every cycle
def exact(value: float) -> Fraction:
    """The decimal the operator wrote (0.01 -> 1/100), not the nearest binary float, for exact limit maths."""
    return Fraction(repr(value))


def floor_of_share(ratio: float, amount: int) -> int:
    """floor(exact(ratio) * amount), in integer arithmetic: exact like Fraction maths and far cheaper."""
    share = exact(ratio)
    return share.numerator * amount // share.denominator


def ceil_of_share(ratio: float, amount: int) -> int:
    """ceil(exact(ratio) * amount), in integer arithmetic."""
    share = exact(ratio)
    return -(-share.numerator * amount // share.denominator)


class SafetyLimits(DomainModel):
    """Hard limits every policy write must respect; loaded from a profile and never mutated at runtime."""

    fee_rate_min_ppm: int = Field(default=0, ge=0)
    fee_rate_max_ppm: int = Field(default=2_500, ge=0)
    base_fee_min_msat: int = Field(default=0, ge=0)
    base_fee_max_msat: int = Field(default=10_000, ge=0)
    time_lock_delta_min: int = Field(default=24, ge=LND_MIN_TIME_LOCK_DELTA, le=MAX_TIME_LOCK_DELTA)
    time_lock_delta_max: int = Field(default=144, ge=LND_MIN_TIME_LOCK_DELTA, le=MAX_TIME_LOCK_DELTA)
    # A fee-rate update may move at most this share of the current rate ...
    max_step_ratio: float = Field(default=0.5, gt=0.0, le=10.0, allow_inf_nan=False)
    # ... but 50 % of 0 or 1 ppm is nothing, so a move of up to step_floor_ppm is always allowed by the
    # step cap; without it a channel at 0 ppm could never be given a fee.
    step_floor_ppm: int = Field(default=50, ge=0)
    # A fee-rate change must be at least min_change_ppm AND min_change_ratio of the current rate, so
    # the gossip budget is not spent on changes no router notices (from 0 ppm only the ppm part applies).
    min_change_ppm: int = Field(default=10, ge=1)  # 0 would let "0 -> 0 ppm" count as a change
    min_change_ratio: float = Field(default=0.05, ge=0.0, le=1.0, allow_inf_nan=False)
    cooldown_hours: float = Field(default=24.0, allow_inf_nan=False)
    # Policy updates per node per rolling 24 h; 0 freezes every write (an operator kill switch).
    daily_cap: int = Field(default=5, ge=0)
    pinned_channels: frozenset[ChannelId] = frozenset()  # never changed
    excluded_channels: frozenset[ChannelId] = frozenset()  # ignored by the optimizer entirely
    require_manual_approval: bool = False
    # After a change made outside the service, the channel is left alone this long ("don't fight the operator").
    external_hold_hours: float = Field(default=168.0, ge=0.0, le=24 * 365, allow_inf_nan=False)
    allow_positive_inbound: bool = False
    # Reserve assumed when the channel's own reserve is unknown (0): max_htlc must leave it untouched.
    max_htlc_reserve_ratio: float = Field(default=0.01, ge=0.0, lt=1.0, allow_inf_nan=False)

    @field_validator("cooldown_hours")
    @classmethod
    def _cooldown_respects_gossip(cls, value: float) -> float:
        """Refuse cooldowns shorter than the gossip relay rate makes useful."""
        if value < MIN_COOLDOWN_HOURS:
            raise ValueError(
                f"cooldown_hours {value:g} is below {MIN_COOLDOWN_HOURS:g}: Core Lightning relays about 2 "
                "channel_updates per channel direction per day, so gossip would drop faster updates "
                "(24 h is the sane default)"
            )
        return value

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> SafetyLimits:
        """Every min must not exceed its max, and the change rules must leave room for some change."""
        problems = [
            f"{low_name} {low} is above {high_name} {high}"
            for low_name, low, high_name, high in (
                ("fee_rate_min_ppm", self.fee_rate_min_ppm, "fee_rate_max_ppm", self.fee_rate_max_ppm),
                ("base_fee_min_msat", self.base_fee_min_msat, "base_fee_max_msat", self.base_fee_max_msat),
                (
                    "time_lock_delta_min",
                    self.time_lock_delta_min,
                    "time_lock_delta_max",
                    self.time_lock_delta_max,
                ),
                # Otherwise no fee-rate change could be both large enough and small enough.
                ("min_change_ppm", self.min_change_ppm, "step_floor_ppm", self.step_floor_ppm),
                ("min_change_ratio", self.min_change_ratio, "max_step_ratio", self.max_step_ratio),
            )
            if low > high
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def external_hold_s(self) -> int:
        """The hold after an external change in whole seconds (rounded up)."""
        return ceil_of_share(self.external_hold_hours, SECONDS_PER_HOUR)

    @property
    def cooldown_s(self) -> int:
        """Per-channel cooldown in whole seconds (rounded up, so never shorter than configured)."""
        return ceil_of_share(self.cooldown_hours, SECONDS_PER_HOUR)

    def max_fee_step_ppm(self, old_ppm: int) -> int:
        """Largest fee-rate move from `old_ppm`: max(old * max_step_ratio, step_floor_ppm), in whole ppm."""
        # Floor is exact here: moves are whole ppm, so `move <= cap` iff `move <= floor(cap)`.
        return max(floor_of_share(self.max_step_ratio, old_ppm), self.step_floor_ppm)

    def min_fee_change_ppm(self, old_ppm: int) -> int:
        """Smallest fee-rate move from `old_ppm` worth a gossip update (both the ppm and the ratio part)."""
        return max(self.min_change_ppm, ceil_of_share(self.min_change_ratio, old_ppm))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str = "safety limits") -> SafetyLimits:
        """Build limits from a plain mapping (a YAML profile section); raise ConfigError on bad input."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{source}: expected a mapping of limit names to values, got {type(data).__name__}",
                {"source": source},
            )
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            errors = validation_problems(exc.errors(include_url=False), whole="(limits)")
            text = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
            raise ConfigError(f"{source} are invalid: {text}", {"source": source, "errors": errors}) from exc


class ValidationContext(DomainModel):
    """What the validator needs besides the proposal: channel size, timing, daily budget, backend features."""

    capacity_sat: Sat
    local_reserve_sat: Sat = 0  # 0 means unknown: SafetyLimits.max_htlc_reserve_ratio applies
    now_s: int = Field(ge=0, description="unix seconds; passed in so the validator never reads a clock")
    last_change_s: int | None = Field(default=None, ge=0, description="last policy update of this channel")
    # Without a policy history nobody can prove the cooldown has passed, so writes are refused.
    change_history_known: bool = True
    node_updates_last_24h: int = Field(
        default=0, ge=0, description="updates this node made in the rolling 24 h"
    )
    # When someone other than the service last changed this channel's policy (None: never seen).
    external_change_s: int | None = Field(default=None, ge=0)
    capabilities: NodeCapabilities = Field(
        default_factory=NodeCapabilities, description="what the backend can write"
    )

    @classmethod
    def of_channel_size(cls, channel: Channel) -> ValidationContext:
        """Context for judging a policy on its own (bounds, HTLC limits against this channel's capacity).

        Built for every channel of every cycle from an already validated Channel, so built trusted.
        """
        return trusted(
            cls,
            capacity_sat=channel.capacity_sat,
            local_reserve_sat=channel.local_reserve_sat,
            now_s=0,
            last_change_s=None,
            change_history_known=True,
            node_updates_last_24h=0,
            external_change_s=None,
            capabilities=LND_CAPABILITIES,
        )

    @classmethod
    def for_channel(
        cls,
        channel: Channel,
        now_s: int,
        last_change_s: int | None = None,
        *,
        change_history_known: bool = True,
        external_change_s: int | None = None,
        capabilities: NodeCapabilities | None = None,
    ) -> ValidationContext:
        """Context for one of our channels, taking capacity and reserve from the channel itself."""
        return cls(
            capacity_sat=channel.capacity_sat,
            local_reserve_sat=channel.local_reserve_sat,
            now_s=now_s,
            last_change_s=last_change_s,
            change_history_known=change_history_known,
            external_change_s=external_change_s,
            capabilities=capabilities or LND_CAPABILITIES,  # immutable: shared, not rebuilt per channel
        )
