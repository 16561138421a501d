"""Every fault kind of the simulator through the LND client: retries, circuit, errors, read-back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from app.domain.channel import Channel
from app.domain.updates import UpdateOutcome
from app.errors import UpstreamError, UpstreamTemporaryError, UpstreamUnavailableError
from app.graph.synthetic import generate_graph
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import TransportSettings
from app.resilience.circuit import CircuitSettings, CircuitState
from app.resilience.retry import RetrySettings
from app.sandbox.lnd.faults import FaultPlan
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state

RETRY = RetrySettings(attempts=3, initial_s=0.01, max_s=0.05, jitter_s=0.0)


@pytest.fixture(scope="module")
def hub():
    graph = generate_graph(seed=6, node_count=400, channel_count=1_200)
    return graph, generate_sandbox_state(graph, 0, seed=6)


@pytest.fixture
async def sim(hub) -> AsyncIterator[SimulatorHandle]:
    graph, state = hub
    async with running_simulator(SimulatedNode(state, graph)) as handle:
        yield handle


def client(sim: SimulatorHandle, **settings: object) -> LndRestClient:
    options = {"retry": RETRY, "read_timeout_s": 0.5, "requests_per_second": 1_000.0, **settings}
    return LndRestClient("faulty", sim.url, sim.macaroons.fees, settings=TransportSettings(**options))


async def first_active(lnd: LndRestClient) -> Channel:
    return next(c for c in await lnd.list_channels(await lnd.describe_graph()) if c.active)


async def test_503s_are_retried_then_reported(sim):
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), error_rate=1.0, error_status=503))
    lnd = client(sim)
    with pytest.raises(UpstreamTemporaryError, match="HTTP 503"):
        await lnd.get_info()
    assert lnd.requests_made == 3  # the whole retry budget, no more
    await lnd.aclose()


async def test_intermittent_503s_are_absorbed_by_retries(sim):
    sim.set_faults(FaultPlan(seed=11, paths=("/v1/getinfo",), error_rate=0.5, error_status=503))
    lnd = client(sim, retry=RetrySettings(attempts=8, initial_s=0.0, max_s=0.01, jitter_s=0.0))
    for _ in range(10):
        assert (await lnd.get_info()).pubkey == sim.node.pubkey
    assert lnd.requests_made > 10  # some calls needed more tries
    await lnd.aclose()


async def test_a_500_unknown_error_is_reported_at_once(sim):
    # grpc-gateway sends most permanent LND errors as HTTP 500 / code 2: retrying would not help
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), error_rate=1.0, error_status=500))
    lnd = client(sim)
    with pytest.raises(UpstreamError, match="HTTP 500") as caught:
        await lnd.get_info()
    assert not isinstance(caught.value, UpstreamTemporaryError)
    assert lnd.requests_made == 1
    await lnd.aclose()


async def test_timeouts_are_retried_and_reported(sim):
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), timeout_rate=1.0, hang_s=5.0))
    lnd = client(sim, read_timeout_s=0.2)
    started = time.perf_counter()
    with pytest.raises(UpstreamTemporaryError, match="is unreachable"):
        await lnd.get_info()
    assert lnd.requests_made == 3
    assert time.perf_counter() - started < 3.0
    await lnd.aclose()


async def test_connection_resets_are_retried_and_reported(sim):
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), reset_rate=1.0))
    lnd = client(sim)
    with pytest.raises(UpstreamTemporaryError, match="is unreachable"):
        await lnd.get_info()
    assert lnd.requests_made == 3
    await lnd.aclose()


async def test_latency_is_felt_but_tolerated(sim):
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), latency_ms=150))
    lnd = client(sim)
    started = time.perf_counter()
    await lnd.get_info()
    assert time.perf_counter() - started >= 0.15
    await lnd.aclose()


async def test_circuit_opens_refuses_then_half_opens_and_closes(sim):
    circuit = CircuitSettings(consecutive_failures=3, cooldown_s=0.3)
    lnd = client(sim, circuit=circuit, retry=RetrySettings(attempts=1))
    sim.set_faults(FaultPlan(paths=("/v1/getinfo",), error_rate=1.0, error_status=503))
    for _ in range(3):
        with pytest.raises(UpstreamTemporaryError):
            await lnd.get_info()
    assert lnd.circuit_state is CircuitState.OPEN
    with pytest.raises(UpstreamUnavailableError, match="circuit for node faulty is open"):
        await lnd.get_info()
    assert lnd.requests_made == 3  # refused locally: the sick node was not called
    sim.set_faults(FaultPlan())
    await asyncio.sleep(0.35)
    assert lnd.circuit_state is CircuitState.HALF_OPEN
    await lnd.get_info()  # the probe succeeds
    assert lnd.circuit_state is CircuitState.CLOSED
    transitions = lnd.transport.breaker.transitions
    assert [(a.value, b.value) for a, b in transitions] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    await lnd.aclose()


async def test_failed_updates_are_reported_per_channel(sim):
    lnd = client(sim)
    channel = await first_active(lnd)
    sim.set_faults(FaultPlan(paths=("/v1/chanpolicy",), failed_updates_rate=1.0))
    target = channel.local_policy.model_copy(update={"fee_rate_ppm": channel.local_policy.fee_rate_ppm + 30})
    result = await lnd.update_channel_policy(channel, target)
    assert result.outcome is UpdateOutcome.FAILED
    assert result.failure_reason and result.failure_reason.startswith("UPDATE_FAILURE")
    assert await lnd.get_channel_policy(channel) == channel.local_policy  # refused: nothing changed
    await lnd.aclose()


async def test_silently_dropped_update_is_caught_by_read_back(sim):
    lnd = client(sim)
    channel = await first_active(lnd)
    sim.set_faults(FaultPlan(paths=("/v1/chanpolicy",), silent_drop_rate=1.0))
    target = channel.local_policy.model_copy(update={"fee_rate_ppm": channel.local_policy.fee_rate_ppm + 30})
    raw = await lnd.update_channel_policy(channel, target)
    assert raw.outcome is UpdateOutcome.ACCEPTED  # LND said yes ...
    assert (
        await lnd.get_channel_policy(channel) == channel.local_policy
    )  # ... but the read-back proves otherwise
    await lnd.aclose()


async def test_paging_beyond_fifty_thousand_events(big_source):
    graph, state = big_source
    assert len(state.forwards) > 50_000
    async with running_simulator(SimulatedNode(state, graph)) as sim:
        lnd = client(sim, read_timeout_s=30.0)
        events = await lnd.forwarding_history(state.now_s - 30 * 86_400, state.now_s + 1)
        assert len(events) == len(state.forwards)
        assert len({(e.timestamp_ns, e.chan_id_in, e.chan_id_out) for e in events}) == len(events)
        assert lnd.requests_made == 2  # 50,000 and the rest
        await lnd.aclose()
