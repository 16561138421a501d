"""Automatic rollback rules: error rate, latency against the node's baseline, and flow on changed channels."""

from __future__ import annotations

from dataclasses import replace

from app.policy.health import HealthEvidence, HealthThresholds, rollback_reasons
from app.policy.rollout import FlowComparison

THRESHOLDS = HealthThresholds()  # error rate 50 %, latency 2x, 3 samples, flow 50 %, 10 forwards
# Baseline and elapsed time equal: what is expected since the batch equals what was seen before it.
STEADY_FLOW = FlowComparison(
    baseline_days=4.0,
    elapsed_days=4.0,
    revenue_before_msat=200_000,
    revenue_after_msat=200_000,
    forwards_before=40,
    forwards_after=40,
)
HEALTHY = HealthEvidence(
    samples_after=6,
    errors_after=0,
    latency_after_ms=100.0,
    samples_before=6,
    latency_before_ms=100.0,
    flow=STEADY_FLOW,
)


def reasons(evidence: HealthEvidence, thresholds: HealthThresholds = THRESHOLDS) -> list[str]:
    """Shorthand."""
    return rollback_reasons(evidence, thresholds)


def test_a_healthy_node_keeps_its_batch():
    assert reasons(HEALTHY) == []


def test_nothing_is_judged_below_min_samples():
    broken = replace(HEALTHY, samples_after=2, errors_after=2, latency_after_ms=10_000.0, flow=None)
    assert reasons(broken) == []
    assert reasons(replace(broken, samples_after=3)) != []


def test_an_error_rate_at_exactly_the_threshold_rolls_back():
    [reason] = reasons(replace(HEALTHY, errors_after=3))  # 3 of 6 = 50 %
    assert "error rate 50%" in reason
    assert reasons(replace(HEALTHY, errors_after=2)) == []  # 33 %


def test_the_error_rate_threshold_is_configurable():
    strict = HealthThresholds(error_rate=0.25)
    assert reasons(replace(HEALTHY, errors_after=2), strict) != []
    assert reasons(replace(HEALTHY, errors_after=1), strict) == []


def test_latency_at_the_factor_over_the_baseline_rolls_back():
    [reason] = reasons(replace(HEALTHY, latency_after_ms=200.0))
    assert "latency 200 ms" in reason and "baseline of 100 ms" in reason
    assert reasons(replace(HEALTHY, latency_after_ms=199.0)) == []


def test_latency_needs_a_baseline_with_enough_samples():
    slow = replace(HEALTHY, latency_after_ms=1_000.0)
    assert reasons(replace(slow, samples_before=2)) == []
    assert reasons(replace(slow, latency_before_ms=None)) == []
    assert reasons(replace(slow, latency_before_ms=0.0)) == []
    assert reasons(replace(slow, samples_before=3)) != []


def test_latency_is_not_judged_without_a_successful_probe_since_the_batch():
    assert reasons(replace(HEALTHY, latency_after_ms=None)) == []


def test_flow_below_the_factor_rolls_back():
    fewer = replace(STEADY_FLOW, forwards_after=19)  # 40 expected, 20 is the limit
    [reason] = reasons(replace(HEALTHY, flow=fewer))
    assert reason.startswith("forwards on the changed channels 19")
    poorer = replace(STEADY_FLOW, revenue_after_msat=99_999)
    [reason] = reasons(replace(HEALTHY, flow=poorer))
    assert reason.startswith("fee revenue on the changed channels 99999")
    both = replace(STEADY_FLOW, forwards_after=0, revenue_after_msat=0)
    assert len(reasons(replace(HEALTHY, flow=both))) == 2


def test_flow_at_exactly_the_factor_keeps_the_batch():
    at = replace(STEADY_FLOW, forwards_after=20, revenue_after_msat=100_000)
    assert reasons(replace(HEALTHY, flow=at)) == []


def test_flow_is_not_judged_when_too_few_forwards_are_expected():
    # 40 forwards in 4 days predict 9 in 0.9 days: below the 10 needed, so even nothing is no evidence.
    quiet = replace(STEADY_FLOW, elapsed_days=0.9, forwards_after=0, revenue_after_msat=0)
    assert reasons(replace(HEALTHY, flow=quiet)) == []
    assert len(reasons(replace(HEALTHY, flow=replace(quiet, elapsed_days=1.0)))) == 2


def test_flow_needs_at_least_one_expected_forward_even_with_min_forwards_zero():
    lenient = HealthThresholds(min_forwards=0)
    none_expected = replace(STEADY_FLOW, forwards_before=0, forwards_after=0, revenue_after_msat=0)
    assert reasons(replace(HEALTHY, flow=none_expected), lenient) == []
    no_baseline = replace(STEADY_FLOW, baseline_days=0.0, forwards_after=0, revenue_after_msat=0)
    assert reasons(replace(HEALTHY, flow=no_baseline), lenient) == []


def test_flow_is_judged_even_before_enough_probes():
    evidence = replace(HEALTHY, samples_after=0, errors_after=0, flow=replace(STEADY_FLOW, forwards_after=0))
    assert len(reasons(evidence)) == 1


def test_no_forwarding_history_means_no_flow_rule():
    assert reasons(replace(HEALTHY, flow=None)) == []
