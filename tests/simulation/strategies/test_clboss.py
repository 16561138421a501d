"""CLBOSS fee modifiers against FeeModderByBalance.cpp and FeeModderByPriceTheory.cpp."""

from __future__ import annotations

import math

from app.simulation.focal import ForwardRecord
from app.simulation.strategies.clboss import (
    CARD_LIFETIME_S,
    ClbossFees,
    balance_multiplier,
    bin_count,
    bin_multiplier,
    price_multiplier,
)
from tests.simulation.strategies.views import state, view


def test_balance_multiplier_is_50_to_the_power_of_half_minus_our_share():
    assert balance_multiplier(0.5) == 1.0
    assert math.isclose(balance_multiplier(0.0), math.sqrt(50))
    assert math.isclose(balance_multiplier(1.0), 1 / math.sqrt(50))


def test_bins_of_0_002_btc_between_4_and_50():
    assert bin_count(1_000_000) == 5
    assert bin_count(100_000) == 4
    assert bin_count(100_000_000) == 50
    # Bin 0 of 4 is taken at its centre, a share of 1/8.
    assert math.isclose(bin_multiplier(0, 4), 50 ** (0.5 - 0.125))


def test_price_levels_multiply_by_1_2_up_and_0_8_down():
    assert price_multiplier(0) == 1.0
    assert math.isclose(price_multiplier(2), 1.44)
    assert math.isclose(price_multiplier(-2), 0.64)


def test_the_fee_is_the_competitor_median_times_the_modifiers():
    strategy = ClbossFees(seed=3)
    # The peer is B of the diamond: A and D both charge 100 ppm and 0 base to reach it, so the median is
    # 100 ppm and 0 msat (which CLBOSS turns into 1). A half-full 1M sat channel sits in the middle bin
    # of 5 (multiplier 1), so the fee is 100 ppm times the price card in play.
    updates = strategy.decide(view([state(0.5, ppm=7)]))
    card = strategy._games[0].in_play
    assert card is not None and -2 <= card <= 2
    assert updates[0].fee_rate_ppm == round(100 * price_multiplier(card))
    assert updates[0].base_fee_msat == 1


def test_the_price_centre_moves_to_the_best_earning_card_after_a_full_deck():
    strategy = ClbossFees(seed=5)
    states = [state(0.5)]
    now = 0.0
    strategy.decide(view(states, now_s=now))
    earnings = {}
    for fee in (10, 50, 20, 40, 30):  # one full deck of five cards, each card earning a different fee
        card = strategy._games[0].in_play
        assert card is not None
        earnings[card] = fee
        now += CARD_LIFETIME_S
        forward = ForwardRecord(now - 1, 0, 0, 1_000_000, 1_000_000, fee)
        strategy.decide(view(states, now_s=now, forwards=[forward]))
        strategy._forwards_seen = 0  # each view carries only its new forward
    assert sorted(earnings) == [-2, -1, 0, 1, 2]
    assert strategy._games[0].centre == max(earnings, key=lambda price: earnings[price])
