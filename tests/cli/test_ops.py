"""`python -m app ops` and `python -m app backups` as an operator runs them, against a running service."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from app.security.private_files import write_private_file
from tests.api.conftest import Service
from tests.api.test_live import ok, registered

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def service(live_service: Service) -> Service:
    """The running service with the demo's short rollout (see tests/api/conftest.py)."""
    return live_service


async def cli(*arguments: str, env: dict[str, str], cwd: Path) -> tuple[int, Any, str]:
    """Run `python -m app ...` without blocking the loop the service answers on; (code, stdout JSON, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *arguments, env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    stdout, stderr = out.decode(), err.decode()
    try:
        body = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        body = stdout
    assert process.returncode is not None
    return process.returncode, body, stderr


async def test_ops_walks_a_node_to_canary_and_rolls_its_batch_back(service: Service, tmp_path: Path):
    key, node_id = await registered(service, "cli")
    write_private_file(tmp_path / "ops.key", key.encode())
    env = {"MCP_API_URL": service.url}
    args = ("ops", "--key-file", str(tmp_path / "ops.key"))
    code, status, _ = await cli(*args, "rollout", node_id, env=env, cwd=tmp_path)
    assert code == 0 and status["stage"] == "shadow"
    code, refused, stderr = await cli(*args, "optimize", node_id, "--mode", "live", env=env, cwd=tmp_path)
    assert code == 2 and refused is None
    assert "error: HTTP 409 mode_not_allowed: mode 'live' is not allowed" in stderr
    assert (await cli(*args, "optimize", node_id, "--mode", "shadow", env=env, cwd=tmp_path))[0] == 0
    code, promoted, _ = await cli(
        *args, "rollout", node_id, "--promote", "--reason", "from the CLI", env=env, cwd=tmp_path
    )
    assert code == 0 and promoted["stage"] == "canary_1"
    assert promoted["history"][-1]["reason"] == "from the CLI"
    code, cycle, _ = await cli(*args, "optimize", node_id, "--mode", "canary", env=env, cwd=tmp_path)
    assert code == 0 and cycle["execution"]["outcomes"] == {"applied": 1}
    transaction_id = cycle["execution"]["transaction_id"]
    code, listed, _ = await cli(*args, "transactions", node_id, env=env, cwd=tmp_path)
    assert code == 0 and [t["id"] for t in listed["items"]] == [transaction_id]
    code, detail, _ = await cli(*args, "transaction", transaction_id, env=env, cwd=tmp_path)
    assert code == 0 and detail["channels"][0]["outcome"] == "applied"
    code, undone, _ = await cli(*args, "rollback", "--transaction", transaction_id, env=env, cwd=tmp_path)
    assert code == 0 and undone["state"] == "committed" and undone["outcomes"] == {"applied": 1}
    code, _, stderr = await cli(*args, "rollback", "--node", node_id, env=env, cwd=tmp_path)
    assert code == 2 and "--node needs exactly one of --backup or --to" in stderr
    os.chmod(tmp_path / "ops.key", 0o644)
    code, _, stderr = await cli(*args, "rollout", node_id, env=env, cwd=tmp_path)
    assert code == 2 and "chmod 600" in stderr  # a key readable by others is refused


async def test_backups_cli_lists_exports_verifies_and_imports(service: Service, tmp_path: Path):
    key, node_id = await registered(service, "cold")
    async with service.client(key) as api:
        await ok(await api.post(f"/api/v1/nodes/{node_id}/sync"))
        backup = await ok(await api.post(f"/api/v1/nodes/{node_id}/backups"), 201)
    settings = service.settings
    assert settings.mongodb_url is not None
    cold = tmp_path / "cold"
    env = {
        "MCP_MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "MCP_MONGODB_DATABASE": settings.mongodb_database,
        "MCP_BACKUP_DIR": str(cold),
    }
    code, exported, _ = await cli("backups", "export", env=env, cwd=tmp_path)
    assert code == 0 and exported["exported"] == 1
    [file] = list(cold.glob("*/*/*.json.gz"))
    assert (
        backup["id"] in file.name
        and json.loads(gzip.decompress(file.read_bytes()))["checksum"] == backup["checksum"]
    )
    code, listed, _ = await cli("backups", "list", "--node", node_id, "--json", env=env, cwd=tmp_path)
    assert code == 0 and [(row["where"], row["id"], row["checksum_ok"]) for row in listed] == [
        ("hot", backup["id"], True)
    ]
    code, verified, _ = await cli("backups", "verify", env=env, cwd=tmp_path)
    assert code == 0 and verified == {"hot_ok": 1, "cold_ok": 1, "bad": []}
    runtime = service.app.state.runtime
    await runtime.storage.backups.delete(key_tenant(listed), backup["id"])  # the hot copy expired
    code, imported, stderr = await cli("backups", "import", str(file), env=env, cwd=tmp_path)
    assert code == 0 and imported["backup_id"] == backup["id"] and "rollback" in stderr
    document = json.loads(gzip.decompress(file.read_bytes()))
    document["policies"][next(iter(document["policies"]))]["policy"]["fee_rate_ppm"] += 1
    file.write_bytes(gzip.compress(json.dumps(document).encode()))
    code, verified, stderr = await cli("backups", "verify", env=env, cwd=tmp_path)
    assert code == 1 and verified["bad"] == [f"cold:{file.name}"] and "fail their checksum" in stderr


def key_tenant(rows: list[dict[str, Any]]) -> str:
    """The tenant id the listing shows."""
    return str(rows[0]["tenant_id"])
