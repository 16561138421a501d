"""Macaroons: LND's errors for missing, malformed, forged and under-privileged macaroons."""

from __future__ import annotations

import secrets

import httpx
import pytest

from app.sandbox.lnd.auth import Macaroons
from app.sandbox.lnd.server import SimulatorHandle
from app.security.macaroons import REQUIRED_PERMISSIONS, mint_macaroon, parse_macaroon

POLICY = {"global": True, "base_fee_msat": "1000", "fee_rate_ppm": 10, "time_lock_delta": 40}


async def call(
    sim: SimulatorHandle, headers: list[tuple[str, str]], method: str = "GET", path: str = "/v1/getinfo"
):
    async with httpx.AsyncClient(base_url=sim.url) as client:
        json = POLICY if method == "POST" else None
        return await client.request(method, path, headers=headers, json=json)


def lnd_error(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    assert body["details"] == []
    return response.status_code, body["code"], body["message"]


async def test_missing_macaroon(sim: SimulatorHandle):
    assert lnd_error(await call(sim, [])) == (500, 2, "expected 1 macaroon, got 0")


async def test_two_macaroons(sim: SimulatorHandle):
    header = ("Grpc-Metadata-macaroon", sim.macaroon_hex)
    assert lnd_error(await call(sim, [header, header])) == (500, 2, "expected 1 macaroon, got 2")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zz", "encoding/hex: invalid byte: U+007A 'z'"),
        ("abc", "encoding/hex: odd length hex string"),
        ("0201", "cannot unmarshal macaroon: malformed macaroon: truncated"),
    ],
)
async def test_malformed_macaroon(sim: SimulatorHandle, value: str, message: str):
    assert lnd_error(await call(sim, [("Grpc-Metadata-macaroon", value)])) == (500, 2, message)


async def test_forged_macaroon_fails_verification(sim: SimulatorHandle):
    forged = Macaroons.mint(secrets.token_bytes(32)).admin.hex()  # right format, wrong root key
    response = await call(sim, [("Grpc-Metadata-macaroon", forged)])
    assert lnd_error(response) == (
        500,
        2,
        "verification failed: signature mismatch after caveat verification",
    )


async def test_tampered_macaroon_fails_verification(sim: SimulatorHandle):
    raw = bytearray(sim.macaroons.readonly)
    raw[-1] ^= 1  # flip a signature bit
    response = await call(sim, [("Grpc-Metadata-macaroon", raw.hex())])
    assert lnd_error(response)[2] == "verification failed: signature mismatch after caveat verification"


async def test_readonly_macaroon_reads_but_cannot_update_policies(sim: SimulatorHandle):
    header = [("Grpc-Metadata-macaroon", sim.readonly_macaroon_hex)]
    assert (await call(sim, header)).status_code == 200
    response = await call(sim, header, "POST", "/v1/chanpolicy")
    assert lnd_error(response) == (500, 2, "permission denied")
    assert all(
        live.policy.fee_rate_ppm != 10 or live.policy.time_lock_delta != 40
        for live in sim.node.channels.values()
    )


async def test_fees_macaroon_has_exactly_what_fee_management_needs(sim: SimulatorHandle):
    header = [("Grpc-Metadata-macaroon", sim.fees_macaroon_hex)]
    for path in ("/v1/getinfo", "/v1/channels", "/v1/fees", "/v1/graph", "/v1/balance/channels"):
        assert (await call(sim, header, path=path)).status_code == 200, path
    assert (await call(sim, header, "POST", "/v1/chanpolicy")).status_code == 200
    assert lnd_error(await call(sim, header, path="/v1/balance/blockchain")) == (500, 2, "permission denied")


async def test_uri_permission_grants_one_method(sim: SimulatorHandle):
    macaroon = mint_macaroon(sim.macaroons.root_key, {"uri": ["/lnrpc.Lightning/GetInfo"]}, b"nonce")
    header = [("Grpc-Metadata-macaroon", macaroon.hex())]
    assert (await call(sim, header)).status_code == 200
    assert lnd_error(await call(sim, header, path="/v1/fees"))[2] == "permission denied"


async def test_body_errors_come_before_authentication(sim: SimulatorHandle):
    # grpc-gateway decodes the body before the gRPC interceptor checks the macaroon.
    async with httpx.AsyncClient(base_url=sim.url) as client:
        response = await client.post("/v1/chanpolicy", content=b"{not json")
    assert response.status_code == 400 and response.json()["code"] == 3


def test_minted_fees_macaroon_grants_what_the_optimizer_requires():
    fees = parse_macaroon(Macaroons.mint().fees)
    assert fees.permissions == REQUIRED_PERMISSIONS
    assert fees.warnings() == []  # neither admin-like nor missing anything
