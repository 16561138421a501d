"""The validator has teeth, and every simulator endpoint (and every request we send it) fits LND's swagger."""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sandbox.lnd.encoding import forward, getinfo
from app.sandbox.lnd.faults import FaultPlan
from app.sandbox.lnd.model import Forward
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from tests.contract.swagger import ContractError, LndContract, check, event_hooks, require_contract
from tests.sandbox.lnd.hub import node, small_graph, small_state

__all__ = ["node", "small_graph", "small_state"]  # the sandbox's hub fixtures, registered by their names


@pytest.fixture(scope="module")
def contract() -> LndContract:
    """LND's contract; the module is skipped without ../shared."""
    return require_contract()


@pytest.fixture
async def sim(contract: LndContract, node: SimulatedNode) -> AsyncIterator[SimulatorHandle]:
    async with running_simulator(node, tls=True) as handle:
        yield handle


async def exchange(
    contract: LndContract,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    expect: int = 200,
    malformed: bool = False,
    **kwargs: Any,
) -> Any:
    """Validate the request, send it, validate the answer (whatever its status) and return its JSON.

    `malformed` requests are sent on purpose to see LND's error: the validator must reject them first.
    """
    if malformed:
        with pytest.raises(ContractError):
            contract.validate_request(method, path, kwargs.get("json"), kwargs.get("params"))
    else:
        contract.validate_request(method, path, kwargs.get("json"), kwargs.get("params"))
    response = await client.request(method, path, **kwargs)
    contract.validate_response(method, path, response.status_code, response.content)
    assert response.status_code == expect, response.text
    return response.json()


# --- the validator itself -------------------------------------------------------------------------


def test_a_correct_response_passes(contract: LndContract, node: SimulatedNode):
    contract.validate_response("GET", "/v1/getinfo", 200, getinfo(node))


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda b: b.update(num_active_channels="3"), "is not of type 'integer'"),
        (lambda b: b.update(best_header_timestamp=1770076800), "is not of type 'string'"),
        (lambda b: b.update(invented_field=True), "'invented_field' was unexpected"),
        (lambda b: b.pop("synced_to_graph"), "'synced_to_graph' is a required property"),
        (lambda b: b.update(num_peers=-1), "less than the minimum"),
        (lambda b: b.update(graph_cache_status="WARM"), "is not one of"),
        (
            lambda b: b["chains"].append({"chain": "bitcoin", "network": "mainnet", "extra": 1}),
            "'extra' was unexpected",
        ),
        (lambda b: b["features"]["0"].update(is_known="yes"), "is not of type 'boolean'"),
    ],
)
def test_a_wrong_response_fails(contract: LndContract, node: SimulatedNode, mutate: Any, problem: str):
    body = copy.deepcopy(getinfo(node))
    mutate(body)
    with pytest.raises(ContractError, match=problem):
        contract.validate_response("GET", "/v1/getinfo", 200, body)


def test_optional_fields_may_be_absent_and_64_bit_ints_must_be_strings(contract: LndContract):
    event = forward(Forward(1_770_000_000_000_000_000, "1", "2", 1_001_000, 1_000_000))
    contract.validate_response(
        "POST", "/v1/switch", 200, {"forwarding_events": [event], "last_offset_index": 1}
    )
    event["incoming_htlc_id"] = "7"  # proto3 optional: may be present too
    contract.validate_response(
        "POST", "/v1/switch", 200, {"forwarding_events": [event], "last_offset_index": 1}
    )
    event["fee_msat"] = 1000
    with pytest.raises(ContractError, match=r"fee_msat: 1000 is not of type 'string'"):
        contract.validate_response(
            "POST", "/v1/switch", 200, {"forwarding_events": [event], "last_offset_index": 1}
        )


def test_error_bodies_and_their_http_status(contract: LndContract):
    contract.validate_response(
        "GET", "/v1/fees", 500, {"code": 2, "message": "permission denied", "details": []}
    )
    with pytest.raises(ContractError, match="does not match gRPC code 2"):
        contract.validate_response(
            "GET", "/v1/fees", 401, {"code": 2, "message": "permission denied", "details": []}
        )
    with pytest.raises(ContractError, match="'error' was unexpected"):
        contract.validate_response(
            "GET", "/v1/fees", 500, {"code": 2, "message": "x", "details": [], "error": "x"}
        )


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "problem"),
    [
        ("POST", "/v1/chanpolicy", {"global": True, "fee_ppm": 1}, None, "'fee_ppm' was unexpected"),
        (
            "POST",
            "/v1/chanpolicy",
            {"global": True, "chan_point": {"funding_txid_str": "ab"}},
            None,
            "both set",
        ),
        ("POST", "/v1/chanpolicy", {"global": True, "fee_rate_ppm": -1}, None, "less than the minimum"),
        ("POST", "/v1/chanpolicy", {"global": True, "base_fee_msat": 1000}, None, "is not of type 'string'"),
        ("POST", "/v1/switch", {"index_offset": "5"}, None, "is not of type 'integer'"),
        ("GET", "/v1/channels", None, {"active": "true"}, "no query parameter 'active'"),
        ("GET", "/v1/channels", None, {"active_only": "yes"}, "not a valid boolean"),
        ("GET", "/v1/channels", None, {"peer": "02" + "ab" * 32 + "!"}, "not a valid byte"),
        ("GET", "/v1/graph/edge/abc", None, None, "not a valid uint64"),
        ("GET", "/v1/getinfo", {"x": 1}, None, "takes no body"),
        ("GET", "/v1/nowhere", None, None, "no REST path"),
        ("PUT", "/v1/getinfo", None, None, "no PUT"),
    ],
)
def test_a_wrong_request_fails(
    contract: LndContract, method: str, path: str, body: Any, query: Any, problem: str
):
    with pytest.raises(ContractError, match=problem):
        contract.validate_request(method, path, body, query)


def test_schemas_have_teeth(contract: LndContract, node: SimulatedNode):
    schema = contract.schema("#/definitions/lnrpcGetInfoResponse", "response")
    body = getinfo(node)
    assert check(body, schema) == []
    assert check({**body, "num_peers": "1"}, schema)  # int32 sent as a string
    assert check({**body, "invented": True}, schema)  # a field LND does not have


# --- every endpoint of the running simulator --------------------------------------------------------


async def test_read_endpoints(contract: LndContract, sim: SimulatorHandle):
    live = next(iter(sim.node.channels.values()))
    peer = base64.b64encode(bytes.fromhex(live.channel.remote_pubkey)).decode()
    async with sim.client() as client:
        await exchange(contract, client, "GET", "/v1/getinfo")
        for params in ({}, {"active_only": "true"}, {"inactive_only": "true"}, {"public_only": "true"},
                       {"private_only": "true"}, {"peer": peer, "peer_alias_lookup": "true"}):  # fmt: skip
            await exchange(contract, client, "GET", "/v1/channels", params=params)
        await exchange(
            contract,
            client,
            "GET",
            "/v1/channels",
            500,
            params={"public_only": "true", "private_only": "true"},
        )
        await exchange(contract, client, "GET", "/v1/channels", 400, True, params={"active_only": "maybe"})
        await exchange(contract, client, "GET", "/v1/channels/pending", params={"include_raw_tx": "true"})
        for params in ({}, {"cooperative": "true"}, {"local_force": "true", "remote_force": "true"}):
            await exchange(contract, client, "GET", "/v1/channels/closed", params=params)
        await exchange(contract, client, "GET", "/v1/balance/channels")
        await exchange(contract, client, "GET", "/v1/balance/blockchain")
        await exchange(contract, client, "GET", "/v1/balance/blockchain", 500, params={"account": "cold"})
        await exchange(contract, client, "GET", "/v1/fees")
        peers = await exchange(contract, client, "GET", "/v1/peers", params={"latest_error": "true"})
        assert peers["peers"]
        await exchange(contract, client, "GET", "/v1/peers", 400, True, params={"latest_error": "often"})
        urlsafe = base64.urlsafe_b64encode(bytes.fromhex(live.channel.remote_pubkey)).decode()
        await exchange(contract, client, "GET", "/v1/channels", params={"peer": urlsafe})


async def test_invoice_stream(contract: LndContract, sim: SimulatorHandle):
    # A server stream: the request is checked; the simulated node never adds an invoice, so no line comes.
    params = {"add_index": "0", "settle_index": "0"}
    contract.validate_request("GET", "/v1/invoices/subscribe", None, params)
    async with sim.client() as client:
        async with client.stream("GET", "/v1/invoices/subscribe", params=params) as stream:
            assert stream.status_code == 200
        await exchange(
            contract, client, "GET", "/v1/invoices/subscribe", 400, True, params={"add_index": "x"}
        )


async def test_graph_endpoints(contract: LndContract, sim: SimulatorHandle):
    live = next(iter(sim.node.channels.values()))
    async with sim.client() as client:
        await exchange(contract, client, "GET", "/v1/graph")
        await exchange(contract, client, "GET", "/v1/graph", params={"include_auth_proof": "true"})
        await exchange(contract, client, "GET", f"/v1/graph/edge/{live.chan_id}")
        await exchange(
            contract, client, "GET", f"/v1/graph/edge/{live.chan_id}", params={"include_auth_proof": "true"}
        )
        await exchange(
            contract, client, "GET", "/v1/graph/edge/0", params={"chan_point": live.channel.channel_point}
        )
        await exchange(contract, client, "GET", "/v1/graph/edge/42", 500)
        path = f"/v1/graph/node/{sim.node.pubkey}"
        await exchange(contract, client, "GET", path, params={"include_channels": "true"})
        await exchange(contract, client, "GET", f"/v1/graph/node/{live.channel.remote_pubkey}")
        await exchange(contract, client, "GET", "/v1/graph/node/03" + "00" * 32, 404)


async def test_policy_updates(contract: LndContract, sim: SimulatorHandle):
    live = next(iter(sim.node.channels.values()))
    point = {"funding_txid_str": live.channel.funding_txid, "output_index": live.channel.output_index}
    good = {"chan_point": point, "base_fee_msat": "1000", "fee_rate_ppm": 300, "time_lock_delta": 80,
            "max_htlc_msat": str(live.max_pending_msat), "min_htlc_msat": "1000", "min_htlc_msat_specified": True,
            "inbound_fee": {"base_fee_msat": -10, "fee_rate_ppm": -20}}  # fmt: skip
    async with sim.client() as client:
        assert await exchange(contract, client, "POST", "/v1/chanpolicy", json=good) == {"failed_updates": []}
        unknown_point = good | {"chan_point": {"funding_txid_str": "cd" * 32, "output_index": 0}}
        failed = await exchange(contract, client, "POST", "/v1/chanpolicy", json=unknown_point)
        assert failed["failed_updates"][0]["reason"] == "UPDATE_FAILURE_NOT_FOUND"
        too_big = good | {"max_htlc_msat": str(live.max_pending_msat + 1)}
        await exchange(contract, client, "POST", "/v1/chanpolicy", json=too_big)
        await exchange(contract, client, "POST", "/v1/chanpolicy", 500, json=good | {"time_lock_delta": 23})
        await exchange(contract, client, "POST", "/v1/chanpolicy", 400, json=good | {"fee_rate": 0.0003})
        await exchange(
            contract, client, "POST", "/v1/chanpolicy", 500, json=good | {"inbound_fee": {"fee_rate_ppm": 5}}
        )
        await exchange(
            contract,
            client,
            "POST",
            "/v1/chanpolicy",
            json={"global": True, "fee_rate": 0.0005, "time_lock_delta": 40},
        )


async def test_forwarding_history(contract: LndContract, sim: SimulatorHandle):
    chan = sim.node.log.events[0].chan_id_in
    async with sim.client() as client:
        await exchange(contract, client, "POST", "/v1/switch", json={})
        offset = 0
        while True:
            body = {
                "start_time": "0",
                "end_time": str(sim.node.now_s()),
                "index_offset": offset,
                "num_max_events": 500,
            }
            page = await exchange(contract, client, "POST", "/v1/switch", json=body)
            if not page["forwarding_events"]:
                break
            offset = page["last_offset_index"]
        assert offset == len(sim.node.log)
        filtered = {"incoming_chan_ids": [chan], "peer_alias_lookup": True, "num_max_events": 50}
        await exchange(contract, client, "POST", "/v1/switch", json=filtered)
        await exchange(contract, client, "POST", "/v1/switch", 400, True, json={"num_max_events": -1})


async def test_event_hooks_check_a_whole_client_session(contract: LndContract, sim: SimulatorHandle):
    headers = {"Grpc-Metadata-macaroon": sim.fees_macaroon_hex}
    options: dict[str, Any] = {
        "verify": sim.ssl_context(),
        "headers": headers,
        "event_hooks": event_hooks(contract),
    }
    async with httpx.AsyncClient(base_url=sim.url, **options) as client:
        assert (await client.get("/v1/channels", params={"active_only": "true"})).status_code == 200
        assert (await client.post("/v1/switch", json={"num_max_events": 10})).status_code == 200
        with pytest.raises(ContractError, match="no query parameter 'activeOnly'"):
            await client.get("/v1/channels", params={"activeOnly": "true"})


async def test_authentication_and_fault_errors(contract: LndContract, sim: SimulatorHandle):
    async with httpx.AsyncClient(base_url=sim.url, verify=sim.ssl_context()) as anonymous:
        await exchange(contract, anonymous, "GET", "/v1/fees", 500)
    async with sim.client(macaroon=sim.macaroons.readonly) as readonly:
        body = {"global": True, "fee_rate_ppm": 1, "time_lock_delta": 40}
        denied = await exchange(contract, readonly, "POST", "/v1/chanpolicy", 500, json=body)
        assert denied["message"] == "permission denied"
    for status in (500, 503):
        sim.set_faults(FaultPlan(error_rate=1.0, error_status=status))
        async with sim.client() as client:
            await exchange(contract, client, "GET", "/v1/getinfo", status)
