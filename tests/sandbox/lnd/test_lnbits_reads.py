"""What LNbits' LND classes read from the simulator: peers, gossip timestamps, the invoice stream, peer filters."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import pytest

from app.sandbox.lnd.auth import Macaroons
from app.sandbox.lnd.node import KEEPALIVE_S, SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.security.macaroons import mint_macaroon


async def get(
    sim: SimulatorHandle, path: str, macaroon: bytes | None = None, **params: str
) -> httpx.Response:
    async with sim.client(macaroon) as client:
        return await client.get(path, params=params)


async def test_peers_are_the_remote_ends_of_active_channels(sim: SimulatorHandle):
    peers = (await get(sim, "/v1/peers")).json()["peers"]
    node = sim.node
    online = {live.channel.remote_pubkey for live in node.channels.values() if live.channel.active}
    assert [p["pub_key"] for p in peers] == sorted(online)
    info = (await get(sim, "/v1/getinfo")).json()
    assert info["num_peers"] == len(peers)  # getinfo counts the same connected set
    for peer in peers:
        lives = [live for live in node.channels.values() if live.channel.remote_pubkey == peer["pub_key"]]
        assert peer["sat_sent"] == str(sum(live.sent_msat // 1000 for live in lives))
        assert peer["sat_recv"] == str(sum(live.received_msat // 1000 for live in lives))
        host, _, port = peer["address"].rpartition(":")
        assert port == "9735" and (
            host.endswith(".onion") or host.startswith(("192.0.2.", "198.51.", "203.0."))
        )
        assert int(peer["ping_time"]) > 0 and int(peer["bytes_recv"]) > 0
        assert len(base64.b64decode(peer["last_ping_payload"])) == 80
        assert (peer["flap_count"] == 0) == (peer["last_flap_ns"] == "0")
        assert int(peer["last_flap_ns"]) <= node.now_ns()
    syncing = [p for p in peers if p["sync_type"] == "ACTIVE_SYNC"]
    assert len(syncing) == 3 and {p["sync_type"] for p in peers} == {"ACTIVE_SYNC", "PASSIVE_SYNC"}


async def test_peers_are_deterministic(node: SimulatedNode, small_state, small_graph):
    async with (
        running_simulator(node) as first,
        running_simulator(SimulatedNode(small_state, small_graph)) as again,
    ):
        assert (await get(first, "/v1/peers")).json() == (await get(again, "/v1/peers")).json()


async def test_peers_need_peers_read(sim: SimulatorHandle):
    for macaroon in (sim.macaroons.admin, sim.macaroons.readonly):
        assert (await get(sim, "/v1/peers", macaroon, latest_error="true")).status_code == 200
    denied = await get(sim, "/v1/peers", sim.macaroons.fees)
    assert (denied.status_code, denied.json()["message"]) == (500, "permission denied")
    bad = await get(sim, "/v1/peers", latest_error="maybe")
    assert bad.status_code == 400 and bad.json()["code"] == 3


async def test_other_nodes_and_policies_carry_gossip_timestamps(sim: SimulatorHandle):
    node = sim.node
    started = node.started_s
    live = next(iter(node.channels.values()))
    peer = (await get(sim, f"/v1/graph/node/{live.channel.remote_pubkey}", include_channels="true")).json()
    assert started - KEEPALIVE_S < peer["node"]["last_update"] < started
    own_ids = set(node.channels)
    others = [edge for edge in peer["channels"] if edge["channel_id"] not in own_ids]
    assert others, "the peer has channels besides ours"
    for edge in others:
        stamps = [edge[side]["last_update"] for side in ("node1_policy", "node2_policy") if edge[side]]
        assert all(started - KEEPALIVE_S < stamp <= started for stamp in stamps)
        assert edge["last_update"] == max(stamps)
        alone = (await get(sim, f"/v1/graph/edge/{edge['channel_id']}")).json()
        assert alone == edge  # one edge and the node's listing agree
    graph = (await get(sim, "/v1/graph")).json()
    by_id = {edge["channel_id"]: edge for edge in graph["edges"]}
    assert all(by_id[edge["channel_id"]] == edge for edge in others)
    assert all(started - KEEPALIVE_S < n["last_update"] <= started for n in graph["nodes"])


async def test_our_own_node_and_policies_keep_their_meaning(sim: SimulatorHandle):
    node = sim.node
    ours = (await get(sim, f"/v1/graph/node/{node.pubkey}", include_channels="true")).json()
    assert ours["node"]["last_update"] == node.started_s
    for edge in ours["channels"]:
        live = node.channels[edge["channel_id"]]
        side = "node1_policy" if edge["node1_pub"] == node.pubkey else "node2_policy"
        assert edge[side]["last_update"] == live.policy_updated_s


async def test_channels_filtered_by_a_url_safe_peer_key(sim: SimulatorHandle):
    # LNbits' get_channel sends the peer as URL-safe base64 inside the URL it builds itself.
    encoded = {
        live.channel.remote_pubkey: base64.urlsafe_b64encode(
            bytes.fromhex(live.channel.remote_pubkey)
        ).decode()
        for live in sim.node.channels.values()
    }
    pubkey, peer = next((key, text) for key, text in encoded.items() if {"-", "_"} & set(text))
    async with sim.client() as client:
        only = (await client.get(f"/v1/channels?peer={peer}")).json()["channels"]
    expected = [chan for chan, other in sim.node.channels.items() if other.channel.remote_pubkey == pubkey]
    assert [c["chan_id"] for c in only] == expected


async def test_invoice_stream_stays_open_and_ends_cleanly(sim: SimulatorHandle):
    handlers = sim.app.handlers
    async with (
        sim.client() as client,
        client.stream("GET", "/v1/invoices/subscribe", params={"add_index": "0"}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "application/json"
        await _until(lambda: handlers.open_streams == 1)  # held open, answering nothing
    await _until(lambda: handlers.open_streams == 0)  # the client hung up: the stream is released
    denied = await get(sim, "/v1/invoices/subscribe", sim.macaroons.fees)
    assert (denied.status_code, denied.json()["message"]) == (500, "permission denied")
    bad = await get(sim, "/v1/invoices/subscribe", settle_index="-1")
    assert bad.status_code == 400 and bad.json()["code"] == 3


async def test_stopping_the_simulator_ends_open_invoice_streams(node: SimulatedNode):
    macaroons = Macaroons.mint()
    invoices = mint_macaroon(macaroons.root_key, {"invoices": ["read"]}, b"nonce")
    async with running_simulator(node, macaroons=macaroons) as sim:
        client = sim.client(invoices)
        stream = await client.send(client.build_request("GET", "/v1/invoices/subscribe"), stream=True)
        assert stream.status_code == 200
        started = time.monotonic()
    lines = [line async for line in stream.aiter_lines()]
    await client.aclose()
    assert lines == []  # the stream ended without a message when the server stopped
    assert time.monotonic() - started < 1.0  # without waiting for uvicorn's graceful-shutdown timeout


async def _until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met before the deadline")
        await asyncio.sleep(0.01)
