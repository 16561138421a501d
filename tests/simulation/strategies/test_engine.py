"""`ours` runs the service's own cycle: the same function, on a snapshot shaped like the service's."""

from __future__ import annotations

from app.domain.snapshot import NodeSnapshot
from app.domain.validation import Verdict
from app.engine import cycle
from app.engine.profile import load_profiles
from app.services import observe
from app.settings import get_settings
from app.simulation.config import SimulationConfig
from app.simulation.simulator import simulate
from app.simulation.strategies import engine as engine_strategy
from app.simulation.strategies.engine import EngineStrategy


def test_it_is_the_function_the_service_calls():
    assert vars(engine_strategy)["run_cycle"] is cycle.run_cycle
    assert vars(observe)["run_cycle"] is cycle.run_cycle


def test_its_writes_are_exactly_the_gates_approvals(small_graph, small_centrality, hub, monkeypatch):
    calls: list[NodeSnapshot] = []
    real = cycle.run_cycle

    def spy(snapshot, graph, centrality, profile, heuristics=None):
        calls.append(snapshot)
        return real(snapshot, graph, centrality, profile, heuristics)

    monkeypatch.setattr(engine_strategy, "run_cycle", spy)
    profile = load_profiles(get_settings().thresholds_file).get("aggressive")
    strategy = EngineStrategy(profile=profile, centrality=small_centrality, approve_waiting=False)
    result = simulate(small_graph, hub, strategy, SimulationConfig(days=4, seed=3, payments_per_s=0.01))
    assert len(calls) == 4  # once per simulated day
    last = calls[-1]
    assert last.forwards is not None and last.policy_changes is not None
    assert last.optimizer_updates_last_24h <= profile.limits.daily_cap
    report = strategy.last_report
    assert report is not None
    approved = sum(
        1
        for e in report.evaluations
        if e.decision.kind.writes_policy and e.validation.verdict is Verdict.APPROVED
    )
    assert approved <= profile.limits.daily_cap
    assert result.metrics["focal"]["policy_updates"] <= profile.limits.daily_cap * 4


def test_its_diagnostics_count_every_channel_every_day(small_graph, small_centrality, hub):
    profile = load_profiles(get_settings().thresholds_file).get("balanced")
    strategy = EngineStrategy(profile=profile, centrality=small_centrality)
    days = 3
    result = simulate(small_graph, hub, strategy, SimulationConfig(days=days, seed=3, payments_per_s=0.01))
    counts = result.metrics["strategy"]["counts"]
    kinds = sum(v for k, v in counts.items() if k.startswith("kind:"))
    verdicts = sum(v for k, v in counts.items() if k.startswith("verdict:"))
    assert kinds == verdicts == small_graph.degree(hub) * days
    written = sum(
        v
        for k, v in counts.items()
        if k.startswith("verdict:") and k.endswith((":approved", ":needs_approval"))
    )
    assert (
        written >= result.metrics["focal"]["policy_updates"]
    )  # an approval equal to the policy sends nothing
    assert result.metrics["strategy"]["top_reasons"]
