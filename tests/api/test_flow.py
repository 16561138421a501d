"""The whole API flow over HTTP: tenants, keys, node registration, sync, channels, score, optimize, decisions."""

from __future__ import annotations

from tests.api.conftest import ADMIN_KEY, Service, dump, tenant_with_key


async def test_operator_flow_from_registration_to_shadow_report(service: Service):
    _, key = await tenant_with_key(service, "acme")
    async with service.client(key) as api:
        registered = await api.post("/api/v1/nodes", json=service.lnd_registration())
        assert registered.status_code == 201, dump(registered)
        body = registered.json()
        node_id = body["node"]["id"]
        assert (
            "macaroon" not in registered.text and service.simulator.fees_macaroon_hex not in registered.text
        )
        assert body["warnings"] == []  # the fee macaroon is exactly what is needed
        assert body["node"]["tls_cert_pinned"] is True

        synced = await api.post(f"/api/v1/nodes/{node_id}/sync")
        assert synced.status_code == 200, dump(synced)
        channel_count = synced.json()["channels"]
        assert channel_count == len(service.simulator.node.channels)

        first = await api.get(f"/api/v1/nodes/{node_id}/channels", params={"limit": 10})
        assert first.status_code == 200, dump(first)
        page = first.json()
        assert len(page["items"]) == 10 and page["next_cursor"] == page["items"][-1]["chan_id"]
        seen = [item["chan_id"] for item in page["items"]]
        while page["next_cursor"]:
            page = (
                await api.get(
                    f"/api/v1/nodes/{node_id}/channels", params={"limit": 10, "cursor": page["next_cursor"]}
                )
            ).json()
            seen += [item["chan_id"] for item in page["items"]]
        assert len(seen) == len(set(seen)) == channel_count
        assert all(item["score"]["total"] >= 0 for item in first.json()["items"])

        chan_id = seen[0]
        score = await api.get(f"/api/v1/nodes/{node_id}/channels/{chan_id}/score")
        assert score.status_code == 200, dump(score)
        assert score.json()["total"] == first.json()["items"][0]["score"]["total"]  # one score, two views
        names = {entry["name"] for entry in score.json()["scores"]}
        assert len(names) == 8 and "centrality" in names

        optimized = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        assert optimized.status_code == 200, dump(optimized)
        assert optimized.json()["channels"] == channel_count
        decisions = await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 500})
        assert decisions.status_code == 200, dump(decisions)
        assert len(decisions.json()["items"]) == channel_count

        report = await api.get(f"/api/v1/nodes/{node_id}/shadow/report", params={"days": 14})
        assert report.status_code == 200, dump(report)
        assert sum(report.json()["by_day"].values()) == report.json()["total"]


async def test_live_mode_is_refused_with_a_clear_error(service: Service):
    _, key = await tenant_with_key(service, "live-seekers")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        for mode in ("live", "canary"):
            refused = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": mode})
            assert refused.status_code == 409, dump(refused)
            error = refused.json()["error"]
            assert error["code"] == "mode_not_allowed"
            assert "rollout stage 'shadow'" in error["message"] and "POST /api/v1/nodes/" in error["message"]
            assert error["details"]["allowed_modes"] == ["shadow"]
        settings = await api.put(f"/api/v1/nodes/{node_id}/settings", json={"mode": "live"})
        assert settings.status_code == 409 and settings.json()["error"]["code"] == "mode_not_allowed"
        transactions = await api.get(f"/api/v1/nodes/{node_id}/transactions")
        assert transactions.json() == {"items": [], "next_cursor": None}  # nothing was written


async def test_manual_approval_flow(service: Service):
    _, key = await tenant_with_key(service, "careful")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        settings = await api.put(f"/api/v1/nodes/{node_id}/settings", json={"profile": "conservative"})
        assert settings.status_code == 200, dump(settings)
        assert (
            await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        ).status_code == 200
        waiting = (
            await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"status": "needs_approval"})
        ).json()
        assert waiting["items"], "the conservative profile requires manual approval"
        decision_id = waiting["items"][0]["id"]
        approved = await api.post(f"/api/v1/decisions/{decision_id}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        again = await api.post(f"/api/v1/decisions/{decision_id}/approve")
        assert again.status_code == 422 and "cannot be approved" in again.json()["error"]["message"]
        rejected = await api.post(f"/api/v1/decisions/{decision_id}/reject")
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


async def test_settings_are_validated_with_the_validator_bounds(service: Service):
    _, key = await tenant_with_key(service, "tweakers")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        bad = await api.put(f"/api/v1/nodes/{node_id}/settings", json={"limits": {"cooldown_hours": 2}})
        assert bad.status_code == 422
        assert "gossip" in bad.text
        unknown = await api.put(f"/api/v1/nodes/{node_id}/settings", json={"profil": "typo"})
        assert unknown.status_code == 422
        good = await api.put(
            f"/api/v1/nodes/{node_id}/settings", json={"limits": {"daily_cap": 2}, "pinned_channels": ["123"]}
        )
        assert good.status_code == 200 and good.json()["limits"] == {"daily_cap": 2}
        assert (await api.get(f"/api/v1/nodes/{node_id}/settings")).json()["pinned_channels"] == ["123"]


async def test_errors_have_one_shape_and_a_request_id(service: Service):
    async with service.client() as anonymous:
        missing = await anonymous.get("/api/v1/nodes")
        assert missing.status_code == 401
        assert set(missing.json()["error"]) == {"code", "message", "details"}
        assert missing.headers["x-request-id"]
        echoed = await anonymous.get("/health", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"
        nowhere = await anonymous.get("/api/v1/nowhere")
        assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"
    async with service.client("mcp_not_a_real_key") as wrong:
        assert (await wrong.get("/api/v1/nodes")).status_code == 401
    async with service.client(ADMIN_KEY) as admin:
        invalid = await admin.post("/api/v1/tenants", json={"name": ""})
        assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "validation_error"
        assert invalid.json()["error"]["details"][0]["location"].startswith("body")
        platform_on_nodes = await admin.get("/api/v1/nodes")
        assert platform_on_nodes.status_code == 403


async def test_registration_needs_the_credential_of_its_backend(service: Service):
    _, key = await tenant_with_key(service, "careless")
    good = service.lnd_registration()
    cases = {
        "lnd without macaroon": {k: v for k, v in good.items() if k != "macaroon"},
        "lnd with an lnbits token": {**good, "admin_token": "x"},
        "lnbits without token": {"name": "b", "backend": "lnbits", "url": "https://lnbits.example"},
        "unknown backend": {**good, "backend": "cln"},
        "url without host": {**good, "url": "https://"},
        "not a certificate": {**good, "tls_cert_pem": "hello"},
    }
    async with service.client(key) as api:
        for case, body in cases.items():
            response = await api.post("/api/v1/nodes", json=body)
            assert response.status_code == 422, (case, dump(response))
            assert response.json()["error"]["code"] == "validation_error", case
            assert service.simulator.fees_macaroon_hex not in response.text, case  # never echoed
        live = await api.post("/api/v1/nodes", json={**good, "settings": {"mode": "live"}})
        assert live.status_code == 409 and live.json()["error"]["code"] == "mode_not_allowed", dump(live)
        assert (await api.get("/api/v1/nodes")).json()["items"] == []  # nothing half-registered
        lnbits = {"name": "b", "backend": "lnbits", "url": "https://lnbits.example", "admin_token": "t"}
        assert (await api.post("/api/v1/nodes", json=lnbits)).status_code == 201


async def test_the_decision_list_leaves_the_breakdown_to_the_decision_itself(service: Service):
    _, key = await tenant_with_key(service, "breakdowns")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        assert (
            await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        ).status_code == 200
        listed = (await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 5})).json()["items"]
        assert len(listed) == 5 and all("breakdown" not in item["decision"] for item in listed)
        for item in listed:
            full = await api.get(f"/api/v1/decisions/{item['id']}")
            assert full.status_code == 200, dump(full)
            record = full.json()
            assert len(record["decision"].pop("breakdown")["scores"]) == 8
            assert record == item  # the same decision, field for field, but for the breakdown
