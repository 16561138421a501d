"""`POST /v1/chanpolicy`: applied to state and graph, validated exactly as LND validates it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.sandbox.lnd.model import LiveChannel
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator


def point(live: LiveChannel) -> dict[str, Any]:
    return {"funding_txid_str": live.channel.funding_txid, "output_index": live.channel.output_index}


def update(live: LiveChannel, **fields: Any) -> dict[str, Any]:
    return {
        "chan_point": point(live),
        "base_fee_msat": "1000",
        "fee_rate_ppm": 250,
        "time_lock_delta": 80,
    } | fields


def first(sim: SimulatorHandle) -> LiveChannel:
    return next(iter(sim.node.channels.values()))


async def post(sim: SimulatorHandle, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with sim.client() as client:
        response = await client.post("/v1/chanpolicy", json=body)
    return response.status_code, response.json()


async def fee_entry(sim: SimulatorHandle, chan_id: str) -> dict[str, Any]:
    async with sim.client() as client:
        fees = (await client.get("/v1/fees")).json()["channel_fees"]
    return next(entry for entry in fees if entry["chan_id"] == chan_id)


async def test_update_is_visible_in_fees_edge_and_graph(sim: SimulatorHandle):
    live = first(sim)
    status, body = await post(sim, update(live, base_fee_msat="1500", fee_rate_ppm=777, time_lock_delta=40))
    assert (status, body) == (200, {"failed_updates": []})
    entry = await fee_entry(sim, live.chan_id)
    assert (entry["base_fee_msat"], entry["fee_per_mil"], entry["fee_rate"]) == ("1500", "777", 0.000777)
    async with sim.client() as client:
        edge = (await client.get(f"/v1/graph/edge/{live.chan_id}")).json()
        graph = (await client.get("/v1/graph")).json()
    ours = edge["node1_policy"] if edge["node1_pub"] == sim.node.pubkey else edge["node2_policy"]
    assert (ours["fee_rate_milli_msat"], ours["fee_base_msat"], ours["time_lock_delta"]) == (
        "777",
        "1500",
        40,
    )
    assert ours["last_update"] == sim.node.now_s()
    assert next(e for e in graph["edges"] if e["channel_id"] == live.chan_id) == edge


async def test_graph_cache_is_patched_after_every_change(sim: SimulatorHandle):
    live = first(sim)
    async with sim.client() as client:
        for rate in (10, 20, 30):
            await client.post("/v1/chanpolicy", json=update(live, fee_rate_ppm=rate))
            graph = (await client.get("/v1/graph")).json()
            edge = next(e for e in graph["edges"] if e["channel_id"] == live.chan_id)
            ours = edge["node1_policy"] if edge["node1_pub"] == sim.node.pubkey else edge["node2_policy"]
            assert ours["fee_rate_milli_msat"] == str(rate)


async def test_time_lock_delta_below_24_is_rejected(sim: SimulatorHandle):
    live = first(sim)
    before = live.policy
    status, body = await post(sim, update(live, time_lock_delta=23))
    assert status == 500
    assert body == {
        "code": 2,
        "message": "time lock delta of 23 is too small, minimum supported is 24",
        "details": [],
    }
    status, body = await post(sim, {"chan_point": point(live), "fee_rate_ppm": 5})  # omitted means 0
    assert body["message"] == "time lock delta of 0 is too small, minimum supported is 24"
    assert (await post(sim, update(live, time_lock_delta=24)))[0] == 200
    assert live.policy != before


async def test_fee_rate_and_fee_rate_ppm_together_are_rejected(sim: SimulatorHandle):
    status, body = await post(sim, update(first(sim), fee_rate=0.0001, fee_rate_ppm=100))
    assert (status, body["code"]) == (400, 3)
    assert body["message"] == "cannot set both FeeRate and FeeRatePpm at the same time"


async def test_fee_rate_double_is_converted_with_rounding(sim: SimulatorHandle):
    live = first(sim)
    body = update(live, fee_rate=0.000123)
    del body["fee_rate_ppm"]
    assert (await post(sim, body))[0] == 200
    assert live.policy.fee_rate_ppm == 123
    status, error = await post(sim, update(live, fee_rate=1e-7, fee_rate_ppm=0))
    assert (status, error["message"]) == (500, "fee rate of 1e-07 is too small, min fee rate is 1e-06")


async def test_inbound_fees(sim: SimulatorHandle):
    live = first(sim)
    status, body = await post(sim, update(live, inbound_fee={"base_fee_msat": 0, "fee_rate_ppm": 10}))
    assert (status, body["message"]) == (
        500,
        "positive values for inbound fee rate ppm are not supported: 10",
    )
    status, body = await post(sim, update(live, inbound_fee={"base_fee_msat": 5}))
    assert body["message"] == "positive values for inbound base fee msat are not supported: 5"
    assert (await post(sim, update(live, inbound_fee={"base_fee_msat": -100, "fee_rate_ppm": -50})))[0] == 200
    entry = await fee_entry(sim, live.chan_id)
    assert (entry["inbound_base_fee_msat"], entry["inbound_fee_per_mil"]) == (-100, -50)
    assert (await post(sim, update(live, fee_rate_ppm=300)))[0] == 200  # inbound_fee omitted: kept
    entry = await fee_entry(sim, live.chan_id)
    assert (entry["fee_per_mil"], entry["inbound_fee_per_mil"]) == ("300", -50)


async def test_positive_inbound_allowed_with_the_flag(node: SimulatedNode):
    node.accept_positive_inbound_fees = True
    async with running_simulator(node) as sim:
        status, _ = await post(sim, update(first(sim), inbound_fee={"base_fee_msat": 10, "fee_rate_ppm": 20}))
        assert status == 200
        assert first(sim).policy.inbound_fee_rate_ppm == 20


async def test_unknown_channel_point_is_a_failed_update(sim: SimulatorHandle):
    txid = "ab" * 32
    status, body = await post(
        sim, update(first(sim), chan_point={"funding_txid_str": txid, "output_index": 1})
    )
    assert status == 200
    assert body["failed_updates"] == [
        {
            "outpoint": {
                "txid_bytes": base64.b64encode(bytes.fromhex(txid)[::-1]).decode(),
                "txid_str": txid,
                "output_index": 1,
            },
            "reason": "UPDATE_FAILURE_NOT_FOUND",
            "update_error": "not found",
        }
    ]


async def test_funding_txid_bytes_use_lnd_reversed_byte_order(sim: SimulatorHandle):
    live = first(sim)
    raw = bytes.fromhex(live.channel.funding_txid)[::-1]
    chan_point = {
        "funding_txid_bytes": base64.b64encode(raw).decode(),
        "output_index": live.channel.output_index,
    }
    assert (await post(sim, update(live, chan_point=chan_point, fee_rate_ppm=4242)))[0] == 200
    assert live.policy.fee_rate_ppm == 4242
    not_reversed = {"funding_txid_bytes": base64.b64encode(raw[::-1]).decode(), "output_index": 0}
    _, body = await post(sim, update(live, chan_point=not_reversed))
    assert body["failed_updates"][0]["reason"] == "UPDATE_FAILURE_NOT_FOUND"


async def test_global_update_and_htlc_limits(sim: SimulatorHandle):
    status, body = await post(
        sim, {"global": True, "base_fee_msat": "0", "fee_rate_ppm": 1, "time_lock_delta": 144}
    )
    assert (status, body) == (200, {"failed_updates": []})
    assert all(live.policy.fee_rate_ppm == 1 for live in sim.node.channels.values())
    live = first(sim)
    too_big = live.max_pending_msat + 1
    _, body = await post(sim, update(live, max_htlc_msat=str(too_big)))
    [failure] = body["failed_updates"]
    assert failure["reason"] == "UPDATE_FAILURE_INVALID_PARAMETER"
    assert (
        failure["update_error"]
        == f"max htlc size of {too_big} mSAT is above max pending amount of {live.max_pending_msat} mSAT"
    )
    assert live.policy.time_lock_delta == 144  # a failed update changes nothing
    _, body = await post(
        sim, update(live, min_htlc_msat="5000", min_htlc_msat_specified=True, max_htlc_msat="4000")
    )
    assert body["failed_updates"][0]["update_error"] == "min_htlc 5000 mSAT greater than max_htlc 4000 mSAT"
    assert (await post(sim, update(live, min_htlc_msat="2000", min_htlc_msat_specified=True)))[0] == 200
    assert live.policy.min_htlc_msat == 2000
    assert (await post(sim, update(live, min_htlc_msat="9")))[0] == 200  # not specified: kept
    assert live.policy.min_htlc_msat == 2000


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"fee_rate_ppm": 1, "time_lock_delta": 40}, 500, "unknown scope: <nil>"),
        ({"global": True, "time_lock_delta": 40, "fee_ppm": 5}, 400, 'proto: unknown field "fee_ppm"'),
        ({"global": True, "time_lock_delta": "x"}, 400, "proto: invalid value for uint32 field time_lock_delta: 'x'"),
        ({"global": True, "chan_point": {"funding_txid_str": "ab", "output_index": 0}, "time_lock_delta": 40}, 400,
         'proto: error parsing "chan_point", oneof lnrpc.PolicyUpdateRequest.scope is already set'),
        ({"chan_point": {"output_index": 0}, "time_lock_delta": 40}, 500, "invalid hash length of 0, want 32"),
        ({"global": True, "time_lock_delta": 70000}, 500,
         "time lock delta of 70000 is too big, maximum supported is 65535"),
    ],
)  # fmt: skip
async def test_request_errors(sim: SimulatorHandle, body: dict[str, Any], status: int, message: str):
    assert await post(sim, body) == (
        status,
        {"code": 2 if status == 500 else 3, "message": message, "details": []},
    )


async def test_camel_case_json_names_are_accepted(sim: SimulatorHandle):
    live = first(sim)
    body = {"chanPoint": {"fundingTxidStr": live.channel.funding_txid, "outputIndex": live.channel.output_index},
            "baseFeeMsat": "0", "feeRatePpm": 99, "timeLockDelta": 40}  # fmt: skip
    assert (await post(sim, body))[0] == 200
    assert live.policy.fee_rate_ppm == 99
