"""Set up the demo through the API itself: a tenant, its key (0600 file), and the sandbox node registered and synced.

Idempotent, so `make run` can be run again on the same data directory: the tenant and node are found
by name, a key file that still works is kept, and a node whose simulator moved to another URL is
registered again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from app.errors import DomainError
from app.security.private_files import write_private_file

DEMO_TENANT: Final = "demo"
DEMO_KEY_NAME: Final = "demo-admin"
_PAGE: Final = 200


@dataclass(frozen=True)
class SandboxEndpoint:
    """Where the simulated LND node listens and the credential files it wrote."""

    url: str
    fees_macaroon: Path
    tls_cert: Path | None


@dataclass(frozen=True)
class DemoFiles:
    """Files the demo leaves for the README's curl examples: the tenant key (0600) and the node id."""

    key: Path
    node: Path


@dataclass(frozen=True)
class DemoNode:
    """The demo node as set up: who owns it, its id, what the first sync saw."""

    tenant_id: str
    node_id: str
    mode: str
    channels: int
    sync_seconds: float


class DemoSetupError(DomainError):
    """The API refused a demo setup step; the message names the step and the API's error."""

    code = "demo_setup_failed"


_JOB_WAIT_S = 600.0  # a first sync of a large node through a slow backend; a hub takes ~20 s
_JOB_POLL_S = 0.5


async def bootstrap(
    api_url: str, admin_key: str, sandbox: SandboxEndpoint, node_name: str, files: DemoFiles
) -> DemoNode:
    """Create or find the demo tenant, key and node, sync the node, and write the demo files."""
    saved_key = await asyncio.to_thread(_read_key, files.key)
    registration = await asyncio.to_thread(_registration, sandbox, node_name)
    async with httpx.AsyncClient(base_url=api_url, timeout=300.0) as http:
        admin = {"Authorization": f"Bearer {admin_key}"}
        tenant_id = await _tenant(http, admin)
        key = await _tenant_key(http, admin, tenant_id, saved_key)
        if key != saved_key:
            await asyncio.to_thread(_save_key, files.key, key)
        tenant = {"Authorization": f"Bearer {key}"}
        node_id = await _node(http, tenant, registration)
        settings = _ok(await http.get(f"/api/v1/nodes/{node_id}/settings", headers=tenant), "read settings")
        synced = await _finished(
            http, await http.post(f"/api/v1/nodes/{node_id}/sync", headers=tenant), tenant, "sync the node"
        )
    await asyncio.to_thread(files.node.write_text, node_id + "\n")
    return DemoNode(tenant_id, node_id, settings["mode"], synced["channels"], synced["seconds"])


def _read_key(path: Path) -> str | None:
    return path.read_text().strip() or None if path.exists() else None


def _save_key(path: Path, key: str) -> None:
    """Replace the key file (0600): the old key no longer works (revoked, or its database is gone)."""
    path.unlink(missing_ok=True)
    write_private_file(path, (key + "\n").encode())


def _registration(sandbox: SandboxEndpoint, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "backend": "lnd",
        "url": sandbox.url,
        "macaroon": sandbox.fees_macaroon.read_bytes().hex(),
        "tls_cert_pem": sandbox.tls_cert.read_text() if sandbox.tls_cert else None,
    }


async def _tenant(http: httpx.AsyncClient, admin: dict[str, str]) -> str:
    async for tenant in _pages(http, "/api/v1/tenants", admin, "list tenants"):
        if tenant["name"] == DEMO_TENANT:
            return str(tenant["id"])
    created = _ok(
        await http.post("/api/v1/tenants", json={"name": DEMO_TENANT}, headers=admin),
        "create the demo tenant",
    )
    return str(created["id"])


async def _tenant_key(
    http: httpx.AsyncClient, admin: dict[str, str], tenant_id: str, saved: str | None
) -> str:
    """The saved key when it still works, else a newly issued one."""
    if saved is not None:
        probe = await http.get(
            "/api/v1/nodes", params={"limit": 1}, headers={"Authorization": f"Bearer {saved}"}
        )
        if probe.status_code == 200:
            return saved
    issued = _ok(
        await http.post(
            f"/api/v1/tenants/{tenant_id}/keys", json={"name": DEMO_KEY_NAME, "role": "admin"}, headers=admin
        ),
        "issue the demo key",
    )
    return str(issued["key"])


async def _node(http: httpx.AsyncClient, tenant: dict[str, str], registration: dict[str, Any]) -> str:
    async for node in _pages(http, "/api/v1/nodes", tenant, "list nodes"):
        if node["name"] != registration["name"]:
            continue
        if node["url"] == registration["url"]:
            return str(node["id"])
        # The simulator listens elsewhere this time: replace the stale registration.
        _ok(await http.delete(f"/api/v1/nodes/{node['id']}", headers=tenant), "remove the stale demo node")
    created = _ok(
        await http.post("/api/v1/nodes", json=registration, headers=tenant), "register the demo node"
    )
    return str(created["node"]["id"])


async def _pages(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], step: str
) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": _PAGE} | ({"cursor": cursor} if cursor else {})
        page = _ok(await http.get(path, params=params, headers=headers), step)
        for item in page["items"]:
            yield item
        cursor = page["next_cursor"]
        if not cursor:
            return


async def _finished(
    http: httpx.AsyncClient, response: httpx.Response, headers: dict[str, str], step: str
) -> dict[str, Any]:
    """The result of a job route: at once, or (202: it outlived the request deadline) once the job ends."""
    body: dict[str, Any] = _ok(response, step)
    if response.status_code != 202:
        return body
    location = response.headers["Location"]
    deadline = asyncio.get_running_loop().time() + _JOB_WAIT_S
    while body["state"] == "running":
        if asyncio.get_running_loop().time() > deadline:
            raise DemoSetupError(
                f"demo setup could not {step}: still running after {_JOB_WAIT_S:.0f} s ({location})"
            )
        await asyncio.sleep(_JOB_POLL_S)  # a person waits on this; nothing to wake us sooner
        body = _ok(await http.get(location, headers=headers), step)
    if body["state"] != "succeeded":
        error = body.get("error") or {}
        reason = f"{error.get('code', body['state'])}: {error.get('message', 'the job did not finish')}"
        raise DemoSetupError(f"demo setup could not {step}: {reason}")
    result: dict[str, Any] = body["result"]
    return result


def _ok(response: httpx.Response, step: str) -> Any:
    """The JSON body of a 2xx answer (None for 204); otherwise a DemoSetupError quoting the API's error."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        error = response.json()["error"]
        reason = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        reason = response.text[:200]
    raise DemoSetupError(f"demo setup could not {step}: HTTP {response.status_code} ({reason})")
