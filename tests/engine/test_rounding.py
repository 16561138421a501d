"""Clean values and fee steps that always satisfy the validator's step rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.fee_steps import lowered_fee, raised_fee
from app.engine.rounding import clean_ceil, clean_floor, floor_two_significant_sat
from app.policy.limits import SafetyLimits


@pytest.mark.parametrize(
    ("value", "up", "down"),
    [(7.2, 8, 7), (42.0, 45, 40), (247.0, 250, 240), (1234.0, 1250, 1200), (7777.0, 7800, 7700)],
)
def test_clean_rounding(value, up, down):
    assert clean_ceil(value) == up
    assert clean_floor(value) == down


def test_floor_two_significant_sat():
    assert floor_two_significant_sat(1_234_567_000) == 1_200_000_000
    assert floor_two_significant_sat(99_999) == 99_000
    assert floor_two_significant_sat(500) == 0


def test_raise_and_lower_examples():
    limits = SafetyLimits()
    assert raised_fee(100, 0.2, limits) == 120
    assert raised_fee(0, 0.2, limits) == 10  # from 0 only the ppm minimum applies
    assert raised_fee(2_500, 0.2, limits) is None  # already at the maximum
    assert lowered_fee(1_000, 0.15, limits) == 850
    assert lowered_fee(5, 0.5, limits) is None  # cannot cut 10 ppm from 5


@given(old=st.integers(0, 3_000), step=st.floats(0.01, 1.0))
def test_fee_steps_always_pass_step_cap_and_minimum_change(old, step):
    limits = SafetyLimits()
    for new in (raised_fee(old, step, limits), lowered_fee(old, step, limits)):
        if new is None:
            continue
        change = abs(new - old)
        assert limits.min_fee_change_ppm(old) <= change <= limits.max_fee_step_ppm(old)
        assert limits.fee_rate_min_ppm <= new <= limits.fee_rate_max_ppm
