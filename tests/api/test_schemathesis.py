"""Schemathesis against the running service: requests generated from its own OpenAPI for every operation.

Every check schemathesis has runs. `positive_data_acceptance` (any schema-valid request succeeds) is off
only where the schema cannot say what is refused: cursors are opaque tokens (a made-up one is a 422),
limit overrides are checked against the profile's bounds, node URLs against the URL policy. Operations
under one node get the id of a real, synced node, so their handlers run past the tenant lookup; the rest
get generated ids, and the stateful phase follows the OpenAPI links from each creation to the routes
using its id. The tenant routes run a second time with the platform admin key, the only key allowed to
create tenants.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, Service, dump, running_service, tenant_with_key

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
NODE = r"/api/v1/nodes/\{node_id\}"
# Schema-valid yet refused (422), by rules a schema cannot state: limits checked against the profile's
# bounds, a rollback's one-of-two target, node URLs against the URL policy, certificates by parsing them,
# cursors that must be ones this service handed out.
LISTS_UNDER_NODE = "channels|decisions|transactions|backups|audit"
REFUSED_BY_RULE_UNDER_NODE = rf"^(PUT {NODE}/settings|POST {NODE}/rollback|GET {NODE}/({LISTS_UNDER_NODE}))$"
TENANT_KEYS = r"/api/v1/tenants/\{tenant_id\}/keys"
REFUSED_BY_RULE = rf"^(POST /api/v1/nodes|PATCH {NODE}|GET /api/v1/(tenants|nodes)|GET {TENANT_KEYS})$"
ACCEPTED = '["2xx", "401", "403", "404", "409", "422", "429"]'
CONFIG = f"""
# The stateful phase follows only the links the OpenAPI declares: inferred ones led it from a GET of the
# fuzzed node to deleting it.
[phases.stateful.inference]
algorithms = []

[[operations]]
include-name-regex = {json.dumps(REFUSED_BY_RULE_UNDER_NODE)}
parameters = {{ "path.node_id" = "${{FUZZ_NODE_ID}}" }}
checks.positive_data_acceptance.expected-statuses = {ACCEPTED}

[[operations]]
include-name-regex = {json.dumps(REFUSED_BY_RULE)}
checks.positive_data_acceptance.expected-statuses = {ACCEPTED}

[[operations]]
include-path-regex = {json.dumps("^" + NODE + "/")}
parameters = {{ "path.node_id" = "${{FUZZ_NODE_ID}}" }}
"""


async def run_schemathesis(service: Service, workdir: Path, key: str, node_id: str, *extra: str) -> str:
    """One schemathesis run against the service; its report, asserted to pass."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{service.url}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", "all",
        "--max-examples", "20", "--seed", "20261121", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "60", "--no-color", *extra,
        cwd=workdir, env={**os.environ, "FUZZ_NODE_ID": node_id},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert key not in report  # schemathesis filters the header; our answers never echo it
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases is not None and int(cases[1]) == int(cases[2]) > 100, report[-2000:]
    assert re.search(r"✅ Stateful", report), report[-2000:]  # the links were followed, not skipped
    return report


async def test_generated_requests_find_no_server_error_and_answers_match_the_schema(
    tmp_path: Path, mongo_url: str, capsys: pytest.CaptureFixture[str]
):
    async with running_service(
        tmp_path, mongo_url, rate_limit_per_second=10_000, auth_failures_per_minute=100_000
    ) as service:
        _, key = await tenant_with_key(service, "fuzzed")
        async with service.client(key) as api:
            registered = await api.post("/api/v1/nodes", json=service.lnd_registration())
            node_id = registered.json()["node"]["id"]
            synced = await api.post(f"/api/v1/nodes/{node_id}/sync")
            assert synced.status_code == 200, dump(synced)
        async with httpx.AsyncClient(base_url=service.url) as http:
            schema = (await http.get("/openapi.json")).json()
        operations = sum(
            method in {"get", "post", "put", "delete", "patch"}
            for item in schema["paths"].values()
            for method in item
        )

        tenant_run = await run_schemathesis(service, tmp_path, key, node_id)
        assert f"Tested: {operations}" in tenant_run, tenant_run[-2000:]
        admin_run = await run_schemathesis(service, tmp_path, ADMIN_KEY, node_id, "--include-tag", "accounts")
        assert "Tested: 6" in admin_run, admin_run[-2000:]
        with capsys.disabled():  # the counts belong in every run's output, make test's included
            for name, run in (("tenant key", tenant_run), ("platform admin key", admin_run)):
                counts = re.search(r"\d+ generated, \d+ passed", run)
                print(f"\nschemathesis ({name}): {counts[0] if counts else '?'}, no 5xx")
