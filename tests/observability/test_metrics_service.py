"""Each metric moves when its work happens in the running service, and /metrics exports it (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from app.cache.facade import Cache
from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.domain.decision import DecisionKind
from app.domain.execution import ExecutionMode
from app.domain.validation import IssueCode
from app.errors import UpstreamError
from app.sandbox.lnd.faults import FaultPlan
from app.services.runtime import ServiceRuntime
from tests.api.conftest import Service, live_service  # noqa: F401
from tests.api.test_live import ok, registered, to_stage
from tests.services.test_background import _node
from tests.storage.conftest import mongo_url  # noqa: F401

pytestmark = pytest.mark.timeout(240)
OPTIMIZE_ROUTE = "/api/v1/nodes/{node_id}/optimize"


async def until(condition: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll `condition` until it holds or the deadline passes (then fail)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        assert loop.time() < end, "condition not reached before the deadline"
        await asyncio.sleep(0.01)


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of the default registry (0 when it has none yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    """The sum of every sample of a metric, whatever its labels."""
    return sum(s.value for metric in REGISTRY.collect() for s in metric.samples if s.name == name)


class Deltas:
    """Samples read before some work, to compare with after it."""

    def __init__(self, *keys: tuple[str, dict[str, str]]) -> None:
        self.before = {(name, tuple(sorted(labels.items()))): sample(name, **labels) for name, labels in keys}

    def __call__(self, name: str, **labels: str) -> float:
        """How much the sample moved since."""
        return sample(name, **labels) - self.before[(name, tuple(sorted(labels.items())))]


async def test_a_cycle_counts_its_phases_decisions_refusals_request_job_and_lease(live_service: Service):  # noqa: F811
    service = live_service
    key, node_id = await registered(service, "metered", {"limits": {"daily_cap": 0}})  # every write refused
    runtime: ServiceRuntime = service.app.state.runtime
    node = await _node(runtime, node_id)
    keys: list[tuple[str, dict[str, str]]] = [
        ("mcp_cycle_phase_seconds_count", {"phase": phase}) for phase in ("observe", "decide")
    ]
    keys += [("mcp_cycle_phases_total", {"phase": phase, "outcome": "ok"}) for phase in ("observe", "decide")]
    keys += [
        ("mcp_http_requests_total", {"route": OPTIMIZE_ROUTE, "method": "POST", "status": "200"}),
        ("mcp_http_request_seconds_count", {"route": OPTIMIZE_ROUTE, "method": "POST"}),
        ("mcp_jobs_total", {"kind": "optimize", "state": "succeeded"}),
        ("mcp_centrality_seconds_count", {}),
        ("mcp_node_lease_busy_total", {"purpose": "optimize"}),
        ("mcp_http_requests_total", {"route": OPTIMIZE_ROUTE, "method": "POST", "status": "409"}),
    ]
    keys += [("mcp_decisions_total", {"kind": kind.value, "mode": "shadow"}) for kind in DecisionKind]
    keys += [("mcp_validator_refusals_total", {"code": code.value, "gate": "cycle"}) for code in IssueCode]
    moved = Deltas(*keys)
    async with service.client(key) as api:
        result: dict[str, Any] = await ok(
            await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        )
    assert result["rejections_by_code"], "the cycle refused nothing: the refusal metric is not exercised"
    for kind, count in result["decisions"].items():
        assert moved("mcp_decisions_total", kind=kind, mode="shadow") == count, kind
    for code, count in result["rejections_by_code"].items():
        assert moved("mcp_validator_refusals_total", code=code, gate="cycle") == count, code
    assert moved("mcp_centrality_seconds_count") == 1  # the node's graph, scored in the worker process
    for phase in ("observe", "decide"):
        assert moved("mcp_cycle_phase_seconds_count", phase=phase) == 1
        assert moved("mcp_cycle_phases_total", phase=phase, outcome="ok") == 1
    assert moved("mcp_http_requests_total", route=OPTIMIZE_ROUTE, method="POST", status="200") == 1
    assert moved("mcp_http_request_seconds_count", route=OPTIMIZE_ROUTE, method="POST") == 1
    await until(
        lambda: moved("mcp_jobs_total", kind="optimize", state="succeeded") == 1
    )  # its keeper records it
    # Another holder has the node's lease: the optimize is refused and counted as busy.
    async with runtime.locks.hold(node.tenant_id, node_id, "test"):
        assert sample("mcp_node_leases_held", purpose="test") == 1
        async with service.client(key) as api:
            busy = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        assert busy.status_code == 409
    assert sample("mcp_node_leases_held", purpose="test") == 0
    assert sample("mcp_node_leases_held", purpose="optimize") == 0
    assert moved("mcp_node_lease_busy_total", purpose="optimize") == 1
    assert moved("mcp_http_requests_total", route=OPTIMIZE_ROUTE, method="POST", status="409") == 1
    # The node's client is up: the circuit gauge, sampled by the health refresh, counts it closed.
    await runtime.refresh_health()
    states = runtime.clients.circuit_states()
    assert total("mcp_node_circuits") == len(states) >= 1
    assert sample("mcp_node_circuits", state="closed") == sum(s.value == "closed" for s in states.values())
    # The node fails five calls in a row: its circuit opens, and the next refresh counts it open.
    client = await runtime.clients.get(node, "test")
    service.simulator.set_faults(FaultPlan(paths=("/v1/getinfo",), error_rate=1.0, error_status=500))
    for _ in range(5):
        with contextlib.suppress(UpstreamError):
            await client.get_info()
    service.simulator.set_faults(FaultPlan())
    await runtime.refresh_health()
    assert sample("mcp_node_circuits", state="open") == 1
    assert total("mcp_node_circuits") == len(runtime.clients.circuit_states())
    # A path no route serves, with a made-up method: one bounded series, not one per path or method.
    async with service.client() as anonymous:
        odd = await anonymous.request("BREW", f"/no/such/{node_id}")
    labels = {"route": "unmatched", "method": "other", "status": str(odd.status_code)}
    before_odd = sample("mcp_http_requests_total", **labels)
    async with service.client() as anonymous:
        await anonymous.request("BREW", "/no/such/other")
    assert sample("mcp_http_requests_total", **labels) == before_odd + 1
    # What the test saw in the registry is what /metrics exports.
    async with service.client() as anonymous:
        exported = (await anonymous.get("/metrics")).text
    line = f'mcp_http_requests_total{{method="POST",route="{OPTIMIZE_ROUTE}",status="200"}}'
    assert re.search(re.escape(line) + r" [1-9]", exported), "optimize requests not exported"
    assert "mcp_cycle_phase_seconds_bucket" in exported and "mcp_node_circuits" in exported


async def test_a_live_batch_and_its_rollback_count_writes_transactions_and_the_rollback(
    live_service: Service,  # noqa: F811
):
    service = live_service
    key, node_id = await registered(service, "written")
    async with service.client(key) as api:
        await to_stage(api, node_id, "live")
        moved = Deltas(
            ("mcp_transactions_total", {"kind": "apply", "state": "committed"}),
            ("mcp_policy_writes_total", {"outcome": "applied", "kind": "apply"}),
            ("mcp_cycle_phase_seconds_count", {"phase": "execute"}),
            ("mcp_transactions_total", {"kind": "rollback", "state": "committed"}),
            ("mcp_policy_writes_total", {"outcome": "applied", "kind": "rollback"}),
            ("mcp_policy_writes_total", {"outcome": "not_applied", "kind": "rollback"}),
            ("mcp_policy_writes_total", {"outcome": "failed", "kind": "rollback"}),
            ("mcp_policy_writes_total", {"outcome": "unknown", "kind": "rollback"}),
            ("mcp_policy_writes_total", {"outcome": "restored", "kind": "rollback"}),
            ("mcp_rollbacks_total", {"trigger": "operator"}),
        )
        result = await ok(
            await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": ExecutionMode.LIVE.value})
        )
        applied = result["execution"]["outcomes"].get("applied", 0)
        assert result["execution"]["state"] == "committed" and applied >= 1
        assert moved("mcp_transactions_total", kind="apply", state="committed") == 1
        assert moved("mcp_policy_writes_total", outcome="applied", kind="apply") == applied
        assert moved("mcp_cycle_phase_seconds_count", phase="execute") == 1
        transaction_id = result["execution"]["transaction_id"]
        undone = await ok(
            await api.post(f"/api/v1/transactions/{transaction_id}/rollback", json={"reason": "test"})
        )
    assert moved("mcp_rollbacks_total", trigger="operator") == 1
    assert moved("mcp_transactions_total", kind="rollback", state="committed") == 1
    assert undone["outcomes"], undone
    for outcome, count in undone["outcomes"].items():
        assert moved("mcp_policy_writes_total", outcome=outcome, kind="rollback") == count, outcome


async def test_cache_lookups_move_the_hit_and_miss_counters_the_hit_ratio_is_made_of():
    # The service's hot reads are remembered in process before they reach this cache (app/cache/facade.py
    # `remembered`), so the shared cache's own lookups are exercised here directly.
    hits, misses = total("mcp_cache_hits_total"), total("mcp_cache_misses_total")
    async with Cache() as cache:
        key = cache_key("tenant-m", "node-m", "metrics-test")
        assert await cache.get_bytes(key) is None
        await cache.set_bytes(key, b"cached", TtlClass.CHANNELS)
        for _ in range(3):
            assert await cache.get_bytes(key) == b"cached"
    assert total("mcp_cache_hits_total") - hits == 3
    assert total("mcp_cache_misses_total") - misses == 1
