"""env.production.example and scripts/validate_production_config.py against real MongoDB-wire, Redis and a node."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.graph.synthetic import generate_graph
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import running_simulator
from app.sandbox.state import generate_sandbox_state
from app.serving import free_port
from app.settings import Settings
from tests.deploy.stack import PROJECT, graph_file, private_file

pytestmark = pytest.mark.deploy
EXAMPLE = PROJECT / "env.production.example"
ENTRYPOINT_ONLY = {
    "MCP_HOST",
    "MCP_PORT",
    "MCP_WAIT_TIMEOUT_S",
    "MCP_GRACEFUL_SHUTDOWN_S",
    "MCP_FORWARDED_ALLOW_IPS",
}


def example_keys() -> dict[str, str | None]:
    """Every MCP_* key of the example: its value when set, None when only documented (commented out)."""
    keys: dict[str, str | None] = {}
    for line in EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#\s*)?(MCP_[A-Z0-9_]+)=(.*)$", line)
        if match:
            keys[match.group(2)] = None if match.group(1) else match.group(3)
    return keys


def production_env(tmp_path: Path, mongo_url: str, redis_url: str, **changes: str) -> Path:
    """The example with its paths moved into `tmp_path` and the real servers' URLs: a valid production file."""
    secrets = tmp_path / "etc-mcp"
    private_file(secrets / "master.key", b"UZzpP0PNNeDAZLGwo8Gk8ry1xp3o8tVS9X9+vaXUSwg=\n")
    private_file(secrets / "admin.key", b"mcp_validate_admin_key_0123456789\n")
    data = tmp_path / "var-lib-mcp"
    data.mkdir(mode=0o700, exist_ok=True)
    values = {key: value for key, value in example_keys().items() if value is not None}
    values |= {
        "MCP_MASTER_KEY_FILE": str(secrets / "master.key"),
        "MCP_ADMIN_API_KEY_FILE": str(secrets / "admin.key"),
        "MCP_DATA_DIR": str(data),
        "MCP_GRAPH_FILE": str(graph_file(tmp_path)),
        "MCP_MONGODB_URL": mongo_url,
        "MCP_REDIS_URL": redis_url,
    }
    values |= changes
    path = tmp_path / "mcp-api.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    return path


def validate(env_file: Path, *extra: str) -> tuple[int, str]:
    """Run the validator as an operator would."""
    result = subprocess.run(
        [
            sys.executable,
            "scripts/validate_production_config.py",
            "--env-file",
            str(env_file),
            "--timeout",
            "1",
            *extra,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


def test_every_setting_is_documented_and_the_safe_choices_are_set():
    keys = example_keys()
    missing = {f"MCP_{name.upper()}" for name in Settings.model_fields} - set(keys)
    assert not missing, f"settings missing from env.production.example: {sorted(missing)}"
    assert set(keys) >= ENTRYPOINT_ONLY
    assert keys["MCP_PROFILE"] == "conservative", "manual approval (the conservative profile) is the default"
    assert keys["MCP_MASTER_KEY"] is None and keys["MCP_ADMIN_API_KEY"] is None, "secrets come from files"
    assert keys["MCP_MASTER_KEY_FILE"] and keys["MCP_ADMIN_API_KEY_FILE"]


def test_a_sound_production_file_passes_and_reaches_storage_and_the_node(tmp_path, mongo_url, redis_url):
    import asyncio

    env_file = production_env(tmp_path, mongo_url, redis_url)

    async def with_node() -> tuple[int, str]:
        graph = generate_graph(seed=5, node_count=200, channel_count=600)
        async with running_simulator(
            SimulatedNode(generate_sandbox_state(graph, 0, seed=5), graph), tls=True
        ) as node:
            return await asyncio.to_thread(validate, env_file, "--node-url", node.url)

    code, output = asyncio.run(with_node())
    assert code == 0, output
    for line in (
        "MongoDB at 127.0.0.1:",
        "Redis at 127.0.0.1:",
        "node at 127.0.0.1:",
        "manual approval required",
    ):
        assert line in output, output
    assert "0 error(s)" in output


def test_every_problem_is_reported_and_fails_the_check(tmp_path, mongo_url):
    thresholds = yaml.safe_load((PROJECT / "config" / "decision_thresholds.yaml").read_text())
    thresholds["defaults"]["limits"] |= {"fee_rate_max_ppm": 5000, "daily_cap": 80}
    risky = tmp_path / "risky.yaml"
    risky.write_text(yaml.safe_dump(thresholds))
    down_mongo, down_redis = free_port(), free_port()
    env_file = production_env(
        tmp_path,
        f"mongodb://127.0.0.1:{down_mongo}/?directConnection=true",
        f"redis://:hunter2-redis@127.0.0.1:{down_redis}/0",
        MCP_THRESHOLDS_FILE=str(risky),
        MCP_PROFILE="balanced",
    )
    (tmp_path / "etc-mcp" / "master.key").chmod(0o644)
    (tmp_path / "var-lib-mcp").chmod(0o755)
    env_file.chmod(0o640)
    code, output = validate(env_file)
    assert code == 1, output
    expected = (
        "fee_rate_max_ppm 5000 exceeds 2500",
        "daily_cap 80 is outside 1..50",
        "require_manual_approval is off",
        "MCP_MASTER_KEY_FILE=",
        "has mode 0644",
        "MCP_DATA_DIR=",
        "has mode 0755",
        "has mode 0640",
        f"MongoDB at 127.0.0.1:{down_mongo} did not answer within 1 s",
        f"Redis at 127.0.0.1:{down_redis} did not answer within 1 s",
    )
    for problem in expected:
        assert problem in output, f"{problem!r} not reported:\n{output}"
    assert "hunter2-redis" not in output


def test_invalid_values_and_missing_secrets(tmp_path, mongo_url, redis_url):
    env_file = production_env(tmp_path, mongo_url, redis_url, MCP_RATE_LIMIT_PER_SECOND="lots")
    code, output = validate(env_file)
    assert code == 1 and "MCP_RATE_LIMIT_PER_SECOND='lots'" in output, output
    text = env_file.read_text().replace("MCP_RATE_LIMIT_PER_SECOND=lots\n", "")
    env_file.write_text(re.sub(r"MCP_MASTER_KEY_FILE=.*\n", "", text))
    code, output = validate(env_file)
    assert code == 1 and "no vault master key" in output, output
    thresholds = yaml.safe_load((PROJECT / "config" / "decision_thresholds.yaml").read_text())
    thresholds["defaults"]["limits"]["cooldown_hours"] = 6
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(thresholds))
    code, output = validate(
        production_env(tmp_path, mongo_url, redis_url, MCP_THRESHOLDS_FILE=str(tmp_path / "fast.yaml"))
    )
    assert code == 1 and "cooldown_hours 6 is below 12" in output, output
