"""Prometheus metrics of the service's shared machinery: node circuits, node leases held, background jobs.

Recorded in the service process: circuit states are sampled by the health refresh (an open circuit turns
half-open by time alone, so it is read, not counted on transitions), leases are counted where they are held,
jobs when their keeper records how they ended.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import Counter, Gauge

from app.resilience.circuit import CircuitState

NODE_CIRCUITS = Gauge("mcp_node_circuits", "Node clients of this process by circuit-breaker state", ["state"])
LEASES_HELD = Gauge(
    "mcp_node_leases_held", "Node leases this process holds now, by what holds them", ["purpose"]
)
LEASES_BUSY = Counter(
    "mcp_node_lease_busy_total",
    "Node lease requests refused because another holder had it, by purpose",
    ["purpose"],
)
JOBS = Counter(
    "mcp_jobs_total", "Background jobs (syncs, optimizes) by kind and how they ended", ["kind", "state"]
)


def sample_circuits(states: Mapping[str, CircuitState]) -> None:
    """Set the circuit gauge from the node clients' current states (every state present, zeros included)."""
    tally = Tally(states.values())
    for state in CircuitState:
        NODE_CIRCUITS.labels(state.value).set(tally.get(state, 0))


@contextmanager
def lease_held(purpose: str) -> Iterator[None]:
    """Count a node lease as held for the duration of the block."""
    gauge = LEASES_HELD.labels(purpose)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
