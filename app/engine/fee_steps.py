"""Proportional fee steps that respect the validator's step cap and minimum meaningful change."""

from __future__ import annotations

from app.engine.rounding import clean_ceil, clean_floor
from app.policy.limits import SafetyLimits


def raised_fee(old_ppm: int, step: float, limits: SafetyLimits) -> int | None:
    """Fee rate raised by `step` (a ratio), rounded up to a clean value; None when no valid raise exists."""
    floor_new = max(old_ppm + limits.min_fee_change_ppm(old_ppm), limits.fee_rate_min_ppm)
    ceiling_new = min(old_ppm + limits.max_fee_step_ppm(old_ppm), limits.fee_rate_max_ppm)
    new = clean_ceil(max(old_ppm * (1.0 + step), floor_new))
    if new > ceiling_new:
        new = clean_floor(ceiling_new)
    return new if floor_new <= new <= ceiling_new else None


def lowered_fee(old_ppm: int, step: float, limits: SafetyLimits) -> int | None:
    """Fee rate cut by `step` (a ratio), rounded down to a clean value; None when no valid cut exists."""
    # A current fee above the bound (set by hand) may need more than one capped step to get back inside.
    ceiling_new = min(old_ppm - limits.min_fee_change_ppm(old_ppm), limits.fee_rate_max_ppm)
    floor_new = max(old_ppm - limits.max_fee_step_ppm(old_ppm), limits.fee_rate_min_ppm)
    new = clean_floor(min(old_ppm * (1.0 - step), ceiling_new))
    if new < floor_new:
        new = clean_ceil(floor_new)
    return new if floor_new <= new <= ceiling_new else None
