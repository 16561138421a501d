"""Whole runs on a small graph: determinism for a seed, and metrics that add up."""

from __future__ import annotations

from app.simulation.config import DemandModel, SimulationConfig
from app.simulation.payments import PaymentStats
from app.simulation.simulator import simulate
from app.simulation.strategies.charge_lnd import ChargeLndProportional
from app.simulation.strategies.static import StaticFees

CONFIG = SimulationConfig(days=3, seed=4, payments_per_s=0.02, warmup_days=0)


def test_a_run_is_deterministic_for_a_seed(small_graph, hub):
    first = simulate(small_graph, hub, ChargeLndProportional(), CONFIG)
    second = simulate(small_graph, hub, ChargeLndProportional(), CONFIG)
    assert first.metrics == second.metrics
    assert first.metrics["network"]["payments"] > 1_000


def test_another_seed_gives_another_run(small_graph, hub):
    first = simulate(small_graph, hub, StaticFees(), CONFIG)
    other = simulate(
        small_graph, hub, StaticFees(), SimulationConfig(days=3, seed=5, payments_per_s=0.02, warmup_days=0)
    )
    assert first.metrics["network"]["payments"] != other.metrics["network"]["payments"]


def test_metrics_add_up(small_graph, hub):
    result = simulate(small_graph, hub, StaticFees(), CONFIG)
    focal, network = result.metrics["focal"], result.metrics["network"]
    assert focal["policy_updates"] == 0  # static never changes a fee
    assert network["succeeded"] + sum(network["failures"].values()) == network["payments"]
    assert network["attempts"] >= network["succeeded"]
    assert 0.0 <= focal["depleted_share"] <= 1.0 and 0.0 <= focal["full_share"] <= 1.0
    assert focal["forwards"] > 0 and focal["revenue_msat"] > 0


def test_strategies_that_move_fees_count_their_updates(small_graph, hub):
    result = simulate(small_graph, hub, ChargeLndProportional(), CONFIG)
    focal = result.metrics["focal"]
    assert focal["policy_updates"] > 0
    assert focal["updates_per_channel_day"] == focal["policy_updates"] / focal["channels"] / CONFIG.days


def test_every_demand_model_runs(small_graph, hub):
    for model in DemandModel:
        config = SimulationConfig(days=1, seed=2, payments_per_s=0.01, demand=model, warmup_days=0)
        assert simulate(small_graph, hub, StaticFees(), config).metrics["network"]["payments"] > 0


def test_top_channels_account_for_the_revenue(small_graph, hub):
    focal = simulate(small_graph, hub, StaticFees(), CONFIG).metrics["focal"]
    top = focal["top_channels"]
    assert top and sum(c["forwards"] for c in top) <= focal["forwards"]
    assert [c["revenue_msat"] for c in top] == sorted((c["revenue_msat"] for c in top), reverse=True)
    if len(top) < 10:  # every earning channel is listed
        assert sum(c["revenue_msat"] for c in top) == focal["revenue_msat"]


class HistorySpy(StaticFees):
    """Static fees that note what the node's history held whenever it was asked to decide."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []  # (day, forwards in the history)

    def decide(self, view):
        self.seen.append((view.day, len(view.node.forwards)))
        return {}


def test_the_strategy_takes_over_after_the_warm_up_with_its_history(small_graph, hub):
    spy, stats = HistorySpy(), PaymentStats()
    config = SimulationConfig(days=2, warmup_days=3, seed=4, payments_per_s=0.02)
    result = simulate(small_graph, hub, spy, config, stats=stats)
    # Asked on the strategy's days only, and already holding the warm-up's forwards on its first day.
    assert [day for day, _ in spy.seen] == [0, 1]
    warmed = spy.seen[0][1]
    assert warmed > 0
    # Metrics count the strategy's days only: the warm-up's forwards and payments are not in them.
    focal, network = result.metrics["focal"], result.metrics["network"]
    assert focal["forwards"] == stats.node_forwards[hub] >= spy.seen[1][1] - warmed
    assert focal["revenue_msat"] == stats.node_fees_msat[hub]
    # Two days of payments, not five (0.02/s: about 3,456 in two days).
    assert network["payments"] == stats.payments
    assert 0.8 * 2 * 0.02 * 86_400 < stats.payments < 1.2 * 2 * 0.02 * 86_400
