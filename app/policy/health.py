"""When a node's health after a live batch calls for an automatic rollback (pure rules, no I/O).

Judged against the node's own baseline, never an absolute: the error rate and latency of its API over
the samples taken since the batch against those before it, and forwards and fee revenue on the changed
channels against the rate they had before. Nothing is judged before `min_samples` samples (error rate,
latency) or `min_forwards` expected forwards (flow): a quiet channel proves nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.policy.rollout import FlowComparison


@dataclass(frozen=True)
class HealthThresholds:
    """When to roll back (defaults from the settings)."""

    error_rate: float = 0.5
    latency_factor: float = 2.0
    min_samples: int = 3
    flow_factor: float = 0.5
    min_forwards: int = 10


@dataclass(frozen=True)
class HealthEvidence:
    """Probe samples of the node's API and flow on the changed channels, before and since a batch."""

    samples_after: int
    errors_after: int
    latency_after_ms: float | None  # median of successful probes since the batch
    samples_before: int
    latency_before_ms: float | None  # median of successful probes before the batch
    flow: FlowComparison | None  # None: the backend reports no forwarding history


def rollback_reasons(evidence: HealthEvidence, thresholds: HealthThresholds) -> list[str]:
    """Why the batch must be rolled back (empty: keep it)."""
    reasons = []
    if evidence.samples_after >= thresholds.min_samples:
        rate = evidence.errors_after / evidence.samples_after
        if rate >= thresholds.error_rate:
            reasons.append(
                f"node error rate {rate:.0%} over {evidence.samples_after} probes since the batch "
                f"(rollback at {thresholds.error_rate:.0%})"
            )
        before, after = evidence.latency_before_ms, evidence.latency_after_ms
        enough_before = evidence.samples_before >= thresholds.min_samples
        if before and after is not None and enough_before and after >= thresholds.latency_factor * before:
            reasons.append(
                f"node latency {after:.0f} ms since the batch against a baseline of {before:.0f} ms "
                f"(rollback at {thresholds.latency_factor:g}x)"
            )
    flow = evidence.flow
    if flow is not None and flow.expected(flow.forwards_before) >= max(1, thresholds.min_forwards):
        for what, before_value, after_value in (
            ("forwards", flow.forwards_before, flow.forwards_after),
            ("fee revenue", flow.revenue_before_msat, flow.revenue_after_msat),
        ):
            expected = flow.expected(before_value)
            if after_value < thresholds.flow_factor * expected:
                reasons.append(
                    f"{what} on the changed channels {after_value} since the batch, against {expected:.0f} "
                    f"expected from the {flow.baseline_days:g}-day baseline (rollback below "
                    f"{thresholds.flow_factor:.0%})"
                )
    return reasons
