"""docker_entrypoint.sh run on this machine against the real Redis and Mongo-wire servers, failure paths too."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.serving import free_port
from tests.deploy.stack import ADMIN_KEY, PROJECT, ApiProcess, service_env

pytestmark = pytest.mark.deploy
GRACEFUL_S = 10


def run_entrypoint(env: dict[str, str], timeout_s: float = 60) -> tuple[int, str, float]:
    """Run the entry point to its end (it must fail before uvicorn): exit code, output, seconds taken."""
    started = time.monotonic()
    result = subprocess.run(
        ["sh", str(PROJECT / "docker_entrypoint.sh")],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_starts_ensures_indexes_and_stops_gracefully_on_sigterm(tmp_path, mongo_url, redis_url, database):
    env = service_env(tmp_path, mongo_url, redis_url, database, MCP_GRACEFUL_SHUTDOWN_S=str(GRACEFUL_S))
    api = ApiProcess(env, tmp_path / "api.log", log_level="info")
    try:
        api.start().wait_ready()
        client: MongoClient[dict[str, object]]
        with MongoClient(mongo_url) as client:
            indexes = list(client[database]["tenants"].list_indexes())
        assert any(list(index["key"]) == ["name"] and index.get("unique") for index in indexes), indexes
        code, seconds = api.terminate()
    finally:
        api.stop()
    log = api.log()
    assert "Redis at 127.0.0.1:" in log and "MongoDB indexes ensured" in log, log
    # exec: the entry point's pid is uvicorn's, so SIGTERM reached the server, which shut the lifespan down
    # and then re-raised the signal (uvicorn's way of reporting why it stopped).
    assert code in (0, -signal.SIGTERM), log
    assert "Application shutdown complete." in log, log
    assert seconds < GRACEFUL_S + 15, f"shutdown took {seconds:.1f} s"
    assert ADMIN_KEY not in log and mongo_url not in log


def test_mongodb_down_exits_after_the_timeout_with_the_reason(tmp_path, redis_url, database):
    port = free_port()
    env = service_env(tmp_path, f"mongodb://127.0.0.1:{port}/", redis_url, database, MCP_WAIT_TIMEOUT_S="2")
    code, output, seconds = run_entrypoint(env)
    assert code == 69, output
    assert f"MongoDB at 127.0.0.1:{port} did not answer within 2 s" in output, output
    assert seconds >= 2, f"gave up after {seconds:.1f} s, before its timeout"
    assert "starting uvicorn" not in output


def test_redis_down_exits_and_never_prints_its_password(tmp_path, mongo_url, database):
    port, password = free_port(), "s3cret-redis-password"
    env = service_env(tmp_path, mongo_url, f"redis://:{password}@127.0.0.1:{port}/0", database)
    env["MCP_WAIT_TIMEOUT_S"] = "1"
    code, output, seconds = run_entrypoint(env)
    assert code == 69, output
    assert f"Redis at 127.0.0.1:{port} did not answer within 1 s" in output, output
    assert password not in output
    assert seconds >= 1


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("world_readable_master_key", "MCP_MASTER_KEY_FILE="),
        ("group_readable_admin_key", "MCP_ADMIN_API_KEY_FILE="),
        ("missing_master_key", "does not exist"),
        ("no_master_key_at_all", "no vault master key"),
        ("open_data_dir", "MCP_DATA_DIR="),
        ("bad_timeout", "MCP_WAIT_TIMEOUT_S must be a whole number"),
    ],
)
def test_refuses_missing_or_loose_secrets(tmp_path, mongo_url, redis_url, database, damage, expected):
    env = service_env(tmp_path, mongo_url, redis_url, database)
    master, admin, data = (
        Path(env[name]) for name in ("MCP_MASTER_KEY_FILE", "MCP_ADMIN_API_KEY_FILE", "MCP_DATA_DIR")
    )
    if damage == "world_readable_master_key":
        master.chmod(0o644)
    elif damage == "group_readable_admin_key":
        admin.chmod(0o640)
    elif damage == "missing_master_key":
        master.unlink()
    elif damage == "no_master_key_at_all":
        del env["MCP_MASTER_KEY_FILE"]
    elif damage == "open_data_dir":
        data.chmod(0o755)
    else:
        env["MCP_WAIT_TIMEOUT_S"] = "soon"
    code, output, _ = run_entrypoint(env)
    assert code == 78, output
    assert expected in output, output
    assert "starting uvicorn" not in output and ADMIN_KEY not in output
