"""LNDg AutoFees against the rules of af.py with its default settings."""

from __future__ import annotations

from app.simulation.focal import ForwardRecord
from app.simulation.strategies.lndg import ChannelFlows, LndgAutoFees
from tests.simulation.strategies.views import state, view

DAY = 86_400.0


def test_an_idle_balanced_channel_loses_3_x_multiplier():
    assert LndgAutoFees().new_rate(state(0.5, ppm=100), ChannelFlows()) == 85


def test_an_idle_channel_with_excess_liquidity_loses_5_x_multiplier_and_never_goes_below_min_rate():
    strategy = LndgAutoFees()
    assert strategy.new_rate(state(0.97, ppm=100), ChannelFlows()) == 75
    assert strategy.new_rate(state(0.97, ppm=10), ChannelFlows()) == 0


def test_low_liquidity_rises_only_after_more_than_25_failed_htlcs_and_no_inflow():
    strategy = LndgAutoFees()
    assert strategy.new_rate(state(0.10, ppm=100), ChannelFlows(failed_out_1d=26)) == 125
    assert strategy.new_rate(state(0.10, ppm=100), ChannelFlows(failed_out_1d=25)) == 100
    assert strategy.new_rate(state(0.10, ppm=100), ChannelFlows(failed_out_1d=26, in_1d_sat=5)) == 100


def test_a_balanced_channel_with_strong_net_outflow_rises_and_rounds_to_the_increment():
    # 7-day net outflow of 2 capacities: +2 x 5 x (1 + 2 / capacity) = +10.00002, rounded to 5s.
    flows = ChannelFlows(out_7d_sat=2_000_000)
    assert LndgAutoFees().new_rate(state(0.5, ppm=102), flows) == 110


def test_a_channel_updated_within_update_hours_is_not_eligible():
    strategy = LndgAutoFees()
    now = 30 * DAY
    assert strategy.decide(view([state(0.5, ppm=100, last_update_s=now - 3600)], now_s=now)) == {}
    assert (
        strategy.decide(view([state(0.5, ppm=100, last_update_s=now - 25 * 3600)], now_s=now))[0].fee_rate_ppm
        == 85
    )


def test_forwards_below_1000_sat_do_not_count_as_flow():
    now = 30 * DAY
    tiny = ForwardRecord(now - DAY, 0, 0, 999_000, 999_000, 1)
    assert (
        LndgAutoFees().decide(view([state(0.5, ppm=100)], now_s=now, forwards=[tiny]))[0].fee_rate_ppm == 85
    )
    real = ForwardRecord(now - DAY, 0, 0, 2_000_000, 2_000_000, 1)
    assert LndgAutoFees().decide(view([state(0.5, ppm=100)], now_s=now, forwards=[real])) == {}
