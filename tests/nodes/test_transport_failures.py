"""How a node call fails on the wire: a port that never answers, TLS that cannot be verified or is not TLS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from app.errors import InvalidInputError, UpstreamTemporaryError, UpstreamTlsError
from app.graph.synthetic import generate_graph
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import TransportSettings, tls_verification
from app.resilience.retry import RetrySettings
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.lnd.tls import generate_certificate
from app.sandbox.state import generate_sandbox_state

RETRY = RetrySettings(attempts=3, initial_s=0.01, max_s=0.05, jitter_s=0.0)
MACAROON = bytes.fromhex("0201036c6e64")


@pytest.fixture(scope="module")
def hub():
    graph = generate_graph(seed=8, node_count=120, channel_count=300)
    return graph, generate_sandbox_state(graph, 0, seed=8)


@pytest.fixture
async def tls_sim(hub) -> AsyncIterator[SimulatorHandle]:
    graph, state = hub
    async with running_simulator(SimulatedNode(state, graph), tls=True) as handle:
        yield handle


@pytest.fixture
async def plain_sim(hub) -> AsyncIterator[SimulatorHandle]:
    graph, state = hub
    async with running_simulator(SimulatedNode(state, graph), tls=False) as handle:
        yield handle


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and then never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]
        for writer in held:
            writer.close()


def client(url: str, cert_pem: str | None, **settings: object) -> LndRestClient:
    options = {"retry": RETRY, "requests_per_second": 1_000.0, **settings}
    return LndRestClient("edge", url, MACAROON, tls_cert_pem=cert_pem, settings=TransportSettings(**options))


async def test_a_port_that_accepts_and_never_answers_fails_within_the_call_deadline(silent_port: int):
    # Before: each attempt waited its whole read timeout, retries included (~62 s for a sync).
    lnd = client(f"http://127.0.0.1:{silent_port}", None, read_timeout_s=30.0, total_timeout_s=1.0)
    started = time.perf_counter()
    with pytest.raises(UpstreamTemporaryError, match="is unreachable") as caught:
        await lnd.get_info()
    assert time.perf_counter() - started < 5.0  # 1 s deadline; generous for a loaded machine
    assert "30" not in caught.value.message and "timeout" not in caught.value.message.lower()
    await lnd.aclose()


async def test_a_wrong_pinned_certificate_is_a_tls_failure_and_not_retried(tls_sim: SimulatorHandle):
    other, _ = generate_certificate()
    lnd = client(tls_sim.url, other.decode())
    with pytest.raises(UpstreamTlsError, match="certificate could not be verified"):
        await lnd.get_info()
    assert lnd.requests_made == 1  # the same certificate fails the same way: no retry
    await lnd.aclose()


async def test_https_without_a_pinned_certificate_is_a_tls_failure(tls_sim: SimulatorHandle):
    lnd = client(tls_sim.url, None)  # the system CAs do not know the node's self-signed certificate
    with pytest.raises(UpstreamTlsError, match=r"pin the node's own tls\.cert"):
        await lnd.get_info()
    assert lnd.requests_made == 1
    await lnd.aclose()


async def test_a_tls_handshake_against_a_plain_http_port_is_a_tls_failure(plain_sim: SimulatorHandle):
    cert, _ = generate_certificate()
    lnd = client(plain_sim.url.replace("http://", "https://"), cert.decode())
    with pytest.raises(UpstreamTlsError, match="handshake failed"):
        await lnd.get_info()
    assert lnd.requests_made == 1
    await lnd.aclose()


async def test_the_right_pinned_certificate_still_works(tls_sim: SimulatorHandle, hub):
    _, state = hub
    assert tls_sim.cert_pem is not None
    lnd = LndRestClient("edge", tls_sim.url, tls_sim.macaroons.fees, tls_cert_pem=tls_sim.cert_pem.decode())
    assert (await lnd.get_info()).pubkey == state.node.pubkey
    await lnd.aclose()


def test_a_stored_certificate_that_cannot_be_loaded_is_a_clear_input_error():
    with pytest.raises(InvalidInputError, match="register it again"):
        tls_verification("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
