"""charge-lnd proportional against the formula of its strategy.py and the delta rule of charge_lnd.py."""

from __future__ import annotations

from app.simulation.strategies.charge_lnd import ChargeLndProportional, proportional_ppm
from tests.simulation.strategies.views import state, view


def test_worked_example_min_10_max_2000():
    # A quarter of the balance on our side: 10 + 0.75 x 1990 = 1502.5, truncated by int().
    assert proportional_ppm(0.25, 10, 2000) == 1502
    assert proportional_ppm(1.0, 10, 2000) == 10
    assert proportional_ppm(0.0, 10, 2000) == 2000


def test_changes_smaller_than_the_delta_are_not_applied():
    strategy = ChargeLndProportional(base_fee_msat=None)
    assert strategy.decide(view([state(0.5, ppm=1000)])) == {}  # 1005 is within 10 ppm of 1000
    updates = strategy.decide(view([state(0.25, ppm=1000)]))
    assert updates[0].fee_rate_ppm == 1502


def test_the_configured_base_fee_is_applied():
    updates = ChargeLndProportional().decide(view([state(0.5, ppm=1005, base=0)]))
    assert updates[0].base_fee_msat == 1000 and updates[0].fee_rate_ppm == 1005
