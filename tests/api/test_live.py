"""Live execution end to end over the API: shadow -> canary -> live -> rollback, against the LND simulator."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.policy import ChannelPolicy
from tests.api.conftest import Service, dump, tenant_with_key

LIMITS = {"daily_cap": 60}  # the node runs many batches in one test
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def service(live_service: Service) -> Service:
    """The running service with the demo's short rollout (see tests/api/conftest.py)."""
    return live_service


def on_node(service: Service, chan_id: str) -> ChannelPolicy:
    """What the simulated node holds for a channel now (read in-process)."""
    return ChannelPolicy(**dataclasses.asdict(service.simulator.node.channels[chan_id].policy))


def node_state(service: Service) -> dict[str, ChannelPolicy]:
    """Every channel's policy on the simulated node."""
    return {chan_id: on_node(service, chan_id) for chan_id in service.simulator.node.channels}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of an expected answer."""
    assert response.status_code == status, dump(response)
    return response.json()


async def registered(service: Service, name: str, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    """A tenant with an admin key and the simulator registered in it; returns (key, node id)."""
    _, key = await tenant_with_key(service, name)
    body = {**service.lnd_registration(), "settings": {"limits": LIMITS, **(settings or {})}}
    async with service.client(key) as api:
        created = await ok(await api.post("/api/v1/nodes", json=body), 201)
    return key, created["node"]["id"]


async def promote(api: httpx.AsyncClient, node_id: str) -> dict[str, Any]:
    """Promote one stage; the gate must pass."""
    status: dict[str, Any] = await ok(
        await api.post(f"/api/v1/nodes/{node_id}/rollout", json={"action": "promote"})
    )
    return status


async def to_stage(api: httpx.AsyncClient, node_id: str, stage: str) -> None:
    """Run cycles and promote until the node is at `stage` (canary stages write their channels)."""
    order = ["shadow", "canary_1", "canary_5", "live"]
    while (current := (await ok(await api.get(f"/api/v1/nodes/{node_id}/rollout")))["stage"]) != stage:
        mode = {"shadow": "shadow", "canary_1": "canary", "canary_5": "canary"}[current]
        await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": mode}))
        await promote(api, node_id)
        assert order.index(current) < order.index(stage)


async def test_an_operator_goes_shadow_canary_live_and_rolls_back(service: Service):
    key, node_id = await registered(service, "rollout")
    original = node_state(service)
    started = datetime.now(UTC) - timedelta(seconds=1)
    async with service.client(key) as api:
        rollout = await ok(await api.get(f"/api/v1/nodes/{node_id}/rollout"))
        assert rollout["stage"] == "shadow" and rollout["allowed_modes"] == ["shadow"]
        assert not rollout["operator_may_promote"]  # no shadow cycle yet
        refused = await api.post(f"/api/v1/nodes/{node_id}/rollout", json={"action": "promote"})
        assert refused.status_code == 409 and "shadow_cycles" in refused.json()["error"]["message"]

        shadow = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"}))
        assert shadow["execution"] is None and node_state(service) == original  # shadow never writes
        canary = await promote(api, node_id)
        assert canary["stage"] == "canary_1" and canary["allowed_modes"] == ["shadow", "canary"]

        await ok(
            await api.put(f"/api/v1/nodes/{node_id}/settings", json={"mode": "canary", "limits": LIMITS})
        )
        first = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={}))
        assert first["mode"] == "canary"
        execution = first["execution"]
        assert execution["state"] == "committed" and execution["outcomes"] == {"applied": 1}, execution
        [canary_channel] = execution["canary_channels"]
        detail = await ok(await api.get(f"/api/v1/transactions/{execution['transaction_id']}"))
        [entry] = detail["channels"]
        assert entry["chan_id"] == canary_channel and entry["outcome"] == "applied"
        assert on_node(service, canary_channel) == ChannelPolicy(**entry["target"])
        changed = {c for c in original if on_node(service, c) != original[c]}
        assert changed == {canary_channel}  # canary(1) wrote exactly one channel
        status = await ok(await api.get(f"/api/v1/nodes/{node_id}/rollout"))
        checks = {check["name"]: check["status"] for check in status["gate"]["checks"]}
        assert checks["every_write_verified"] == checks["no_automatic_rollback"] == "passed", checks

        assert (await promote(api, node_id))["stage"] == "canary_5"
        second = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={}))
        assert second["execution"]["state"] == "committed"
        assert 1 <= sum(second["execution"]["outcomes"].values()) <= 5
        assert len(second["execution"]["canary_channels"]) <= 5
        assert (await promote(api, node_id))["stage"] == "live"

        await ok(await api.put(f"/api/v1/nodes/{node_id}/settings", json={"mode": "live", "limits": LIMITS}))
        live = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={}))
        batch = live["execution"]
        assert live["mode"] == "live" and batch["state"] == "committed", batch
        live_detail = await ok(await api.get(f"/api/v1/transactions/{batch['transaction_id']}"))
        written = [e for e in live_detail["channels"] if e["outcome"] == "applied"]
        # Live writes every approved decision the raised cap admits (the rollbacks below need two or more).
        assert len(written) >= 2
        assert len(written) + batch["refused_at_write_time"] == live["verdicts"]["approved"]
        assert all(on_node(service, e["chan_id"]) == ChannelPolicy(**e["target"]) for e in written)

        first, *rest = written
        rollback_url = f"/api/v1/transactions/{batch['transaction_id']}/rollback"
        one = await ok(
            await api.post(rollback_url, json={"chan_ids": [first["chan_id"]], "reason": "one channel"})
        )
        assert one["state"] == "committed" and one["outcomes"] == {"applied": 1}
        assert on_node(service, first["chan_id"]) == ChannelPolicy(**first["before"])  # exactly its backup
        assert all(on_node(service, e["chan_id"]) == ChannelPolicy(**e["target"]) for e in rest)  # untouched
        unknown = await api.post(rollback_url, json={"chan_ids": ["123"]})
        assert unknown.status_code == 422 and "not part of transaction" in unknown.json()["error"]["message"]
        undo = await ok(await api.post(rollback_url, json={}))
        assert undo["state"] == "committed" and undo["outcomes"] == {"applied": len(rest)}
        assert undo["skipped"] == {first["chan_id"]: "already at that policy"}
        for entry in written:
            assert on_node(service, entry["chan_id"]) == ChannelPolicy(
                **entry["before"]
            )  # exactly the backup
        undone = await ok(await api.get(f"/api/v1/transactions/{batch['transaction_id']}"))
        assert undone["rolled_back_by"] == [one["transaction_id"], undo["transaction_id"]]
        decisions = await ok(
            await api.get(
                f"/api/v1/nodes/{node_id}/decisions", params={"status": "rolled_back", "limit": 500}
            )
        )
        assert len(decisions["items"]) == len(written)

        whole = await ok(
            await api.post(f"/api/v1/nodes/{node_id}/rollback", json={"to": started.isoformat()})
        )
        assert whole["state"] == "committed"
        assert node_state(service) == original  # every change the service made since `started` is undone

        audit = await ok(await api.get(f"/api/v1/nodes/{node_id}/audit", params={"limit": 500}))
        actions = {record["action"] for record in audit["items"]}
        assert {"policy.write", "policy.rollback", "policy.restore", "transaction.apply", "rollout.promote",
                "node.settings", "vault.decrypt"} <= actions, actions  # fmt: skip
        transactions = await ok(await api.get(f"/api/v1/nodes/{node_id}/transactions", params={"limit": 50}))
        kinds = [t["kind"] for t in transactions["items"]]
        assert kinds == ["restore", "rollback", "rollback", "apply", "apply", "apply"]
        assert all(t["state"] == "committed" for t in transactions["items"])


async def test_a_node_rolled_back_to_a_backup_holds_exactly_that_backup(service: Service):
    key, node_id = await registered(service, "backups")
    async with service.client(key) as api:
        await ok(await api.post(f"/api/v1/nodes/{node_id}/sync"))
        backup = await ok(await api.post(f"/api/v1/nodes/{node_id}/backups"), 201)
        assert backup["kind"] == "manual" and backup["channels"] == len(service.simulator.node.channels)
        saved = node_state(service)
        await to_stage(api, node_id, "live")
        await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "live"}))
        assert node_state(service) != saved
        restored = await ok(
            await api.post(f"/api/v1/nodes/{node_id}/rollback", json={"backup_id": backup["id"]})
        )
        assert restored["state"] == "committed"
        assert node_state(service) == saved
        listed = await ok(await api.get(f"/api/v1/nodes/{node_id}/backups", params={"kind": "batch"}))
        assert len(listed["items"]) == 4  # one per batch: canary(1), canary(5), live, and the restore
        assert all(len(item["checksum"]) == 64 for item in listed["items"])
        for moment in ("1970-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00", "2026-11-30T12:00:00"):
            odd = await api.post(f"/api/v1/nodes/{node_id}/rollback", json={"to": moment})
            assert odd.status_code == 422, (moment, dump(odd))
        bad = await api.post(
            f"/api/v1/nodes/{node_id}/rollback",
            json={"backup_id": backup["id"], "to": "2026-01-01T00:00:00Z"},
        )
        assert bad.status_code == 422


async def test_external_changes_are_recorded_and_left_alone(service: Service):
    key, node_id = await registered(service, "external")
    async with service.client(key) as api:
        await to_stage(api, node_id, "live")
        await ok(await api.post(f"/api/v1/nodes/{node_id}/sync"))
        live = service.simulator.node.channels
        chan_id = next(iter(live))
        changed = dataclasses.replace(
            live[chan_id].policy, fee_rate_ppm=live[chan_id].policy.fee_rate_ppm + 77
        )
        service.simulator.node.set_policy(live[chan_id], changed)  # the operator, with lncli
        synced = await ok(await api.post(f"/api/v1/nodes/{node_id}/sync"))
        assert synced["external_changes"] == 1
        audit = await ok(
            await api.get(f"/api/v1/nodes/{node_id}/audit", params={"action": "policy.external_change"})
        )
        [record] = audit["items"]
        assert (
            record["target"] == f"channel {chan_id}"
            and record["after"]["fee_rate_ppm"] == changed.fee_rate_ppm
        )
        result = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "live"}))
        assert result["external_changes"] == 0  # already known: recorded once
        decisions = await ok(await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 500}))
        mine = [
            d for d in decisions["items"] if d["chan_id"] == chan_id and d["cycle_id"] == result["cycle_id"]
        ]
        if mine[0]["kind"] not in ("hold", "suggest_rebalance", "suggest_close"):
            codes = {issue["code"] for issue in mine[0]["validation"]["issues"]}
            assert "external_change_hold" in codes, mine
        assert on_node(service, chan_id) == ChannelPolicy(**dataclasses.asdict(changed))  # never fought


async def test_two_concurrent_live_cycles_one_runs_and_the_daily_cap_holds(service: Service):
    key, node_id = await registered(service, "racers")
    async with service.client(key) as api:
        await to_stage(api, node_id, "live")
        await ok(
            await api.put(
                f"/api/v1/nodes/{node_id}/settings", json={"mode": "live", "limits": {"daily_cap": 9}}
            )
        )
        earlier = (await ok(await api.get(f"/api/v1/nodes/{node_id}/transactions")))["items"]
        spent = sum(t["outcomes"].get("applied", 0) for t in earlier)
        answers = await asyncio.gather(
            api.post(f"/api/v1/nodes/{node_id}/optimize", json={}),
            api.post(f"/api/v1/nodes/{node_id}/optimize", json={}),
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200, 409], [dump(a) for a in answers]
        busy = next(a for a in answers if a.status_code == 409).json()["error"]
        assert busy["code"] == "node_busy" and "optimize in progress" in busy["message"]
        await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={}))
        transactions = (await ok(await api.get(f"/api/v1/nodes/{node_id}/transactions")))["items"]
        applied = sum(t["outcomes"].get("applied", 0) for t in transactions)
        assert applied <= 9 and applied >= spent  # the cap counts every write of the rolling day


async def test_an_approval_is_written_at_once_and_an_old_one_is_refused(service: Service):
    key, node_id = await registered(service, "approvals")
    async with service.client(key) as api:
        await to_stage(api, node_id, "live")
        conservative = {"profile": "conservative", "mode": "live", "limits": LIMITS}
        await ok(await api.put(f"/api/v1/nodes/{node_id}/settings", json=conservative))
        await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "live"}))
        waiting = (
            await ok(
                await api.get(
                    f"/api/v1/nodes/{node_id}/decisions", params={"status": "needs_approval", "limit": 500}
                )
            )
        )["items"]
        live_waiting = [d for d in waiting if d["mode"] == "live"]
        assert len(live_waiting) >= 2, "the conservative profile requires manual approval"
        first, stale = live_waiting[0], live_waiting[1]
        approved = await ok(await api.post(f"/api/v1/decisions/{first['id']}/approve"))
        assert approved["status"] == "applied" and approved["transaction_id"]
        assert (
            on_node(service, first["chan_id"]).fee_rate_ppm
            == approved["decision"]["proposed_policy"]["fee_rate_ppm"]
        )
        runtime = service.app.state.runtime
        record = await runtime.storage.decisions.get(approved["tenant_id"], stale["id"])
        old = record.model_copy(update={"created_at": record.created_at - timedelta(hours=7)})
        await runtime.storage.decisions.settle(
            old.tenant_id, old.id, frozenset({record.status}), record.status, created_at=old.created_at
        )
        before = on_node(service, stale["chan_id"])
        refused = await api.post(f"/api/v1/decisions/{stale['id']}/approve")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "decision_expired", dump(
            refused
        )
        expired = await ok(await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"status": "expired"}))
        assert stale["id"] in {d["id"] for d in expired["items"]}
        assert on_node(service, stale["chan_id"]) == before  # nothing was written for it


async def test_a_node_that_needs_approval_gets_a_canary_whose_approval_is_written(service: Service):
    key, node_id = await registered(service, "careful-canary", {"profile": "conservative"})
    async with service.client(key) as api:
        await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"}))
        await promote(api, node_id)
        cycle = await ok(await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "canary"}))
        [canary] = cycle["execution"]["canary_channels"]
        assert cycle["execution"]["transaction_id"] is None  # nothing approved yet: nothing written
        decisions = (await ok(await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 500})))[
            "items"
        ]
        mine = [d for d in decisions if d["cycle_id"] == cycle["cycle_id"]]
        waiting = [d for d in mine if d["status"] == "needs_approval"]
        assert [d["chan_id"] for d in waiting] == [canary]
        others = [d for d in mine if d["status"] == "rejected" and d["chan_id"] != canary]
        assert any(i["code"] == "not_in_canary" for d in others for i in d["validation"]["issues"])
        approved = await ok(await api.post(f"/api/v1/decisions/{waiting[0]['id']}/approve"))
        assert approved["status"] == "applied"
        assert on_node(service, canary) == ChannelPolicy(**approved["decision"]["proposed_policy"])
        assert (await promote(api, node_id))["stage"] == "canary_5"
