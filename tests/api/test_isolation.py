"""Tenant isolation and roles for every route, generated from the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Service, dump, running_service, tenant_with_key
from tests.storage import builders

OPEN = {"/health", "/ready", "/metrics"}
PLATFORM_ONLY = {("POST", "/api/v1/tenants"), ("GET", "/api/v1/tenants")}
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/nodes/{node_id}/settings"): {},
    ("POST", "/api/v1/nodes/{node_id}/optimize"): {"mode": "shadow"},
    ("POST", "/api/v1/tenants/{tenant_id}/keys"): {"name": "x", "role": "viewer"},
    ("POST", "/api/v1/nodes/{node_id}/rollback"): {"backup_id": "{backup_id}"},
    ("POST", "/api/v1/nodes/{node_id}/rollout"): {"action": "promote"},
}


@pytest.fixture
async def service(tmp_path: Path, mongo_url: str) -> AsyncIterator[Service]:
    """The running service with a rate limit the probe of every route does not hit."""
    async with running_service(tmp_path, mongo_url, rate_limit_per_second=1_000) as running:
        yield running


async def tenant_a_resources(service: Service) -> dict[str, str]:
    """Tenant A with a node, a sync, a decision and a second key; returns the ids to probe with."""
    tenant_id, key = await tenant_with_key(service, "tenant-a")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        optimized = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        assert optimized.status_code == 200
        decision = (await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"limit": 1})).json()["items"][
            0
        ]
        viewer = (
            await api.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": "v", "role": "viewer"})
        ).json()
        backup = await api.post(f"/api/v1/nodes/{node_id}/backups")
        assert backup.status_code == 201, dump(backup)
    runtime = service.app.state.runtime
    batch = await runtime.storage.transactions.add(builders.transaction(tenant_id, node_id))
    return {
        "tenant_id": tenant_id,
        "node_id": node_id,
        "decision_id": decision["id"],
        "chan_id": decision["chan_id"],
        "key_id": viewer["id"],
        "key": key,
        "viewer_key": viewer["key"],
        "backup_id": backup.json()["id"],
        "transaction_id": batch.id,
        "job_id": optimized.json()["job_id"],
    }


def routes(service: Service) -> list[tuple[str, str]]:
    """Every (method, path template) of the API that needs a key."""
    found = []
    for path, operations in service.app.openapi()["paths"].items():
        if path in OPEN:
            continue
        found += [(method.upper(), path) for method in operations]
    return found


async def test_a_key_of_another_tenant_gets_404_for_every_resource(service: Service):
    ids = await tenant_a_resources(service)
    _, other_key = await tenant_with_key(service, "tenant-b")
    probed = 0
    async with service.client(other_key) as intruder:
        for method, template in routes(service):
            if "{" not in template or (method, template) in PLATFORM_ONLY:
                continue  # collections are scoped to the caller's own tenant, checked below
            path = template.format(**ids)
            body = BODIES.get((method, template))
            if isinstance(body, dict):
                body = {name: str(value).format(**ids) for name, value in body.items()}
            response = await intruder.request(method, path, json=body)
            assert response.status_code == 404, f"{method} {path}: {dump(response)}"
            probed += 1
        assert probed >= 21
        own_nodes = (await intruder.get("/api/v1/nodes")).json()["items"]
        assert own_nodes == []
        assert (await intruder.get("/api/v1/nodes/" + ids["node_id"] + "/decisions")).status_code == 404


async def test_roles_limit_what_a_key_may_do(service: Service):
    ids = await tenant_a_resources(service)
    node = ids["node_id"]
    async with service.client(ids["viewer_key"]) as viewer:
        assert (await viewer.get(f"/api/v1/nodes/{node}/channels")).status_code == 200
        assert (await viewer.get(f"/api/v1/nodes/{node}/decisions")).status_code == 200
        for readable in ("transactions", "backups", "rollout", "audit"):
            assert (await viewer.get(f"/api/v1/nodes/{node}/{readable}")).status_code == 200, readable
        assert (await viewer.get(f"/api/v1/transactions/{ids['transaction_id']}")).status_code == 200
        assert (await viewer.get(f"/api/v1/backups/{ids['backup_id']}")).status_code == 200
        for method, path, body in [
            ("POST", f"/api/v1/nodes/{node}/sync", None),
            ("POST", f"/api/v1/nodes/{node}/optimize", {"mode": "shadow"}),
            ("PUT", f"/api/v1/nodes/{node}/settings", {}),
            ("POST", f"/api/v1/decisions/{ids['decision_id']}/reject", None),
            ("POST", "/api/v1/nodes", service.lnd_registration()),
            ("DELETE", f"/api/v1/nodes/{node}", None),
            ("GET", f"/api/v1/tenants/{ids['tenant_id']}/keys", None),
            ("POST", f"/api/v1/nodes/{node}/rollback", {"backup_id": ids["backup_id"]}),
            ("POST", f"/api/v1/nodes/{node}/rollout", {"action": "demote"}),
            ("POST", f"/api/v1/nodes/{node}/backups", None),
            ("POST", f"/api/v1/transactions/{ids['transaction_id']}/rollback", None),
        ]:
            response = await viewer.request(method, path, json=body)
            assert response.status_code == 403, f"{method} {path}: {dump(response)}"
            assert response.json()["error"]["code"] == "forbidden"
    async with service.client(ids["key"]) as admin:
        revoked = await admin.delete(f"/api/v1/tenants/{ids['tenant_id']}/keys/{ids['key_id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    async with service.client(ids["viewer_key"]) as revoked_viewer:
        assert (await revoked_viewer.get(f"/api/v1/nodes/{node}")).status_code == 401
