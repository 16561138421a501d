"""Read endpoints of the LND simulator: LND's shapes, filters and errors, over real HTTP."""

from __future__ import annotations

import base64

import httpx

from app.sandbox.lnd.server import SimulatorHandle


async def get(sim: SimulatorHandle, path: str, **params: str | bool) -> httpx.Response:
    async with sim.client() as client:
        return await client.get(
            path, params={k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        )


async def test_getinfo_describes_the_simulated_node(sim: SimulatorHandle):
    info = (await get(sim, "/v1/getinfo")).json()
    node = sim.node
    assert info["identity_pubkey"] == node.pubkey
    assert info["alias"] == node.alias == "ACINQ (synthetic)"
    assert info["num_active_channels"] + info["num_inactive_channels"] == len(node.channels)
    assert info["num_inactive_channels"] == 4
    assert info["block_height"] == node.block_height()
    assert isinstance(info["best_header_timestamp"], str)  # int64: a JSON string
    assert info["chains"] == [{"chain": "bitcoin", "network": "mainnet"}]
    assert info["features"]["0"] == {"name": "data-loss-protect", "is_required": True, "is_known": True}


async def test_channels_carry_lnd_fields_and_no_fees(sim: SimulatorHandle):
    channels = (await get(sim, "/v1/channels")).json()["channels"]
    assert len(channels) == 35
    first, live = channels[0], next(iter(sim.node.channels.values()))
    assert first["chan_id"] == live.chan_id and first["channel_point"] == live.channel.channel_point
    assert first["capacity"] == str(live.channel.capacity_sat)
    assert first["local_chan_reserve_sat"] == str(live.channel.local_reserve_sat)
    assert first["uptime"] == str(live.channel.uptime_s) and first["lifetime"] == str(live.channel.lifetime_s)
    assert first["local_constraints"]["max_pending_amt_msat"] == str(live.max_pending_msat)
    assert not {"fee_per_mil", "base_fee_msat", "fee_rate"} & set(first)


async def test_channel_filters(sim: SimulatorHandle):
    active = (await get(sim, "/v1/channels", active_only=True)).json()["channels"]
    inactive = (await get(sim, "/v1/channels", inactive_only=True)).json()["channels"]
    assert len(active) == 31 and len(inactive) == 4
    assert all(c["active"] for c in active) and not any(c["active"] for c in inactive)
    assert len((await get(sim, "/v1/channels", public_only=True)).json()["channels"]) == 35
    assert (await get(sim, "/v1/channels", private_only=True)).json()["channels"] == []
    peer = next(iter(sim.node.channels.values())).channel.remote_pubkey
    encoded = base64.b64encode(bytes.fromhex(peer)).decode()  # `peer` is a bytes field: base64
    only = (await get(sim, "/v1/channels", peer=encoded, peer_alias_lookup=True)).json()["channels"]
    assert [c["remote_pubkey"] for c in only] == [peer]
    assert only[0]["peer_alias"] == sim.node.peer_alias(peer) != ""


async def test_channel_filter_errors_match_lnd(sim: SimulatorHandle):
    both = await get(sim, "/v1/channels", active_only=True, inactive_only=True)
    assert both.status_code == 500
    assert both.json() == {
        "code": 2,
        "message": "either `active_only` or `inactive_only` can be set, but not both",
        "details": [],
    }
    short = await get(sim, "/v1/channels", peer=base64.b64encode(b"\x02" * 10).decode())
    assert short.status_code == 500 and "invalid vertex length of 10, want 33" in short.json()["message"]
    bad_bool = await get(sim, "/v1/channels", active_only="yes")
    assert bad_bool.status_code == 400 and bad_bool.json()["code"] == 3
    hex_peer = await get(sim, "/v1/channels", peer="02" + "ab" * 32)  # bytes go as base64, not hex
    assert hex_peer.status_code == 400
    assert hex_peer.json()["message"] == "illegal base64 data at input byte 64"


async def test_pending_and_closed_channels(sim: SimulatorHandle):
    pending = (await get(sim, "/v1/channels/pending")).json()
    assert pending["total_limbo_balance"] == "0" and pending["pending_open_channels"] == []
    closed = (await get(sim, "/v1/channels/closed")).json()["channels"]
    assert len(closed) == len(sim.node.closed) >= 3
    heights = [c["close_height"] for c in closed]
    assert heights == sorted(heights)
    kinds = {c["close_type"] for c in closed}
    coop = (await get(sim, "/v1/channels/closed", cooperative=True)).json()["channels"]
    assert all(c["close_type"] == "COOPERATIVE_CLOSE" for c in coop)
    assert len(coop) == sum(1 for c in closed if c["close_type"] == "COOPERATIVE_CLOSE")
    assert kinds <= {
        "COOPERATIVE_CLOSE",
        "LOCAL_FORCE_CLOSE",
        "REMOTE_FORCE_CLOSE",
        "FUNDING_CANCELED",
        "ABANDONED",
    }


async def test_balances_add_up(sim: SimulatorHandle):
    channel_balance = (await get(sim, "/v1/balance/channels")).json()
    local = sum(live.local_msat for live in sim.node.channels.values())
    assert channel_balance["local_balance"] == {"sat": str(local // 1000), "msat": str(local)}
    assert channel_balance["balance"] == str(local // 1000)
    wallet = (await get(sim, "/v1/balance/blockchain")).json()
    assert int(wallet["total_balance"]) == int(wallet["confirmed_balance"]) > 0
    assert wallet["account_balance"]["default"]["confirmed_balance"] == wallet["confirmed_balance"]
    missing = await get(sim, "/v1/balance/blockchain", account="savings")
    assert missing.status_code == 500 and missing.json()["message"] == "account name 'savings' not found"


async def test_fee_report_lists_our_policies_and_earnings(sim: SimulatorHandle):
    report = (await get(sim, "/v1/fees")).json()
    assert len(report["channel_fees"]) == 35
    entry, live = report["channel_fees"][0], next(iter(sim.node.channels.values()))
    assert entry["fee_per_mil"] == str(live.policy.fee_rate_ppm)
    assert entry["base_fee_msat"] == str(live.policy.base_fee_msat)
    assert entry["fee_rate"] == live.policy.fee_rate_ppm / 1_000_000
    assert entry["inbound_fee_per_mil"] == live.policy.inbound_fee_rate_ppm
    day, week, month = (int(report[k]) for k in ("day_fee_sum", "week_fee_sum", "month_fee_sum"))
    assert 0 <= day <= week <= month
    assert month == sum(f.fee_msat for f in sim.node.log.events) // 1000  # 30 days of history


async def test_graph_serves_the_node_edges_with_sandbox_ids(sim: SimulatorHandle):
    graph = (await get(sim, "/v1/graph")).json()
    assert len(graph["nodes"]) == 300 and len(graph["edges"]) == 900
    by_id = {edge["channel_id"]: edge for edge in graph["edges"]}
    for live in sim.node.channels.values():
        edge = by_id[live.chan_id]
        assert edge["chan_point"] == live.channel.channel_point
        ours = edge["node1_policy"] if edge["node1_pub"] == sim.node.pubkey else edge["node2_policy"]
        assert ours["fee_rate_milli_msat"] == str(live.policy.fee_rate_ppm)
        assert edge["auth_proof"] is None  # not asked for: protojson writes the unset message as null


async def test_edge_and_node_lookups(sim: SimulatorHandle):
    live = next(iter(sim.node.channels.values()))
    edge = (await get(sim, f"/v1/graph/edge/{live.chan_id}")).json()
    assert edge["channel_id"] == live.chan_id and edge["capacity"] == str(live.channel.capacity_sat)
    by_point = (await get(sim, "/v1/graph/edge/0", chan_point=live.channel.channel_point)).json()
    assert by_point == edge
    missing = await get(sim, "/v1/graph/edge/12345")
    assert (missing.status_code, missing.json()["message"]) == (500, "edge not found")
    bad = await get(sim, "/v1/graph/edge/abc")
    assert bad.status_code == 400 and "type mismatch, parameter: chan_id" in bad.json()["message"]
    proof = (await get(sim, f"/v1/graph/edge/{live.chan_id}", include_auth_proof=True)).json()["auth_proof"]
    assert set(proof) == {"node_sig1", "bitcoin_sig1", "node_sig2", "bitcoin_sig2"}
    info = (await get(sim, f"/v1/graph/node/{sim.node.pubkey}", include_channels=True)).json()
    assert info["num_channels"] == len(info["channels"]) == 35
    assert info["node"]["alias"] == sim.node.alias
    short = (await get(sim, f"/v1/graph/node/{live.channel.remote_pubkey}")).json()
    assert short["channels"] == [] and short["num_channels"] >= 1
    unknown = await get(sim, "/v1/graph/node/02" + "ab" * 32)
    assert unknown.status_code == 404 and unknown.json() == {
        "code": 5,
        "message": "unable to find node",
        "details": [],
    }


async def test_routing_errors_look_like_grpc_gateway(sim: SimulatorHandle):
    async with sim.client() as client:
        missing = await client.get("/v1/nothing")
        wrong_method = await client.delete("/v1/getinfo")
    assert (missing.status_code, missing.json()) == (404, {"code": 5, "message": "Not Found", "details": []})
    assert wrong_method.status_code == 501 and wrong_method.json()["code"] == 12
