"""The LND REST client against the LND simulator over real HTTP and HTTPS, with its traffic held to the swagger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.domain.channel import Channel
from app.domain.updates import UpdateOutcome
from app.errors import UpstreamAuthError, UpstreamNotFoundError
from app.graph.synthetic import generate_graph
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import tls_verification
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from tests.nodes.contract_transport import ContractCheckingTransport


@pytest.fixture(scope="module")
def hub():
    graph = generate_graph(seed=5, node_count=600, channel_count=1_800)
    return graph, generate_sandbox_state(graph, 0, seed=5)


@pytest.fixture(params=[False, True], ids=["http", "https"])
async def sim(request, hub) -> AsyncIterator[SimulatorHandle]:
    graph, state = hub
    async with running_simulator(SimulatedNode(state, graph), tls=request.param) as handle:
        yield handle


def lnd_client(
    sim: SimulatorHandle, macaroon: bytes | None = None
) -> tuple[LndRestClient, ContractCheckingTransport]:
    cert = sim.cert_pem.decode() if sim.cert_pem else None
    # A custom transport replaces the client's TLS settings, so it gets the app's own pinning.
    transport = ContractCheckingTransport(verify=tls_verification(cert))
    client = LndRestClient(
        "sim", sim.url, macaroon or sim.macaroons.fees, tls_cert_pem=cert, transport=transport
    )
    return client, transport


async def channels_of(client: LndRestClient) -> list[Channel]:
    """Channels with policies taken from the node's own graph (one request instead of one per channel)."""
    return await client.list_channels(await client.describe_graph())


async def test_sync_reads_info_channels_with_complete_policies_and_graph(sim, hub):
    graph, state = hub
    client, contract = lnd_client(sim)
    info = await client.get_info()
    assert info.pubkey == state.node.pubkey
    lnd_graph = await client.describe_graph()
    assert lnd_graph.node_count == graph.node_count
    channels = await client.list_channels(lnd_graph)
    assert {c.chan_id for c in channels} == {c.chan_id for c in state.channels}
    by_id = {c.chan_id: c for c in state.channels}
    for channel in channels:
        expected = by_id[channel.chan_id]
        assert channel.local_policy == expected.local_policy
        assert (channel.capacity_sat, channel.local_balance_sat) == (
            expected.capacity_sat,
            expected.local_balance_sat,
        )
        assert channel.channel_point == expected.channel_point
        # the gossip timestamp of our policy: what proves a cooldown to the validator
        assert channel.policy_updated_s is not None and channel.policy_updated_s <= state.now_s
    latest: dict[str, int] = {}
    for change in state.policy_changes:
        latest[change.chan_id] = max(latest.get(change.chan_id, 0), change.changed_at_s)
    assert all(c.policy_updated_s == latest[c.chan_id] for c in channels if c.chan_id in latest)
    assert contract.violations == []
    assert contract.checked >= 4
    await client.aclose()


async def test_list_channels_without_a_graph_reads_each_edge(sim, hub):
    _, state = hub
    client, contract = lnd_client(sim)
    channels = await client.list_channels()
    assert len(channels) == len(state.channels)
    assert client.requests_made == 3 + len(state.channels)  # getinfo, channels, fees + one edge per channel
    assert contract.violations == []
    await client.aclose()


async def test_forwarding_history_pages_until_exhausted(sim, hub):
    _, state = hub
    client, contract = lnd_client(sim)
    client.page_size = 97  # small pages: many round trips over the same history
    events = await client.forwarding_history(state.now_s - 30 * 86_400, state.now_s + 1)
    assert len(events) == len(state.forwards)
    assert [e.timestamp_ns for e in events] == sorted(e.timestamp_ns for e in events)
    assert events[0] == state.forwards[0]
    assert client.requests_made == len(state.forwards) // 97 + 1
    assert contract.violations == []
    await client.aclose()


async def test_update_is_applied_and_read_back(sim):
    client, contract = lnd_client(sim)
    channel = next(c for c in await channels_of(client) if c.active)
    target = channel.local_policy.model_copy(update={"fee_rate_ppm": channel.local_policy.fee_rate_ppm + 25})
    result = await client.update_channel_policy(channel, target)
    assert result.outcome is UpdateOutcome.ACCEPTED
    observed = await client.get_channel_policy(channel)
    assert client.capabilities.policy_matches(observed, target)
    readings = await client.read_policies([channel])  # the bulk read-back the executor uses
    assert readings[channel.chan_id].policy == observed
    assert contract.violations == []
    await client.aclose()


async def test_inbound_fee_is_sent_only_when_it_changes(sim):
    client, contract = lnd_client(sim)
    channel = next(c for c in await channels_of(client) if c.active)
    sent: list[dict[str, object]] = []
    original = client.transport._client.request  # observe the body without changing behaviour

    async def spy(method, url, **kwargs):
        if url == "/v1/chanpolicy":
            sent.append(kwargs["json"])
        return await original(method, url, **kwargs)

    client.transport._client.request = spy  # type: ignore[method-assign]
    fee_only = channel.local_policy.model_copy(
        update={"fee_rate_ppm": channel.local_policy.fee_rate_ppm + 20}
    )
    await client.update_channel_policy(channel, fee_only)
    discount = fee_only.model_copy(update={"inbound_fee_rate_ppm": -10})
    await client.update_channel_policy(channel, discount)
    assert "inbound_fee" not in sent[0]
    assert sent[1]["inbound_fee"] == {"base_fee_msat": 0, "fee_rate_ppm": -10}
    assert all(body["time_lock_delta"] == channel.local_policy.time_lock_delta for body in sent)
    assert all("fee_rate" not in body for body in sent)  # fee_rate_ppm only, never both
    assert (await client.get_channel_policy(channel)).inbound_fee_rate_ppm == -10
    assert contract.violations == []
    await client.aclose()


async def test_lnd_refusal_comes_back_as_a_failed_update(sim):
    client, _ = lnd_client(sim)
    channel = next(c for c in await channels_of(client) if c.active)
    too_short = channel.local_policy.model_copy(update={"time_lock_delta": 10})
    result = await client.update_channel_policy(channel, too_short)
    assert result.outcome is UpdateOutcome.FAILED
    assert result.error
    await client.aclose()


async def test_read_only_macaroon_cannot_write(sim):
    client, _ = lnd_client(sim, sim.macaroons.readonly)
    channel = next(c for c in await channels_of(client) if c.active)
    with pytest.raises(UpstreamAuthError):
        await client.update_channel_policy(
            channel, channel.local_policy.model_copy(update={"fee_rate_ppm": 900})
        )
    await client.aclose()


async def test_wrong_macaroon_is_an_auth_error_and_never_echoed(sim):
    from app.security.macaroons import mint_macaroon

    forged = mint_macaroon(b"x" * 32, {"info": ["read"]}, b"n" * 16)
    client, _ = lnd_client(sim, forged)
    with pytest.raises(UpstreamAuthError) as caught:
        await client.get_info()
    assert forged.hex() not in str(caught.value) and forged.hex() not in repr(client)
    await client.aclose()


async def test_unknown_channel_read_back_is_not_found(sim, hub):
    client, _ = lnd_client(sim)
    channel = (await channels_of(client))[0].model_copy(update={"chan_id": "123456789"})
    with pytest.raises(UpstreamNotFoundError):
        await client.get_channel_policy(channel)
    await client.aclose()
