"""Fault injection, each kind observed from an httpx client, deterministic for a seed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.sandbox.lnd.faults import FaultInjector, FaultPlan
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator

GLOBAL_UPDATE = {"global": True, "base_fee_msat": "0", "fee_rate_ppm": 4321, "time_lock_delta": 80}


async def test_latency_is_added(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(latency_ms=300))
    async with sim.client() as client:
        started = time.perf_counter()
        assert (await client.get("/v1/getinfo")).status_code == 200
        assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize(("status", "code"), [(500, 2), (503, 14)])
async def test_error_status_with_lnd_error_body(sim: SimulatorHandle, status: int, code: int):
    sim.set_faults(FaultPlan(error_rate=1.0, error_status=status))
    async with sim.client() as client:
        response = await client.post("/v1/chanpolicy", json=GLOBAL_UPDATE)
    assert response.status_code == status and response.json()["code"] == code
    assert all(live.policy.fee_rate_ppm != 4321 for live in sim.node.channels.values())  # never reached LND


async def test_timeout_hangs_past_the_client_timeout(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(timeout_rate=1.0, hang_s=10))
    async with sim.client(timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/v1/getinfo")
    sim.set_faults(FaultPlan())
    async with sim.client() as client:  # the server is still healthy afterwards
        assert (await client.get("/v1/getinfo")).status_code == 200


async def test_a_short_hang_still_answers(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(timeout_rate=1.0, hang_s=0.2))
    async with sim.client(timeout=5) as client:
        response = await client.post("/v1/chanpolicy", json=GLOBAL_UPDATE)
    assert response.status_code == 200  # the buffered body was replayed to the handler
    assert all(live.policy.fee_rate_ppm == 4321 for live in sim.node.channels.values())


@pytest.mark.parametrize("tls", [False, True])
async def test_reset_is_a_connection_error(node: SimulatedNode, tls: bool):
    async with running_simulator(node, tls=tls, faults=FaultPlan(reset_rate=1.0)) as sim:
        async with sim.client() as client:
            with pytest.raises(httpx.TransportError) as caught:
                await client.get("/v1/getinfo")
        assert not isinstance(caught.value, httpx.TimeoutException)
        assert sim.app.faults.injected["reset"] == 1


async def test_faults_target_paths(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(error_rate=1.0, paths=("/v1/fees",)))
    async with sim.client() as client:
        assert (await client.get("/v1/getinfo")).status_code == 200
        assert (await client.get("/v1/fees")).status_code == 503


async def test_partial_failed_updates(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(failed_updates_rate=0.5, seed=7))
    async with sim.client() as client:
        body = (await client.post("/v1/chanpolicy", json=GLOBAL_UPDATE)).json()
    failed = {f["outpoint"]["txid_str"] for f in body["failed_updates"]}
    assert 0 < len(failed) < len(sim.node.channels)
    assert {f["reason"] for f in body["failed_updates"]} == {"UPDATE_FAILURE_INTERNAL_ERR"}
    for live in sim.node.channels.values():
        assert (live.policy.fee_rate_ppm == 4321) is (live.channel.funding_txid not in failed)


async def test_silent_drop_answers_success_but_changes_nothing(sim: SimulatorHandle):
    sim.set_faults(FaultPlan(silent_drop_rate=1.0))
    async with sim.client() as client:
        before = (await client.get("/v1/fees")).json()
        response = await client.post("/v1/chanpolicy", json=GLOBAL_UPDATE)
        after = (await client.get("/v1/fees")).json()
    assert (response.status_code, response.json()) == (200, {"failed_updates": []})
    assert after["channel_fees"] == before["channel_fees"]  # only a read-back reveals it


def test_faults_are_deterministic_for_a_seed():
    def sequence(seed: int) -> list[Any]:
        injector = FaultInjector(FaultPlan(seed=seed, error_rate=0.3, reset_rate=0.1, latency_jitter_ms=50))
        return [injector.request_fault("/v1/fees") for _ in range(50)] + [
            injector.policy_verdict(str(i)) for i in range(20)
        ]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)


async def test_admin_endpoint_changes_faults_with_the_sandbox_token(sim: SimulatorHandle):
    async with httpx.AsyncClient(base_url=sim.url) as client:
        denied = await client.put("/_sandbox/faults", json={"error_rate": 1.0})
        assert denied.status_code == 401
        auth = {"Authorization": f"Bearer {sim.sandbox_token}"}
        bad = await client.put("/_sandbox/faults", json={"error_rate": 2}, headers=auth)
        assert bad.status_code == 400
        ok = await client.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}, headers=auth)
        assert ok.json()["plan"]["error_rate"] == 1.0
        failing = await client.get("/v1/getinfo", headers={"Grpc-Metadata-macaroon": sim.macaroon_hex})
        assert failing.status_code == 500
        state = (await client.get("/_sandbox/state", headers=auth)).json()  # admin paths are never faulted
        assert state["pubkey"] == sim.node.pubkey and state["label"].startswith("SIMULATED")
        await client.delete("/_sandbox/faults", headers=auth)
        clock = (await client.post("/_sandbox/clock", json={"advance_s": 3600}, headers=auth)).json()
        assert clock["now_s"] == state["now_s"] + 3600
