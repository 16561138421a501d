"""The service's own log, as `uvicorn app.main:create_app --factory` writes it with MCP_LOG_FORMAT=json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.operator_api import ApiProcess, running_api
from tests.storage.conftest import mongo_url  # noqa: F401  (session fixture)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, mongo_url: str) -> Iterator[ApiProcess]:  # noqa: F811
    """One API process for the module."""
    with running_api(tmp_path_factory.mktemp("log-service"), mongo_url) as running:
        yield running


def test_every_line_is_one_json_event_with_the_request_and_tenant_ids(api: ApiProcess):
    registration = {
        "name": "logged",
        "backend": "lnd",
        "url": api.simulator["url"],
        "macaroon": Path(api.simulator["fees_macaroon"]).read_bytes().hex(),
        "tls_cert_pem": Path(api.simulator["tls_cert"]).read_text(),
    }
    headers = {"Authorization": f"Bearer {api.keys['admin']}", "X-Request-ID": "trace-log-1"}
    with httpx.Client(base_url=api.url, headers=headers, timeout=60) as http:
        created = http.post("/api/v1/nodes", json=registration)
        assert created.status_code == 201, created.text
        node_id = created.json()["node"]["id"]
        synced = http.post(f"/api/v1/nodes/{node_id}/sync", headers={"X-Request-ID": "trace-log-2"})
        assert synced.status_code == 200, synced.text
        stranger = {"Authorization": "Bearer not-a-key-of-ours-123456", "X-Request-ID": "trace-log-3"}
        assert http.get("/api/v1/nodes", headers=stranger).status_code == 401
    lines = api.log_lines()  # parsing each line as JSON is the first check
    mine = [line for line in lines if line["request_id"] in ("trace-log-1", "trace-log-2")]
    access = [line for line in mine if line["logger"] == "uvicorn.access"]
    assert len(access) == 2 and all(line["tenant_id"] == api.tenant_id for line in access), mine
    assert {line["request_id"] for line in access} == {"trace-log-1", "trace-log-2"}
    [stranger_line] = [line for line in lines if line["request_id"] == "trace-log-3"]
    assert (
        stranger_line["tenant_id"] == "-" and '"GET /api/v1/nodes HTTP/1.1" 401' in stranger_line["message"]
    )
    # The sync's own lines, far below the API (node calls, the cycle), carry both ids too.
    below = [line for line in mine if not line["logger"].startswith("uvicorn")]
    assert below and all(line["tenant_id"] == api.tenant_id for line in below), mine
    every = api.log_file.read_text()
    for secret in [*api.every_secret(), "not-a-key-of-ours-123456"]:
        assert secret not in every
    assert all(set(line) >= {"ts", "level", "logger", "message", "request_id", "tenant_id"} for line in lines)
