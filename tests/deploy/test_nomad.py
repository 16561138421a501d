"""The Nomad jobs parsed with python-hcl2 (no Nomad binary here), and the deploy scripts in dry-run and prefix mode."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.deploy.stack import PROJECT

pytestmark = pytest.mark.deploy
EXEC_JOB = PROJECT / "deploy" / "mcp-api.nomad"
DOCKER_JOB = PROJECT / "deploy" / "mcp-api-docker.nomad"


def clean(value: Any) -> Any:
    """python-hcl2's output without its markers and with strings unquoted."""
    if isinstance(value, dict):
        return {
            clean(key): clean(item)
            for key, item in value.items()
            if key not in ("__is_block__", "__comments__")
        }
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(path: Path) -> dict[str, Any]:
    """A job file as plain data."""
    with path.open() as handle:
        return clean(hcl2.load(handle))  # type: ignore[no-any-return]


def labelled(blocks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The block with this label among `blocks`."""
    for block in blocks:
        if name in block:
            return block[name]  # type: ignore[no-any-return]
    raise AssertionError(f"no block {name!r} in {[list(block) for block in blocks]}")


def group_and_task(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The job, its group `api` and that group's task `api`."""
    job = labelled(document["job"], "mcp-api")
    group = labelled(job["group"], "api")
    return job, group, labelled(group["task"], "api")


@pytest.mark.parametrize("path", [EXEC_JOB, DOCKER_JOB], ids=["exec", "docker"])
def test_job_structure(path):
    document = load(path)
    job, group, task = group_and_task(document)
    assert job["datacenters"] == ["dc1"] and job["type"] == "service"
    assert labelled(document["variable"], "replicas")["default"] == 3
    assert group["count"] == "${var.replicas}"
    update = job["update"][0]
    assert (
        update["max_parallel"] == 1 and update["auto_revert"] is True and update["health_check"] == "checks"
    )
    assert group["constraint"][0]["operator"] == "distinct_hosts"
    restart = group["restart"][0]
    assert (restart["attempts"], restart["interval"], restart["delay"]) == (5, "200s", "10s")
    service = group["service"][0]
    checks = {check["name"]: check for check in service["check"]}
    assert checks["alive"]["path"] == "/health" and checks["ready"]["path"] == "/ready"
    assert all(check["protocol"] == "https" and check["type"] == "http" for check in checks.values())
    # TLS: uvicorn gets a certificate and key rendered into the secrets folder, the key owner-only.
    templates = {Path(template["destination"]).name: template for template in task["template"]}
    assert {"tls.crt", "tls.key", "master.key", "admin.key", "storage.env"} <= set(templates)
    for secret in ("tls.key", "master.key", "admin.key", "storage.env"):
        assert templates[secret]["perms"] == "0600", secret
    assert templates["storage.env"]["env"] is True
    args = task["config"][0]["args"]
    assert "--ssl-certfile" in args and "--ssl-keyfile" in args
    assert task["resources"][0] == {"cpu": 2000, "memory": 2048}
    assert task["kill_signal"] == "SIGTERM"
    env = task["env"][0]
    assert env["MCP_PROFILE"] == "conservative"
    assert "MCP_MONGODB_URL" not in env and "MCP_MASTER_KEY" not in env, "secrets come from Nomad variables"


def test_exec_variant_uses_the_host_volume():
    _, group, task = group_and_task(load(EXEC_JOB))
    assert task["driver"] == "exec"
    volume = labelled(group["volume"], "mcp-data")
    assert volume["type"] == "host" and volume["read_only"] is False
    assert task["volume_mount"][0] == {"volume": "mcp-data", "destination": "/var/lib/mcp"}
    assert task["config"][0]["command"] == "${var.install_dir}/start_api.sh"
    assert task["env"][0]["MCP_PORT"] == "${NOMAD_PORT_https}"


def test_docker_variant_runs_the_image():
    _, group, task = group_and_task(load(DOCKER_JOB))
    assert task["driver"] == "docker"
    config = task["config"][0]
    assert config["image"] == "${var.image}" and config["ports"] == ["https"]
    assert config["mount"][0]["target"] == "/var/lib/mcp"
    assert config["healthchecks"][0]["disable"] is True, "the image's HTTP probe does not apply to HTTPS"
    assert labelled(group["network"][0]["port"], "https")["to"] == 8443


def nomad_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run deploy/deploy_mcp.sh without any NOMAD_* of the caller's."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("NOMAD_")}
    return subprocess.run(
        ["bash", "deploy/deploy_mcp.sh", *args],
        cwd=PROJECT,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


def test_deploy_script_dry_run_uses_tls_and_keeps_the_token_out(tmp_path):
    ca = tmp_path / "nomad-ca.pem"
    ca.write_text("ca")
    token = "0f2d7a9e-token-never-printed"
    address = ["--address", "https://nomad.internal:4646", "--ca-cert", str(ca)]
    result = nomad_script(*address, "--replicas", "5", "--dry-run", NOMAD_TOKEN=token)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for verb in ("validate", "plan", "run"):
        assert (
            f"$ nomad job {verb} -address=https://nomad.internal:4646 -ca-cert={ca} -var replicas=5" in output
        )
    assert token not in output
    refused = nomad_script(*address, "--dry-run")
    assert refused.returncode == 1 and "no token" in refused.stderr
    plain = nomad_script(
        "--address", "http://nomad.internal:4646", "--ca-cert", str(ca), "--dry-run", NOMAD_TOKEN=token
    )
    assert plain.returncode == 1 and "https://" in plain.stderr


def test_volume_script_creates_an_owner_only_folder_and_prints_the_agent_steps(tmp_path):
    owner = f"{os.getuid()}:{os.getgid()}"
    dry = subprocess.run(
        ["bash", "deploy/deploy_mcp_volume.sh", "--prefix", str(tmp_path), "--owner", owner, "--dry-run"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0 and not any(tmp_path.iterdir()), dry.stdout + dry.stderr
    result = subprocess.run(
        ["bash", "deploy/deploy_mcp_volume.sh", "--prefix", str(tmp_path), "--owner", owner],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "var" / "lib" / "mcp-data"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and (folder / "graph").is_dir()
    assert 'host_volume "mcp-data"' in result.stdout and 'path      = "/var/lib/mcp-data"' in result.stdout
    assert "does not touch the agent's configuration" in result.stdout
