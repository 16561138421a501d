"""Schemathesis against the running service: requests generated from its own OpenAPI for every operation.

Every check schemathesis has runs, but one: `positive_data_acceptance` expects any schema-valid request to
succeed, while cursors are opaque tokens (a made-up one is refused with 422) and limit overrides are
checked against the validator's bounds, which depend on the profile. Operations under one node get the
id of a real, synced node, so their handlers run past the tenant lookup; the rest get generated ids.
The tenant routes run a second time with the platform admin key, the only key allowed to create tenants.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx

from tests.api.conftest import ADMIN_KEY, Service, dump, running_service, tenant_with_key

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = """
[[operations]]
include-path-regex = "^/api/v1/nodes/\\\\{node_id\\\\}/"
parameters = { "path.node_id" = "${FUZZ_NODE_ID}" }

[[operations]]
include-name = "DELETE /api/v1/nodes/{node_id}"
parameters = { "path.node_id" = "${DOOMED_NODE_ID}" }
"""


async def run_schemathesis(
    service: Service, workdir: Path, key: str, node_id: str, doomed_id: str, *extra: str
) -> str:
    """One schemathesis run against the service; its report, asserted to pass."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{service.url}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "20", "--seed", "20261121", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "60", "--no-color", *extra,
        cwd=workdir, env={**os.environ, "FUZZ_NODE_ID": node_id, "DOOMED_NODE_ID": doomed_id},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert key not in report  # schemathesis filters the header; our answers never echo it
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases is not None and int(cases[1]) == int(cases[2]) > 100, report[-2000:]
    print(f"schemathesis: {cases[0]}")  # shown with `pytest -s`
    return report


async def test_generated_requests_find_no_server_error_and_answers_match_the_schema(
    tmp_path: Path, mongo_url: str
):
    async with running_service(tmp_path, mongo_url, rate_limit_per_second=10_000) as service:
        _, key = await tenant_with_key(service, "fuzzed")
        async with service.client(key) as api:
            registered = await api.post("/api/v1/nodes", json=service.lnd_registration())
            node_id = registered.json()["node"]["id"]
            synced = await api.post(f"/api/v1/nodes/{node_id}/sync")
            assert synced.status_code == 200, dump(synced)
            # Links found in answers (a job's node_id) lead the stateful phase to DELETE a node: never the
            # fuzzed one, which every other operation needs; a second node is there to be deleted.
            doomed = await api.post("/api/v1/nodes", json={**service.lnd_registration(), "name": "doomed"})
            doomed_id = doomed.json()["node"]["id"]
        async with httpx.AsyncClient(base_url=service.url) as http:
            schema = (await http.get("/openapi.json")).json()
        operations = sum(
            method in {"get", "post", "put", "delete", "patch"}
            for item in schema["paths"].values()
            for method in item
        )

        tenant_run = await run_schemathesis(service, tmp_path, key, node_id, doomed_id)
        assert f"Tested: {operations}" in tenant_run, tenant_run[-2000:]
        admin_run = await run_schemathesis(
            service, tmp_path, ADMIN_KEY, node_id, doomed_id, "--include-tag", "accounts"
        )
        assert "Tested: 5" in admin_run, admin_run[-2000:]
