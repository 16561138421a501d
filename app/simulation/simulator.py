"""One simulation run: a focal node under one strategy, day by day, on a seeded network and demand."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.graph.model import ChannelGraph
from app.graph.synthetic import SNAPSHOT_NOW_S
from app.simulation.config import SimulationConfig
from app.simulation.costs import CostModel
from app.simulation.demand import DAY_S, Demand
from app.simulation.focal import FocalNode, PolicyUpdate, focal_node
from app.simulation.metrics import BalanceSampler, run_metrics
from app.simulation.network import SimNetwork, build_network
from app.simulation.payments import PaymentSender, PaymentStats
from app.simulation.refill import LiquidityRefill
from app.simulation.routing import RouteFinder, RoutingTables
from app.simulation.strategies.base import ChannelState, FeeStrategy, StrategyView

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    """Progress lines go to stderr so stdout stays clean for results."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RunResult:
    """What one run measured."""

    strategy: str
    focal_alias: str
    focal_pubkey: str
    seed: int
    days: int
    seconds: float
    metrics: dict[str, Any]


def seeded_network(graph: ChannelGraph, config: SimulationConfig) -> SimNetwork:
    """The run's network: balances drawn from the balance prior with the run's seed."""
    rng = np.random.default_rng([config.seed, 104_729])
    return build_network(graph, rng, config.balance_beta, config.reserve_ratio)


def routing_tables(network: SimNetwork, focal: int, config: SimulationConfig) -> RoutingTables:
    """Static routing tables; shareable by every run on the same graph and focal node (policies elsewhere fixed)."""
    cost = CostModel(config.attempt_cost_sat, config.attempt_cost_ppm)
    return RoutingTables(network, focal, cost, config.tree_cache_size)


def simulate(
    graph: ChannelGraph,
    focal_index: int,
    strategy: FeeStrategy,
    config: SimulationConfig,
    tables: RoutingTables | None = None,
    progress: Progress | None = None,
    stats: PaymentStats | None = None,
) -> RunResult:
    """Run `config.warmup_days` under the snapshot's fees, then `config.days` with the strategy deciding daily.

    Every metric counts the strategy's days only. `stats`, when given, receives the network-wide counters
    of those days (every node's forwards and fees included).
    """
    started = time.perf_counter()
    network = seeded_network(graph, config)
    tables = tables or routing_tables(network, focal_index, config)
    finder = RouteFinder(tables, network)
    focal = focal_node(graph, focal_index)
    sender = PaymentSender(network, finder, focal_index, focal, config.max_attempts, config.failure_memory_s)
    demand = Demand(network, focal_index, config)
    sampler = BalanceSampler(network, focal)
    refill = LiquidityRefill(network, focal_index, config.refill_half_life_s)
    for day in range(-config.warmup_days, config.days):
        day_start = float(SNAPSHOT_NOW_S + day * DAY_S)
        if day == 0:  # the strategy takes over: count from here
            focal.start_counting()
            sender.stats = stats if stats is not None else PaymentStats()
            sampler = BalanceSampler(network, focal)
        if day >= 0 and _apply(
            strategy.decide(_view(network, focal, day_start, day)), network, focal, day_start
        ):
            finder.focal_policy_changed()
        payments = demand.day(day + config.warmup_days)
        times = (payments.times_s + day_start).tolist()
        next_sample = day_start
        for when, payer, payee, amount in zip(
            times,
            payments.senders.tolist(),
            payments.receivers.tolist(),
            payments.amounts_msat.tolist(),
            strict=True,
        ):
            while when >= next_sample:
                sampler.sample()
                refill.step(config.sample_every_s)
                next_sample += config.sample_every_s
            sender.pay(when, payer, payee, amount)
        if progress:
            counted = sender.stats
            phase = (
                f"warm-up day {day + config.warmup_days + 1}/{config.warmup_days}"
                if day < 0
                else (f"day {day + 1}/{config.days}")
            )
            progress(
                f"{strategy.name} {focal.alias or focal.pubkey[:16]} seed {config.seed}: {phase}"
                f" payments {counted.payments:,} attempts {counted.attempts:,} success "
                f"{counted.succeeded / max(counted.payments, 1):.1%} focal revenue {focal.revenue_msat // 1000:,} sat"
                f" ({time.perf_counter() - started:.0f} s)"
            )
    seconds = time.perf_counter() - started
    metrics = run_metrics(config, focal, network, sender.stats, sampler)
    metrics["trees_built"] = tables.trees_built
    metrics["full_searches"] = finder.slow_searches
    metrics["detours"] = finder.detours
    metrics["strategy"] = strategy.diagnostics()
    return RunResult(strategy.name, focal.alias, focal.pubkey, config.seed, config.days, seconds, metrics)


def _view(network: SimNetwork, focal: FocalNode, now_s: float, day: int) -> StrategyView:
    """The focal node as a strategy sees it at the start of a day."""
    last: dict[int, float] = {}
    for update in focal.updates:
        last[update.channel] = update.time_s
    states = [
        ChannelState(
            channel=channel,
            local_msat=network.local_msat[channel.out_half],
            remote_msat=network.local_msat[channel.out_half ^ 1],
            policy=network.policy(channel.out_half),
            last_update_s=last.get(channel.index),
        )
        for channel in focal.channels
    ]
    return StrategyView(now_s=now_s, day=day, node=focal, channels=states, network=network)


def _apply(updates: dict[int, Any], network: SimNetwork, focal: FocalNode, now_s: float) -> bool:
    """Announce every policy that differs from the current one; each counts as one gossip update."""
    changed = False
    for index, policy in sorted(updates.items()):
        half = focal.channels[index].out_half
        if network.policy(half).changed_fields(policy):
            network.set_policy(half, policy)
            focal.updates.append(PolicyUpdate(now_s, index, network.policy(half)))
            changed = True
    return changed
