"""Clean fee and HTLC values: operators read `250 ppm`, not `247 ppm`, and peers see fewer odd updates."""

from __future__ import annotations

import math


def fee_grid(value: float) -> int:
    """Grid spacing for a fee rate of this size."""
    if value < 20:
        return 1
    if value < 100:
        return 5
    if value < 1000:
        return 10
    if value < 5000:
        return 50
    return 100


def clean_ceil(value: float) -> int:
    """Smallest clean fee rate at or above `value`."""
    grid = fee_grid(value)
    return math.ceil(value / grid - 1e-9) * grid


def clean_floor(value: float) -> int:
    """Largest clean fee rate at or below `value` (never negative)."""
    if value <= 0:
        return 0
    grid = fee_grid(value)
    return math.floor(value / grid + 1e-9) * grid


def floor_two_significant_sat(amount_msat: int) -> int:
    """Round an msat amount down to two significant digits of whole satoshis (1,234,567 sat -> 1,200,000)."""
    sat = amount_msat // 1000
    if sat <= 0:
        return 0
    magnitude: int = 10 ** max(len(str(sat)) - 2, 0)
    return (sat // magnitude) * magnitude * 1000
