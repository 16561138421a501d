"""start_api.sh, the host launcher: its checks refuse what is wrong, and it starts the API through the entry point."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from app.serving import free_port
from tests.deploy.stack import PROJECT, service_env, wait_until

pytestmark = pytest.mark.deploy


def launch(env: dict[str, str], *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run start_api.sh to its end."""
    return subprocess.run(
        ["bash", str(PROJECT / "start_api.sh"), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )


def env_file(path: Path, settings: dict[str, str], mode: int = 0o600) -> Path:
    """The MCP_* settings as an env file."""
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items() if key.startswith("MCP_")))
    path.chmod(mode)
    return path


def test_refuses_a_missing_virtualenv(tmp_path, mongo_url, database):
    env = service_env(tmp_path, mongo_url, None, database, MCP_VENV=str(tmp_path / "nowhere"))
    result = launch(env, "--check")
    assert result.returncode == 1 and "no virtualenv at" in result.stderr


def test_refuses_a_taken_port(tmp_path, mongo_url, database):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = service_env(tmp_path, mongo_url, None, database, MCP_PORT=str(port))
        result = launch(env, "--check")
    assert result.returncode == 1 and f"port {port} on 127.0.0.1 is taken" in result.stderr


def test_refuses_an_env_file_others_can_read(tmp_path, mongo_url, database):
    settings = service_env(tmp_path, mongo_url, None, database)
    loose = env_file(tmp_path / "api.env", settings, mode=0o644)
    result = launch({"PATH": settings["PATH"]}, "--env-file", str(loose), "--check")
    assert result.returncode == 1 and "has mode 644" in result.stderr


def test_starts_the_api_from_an_env_file(tmp_path, mongo_url, database):
    port = free_port()
    settings = service_env(tmp_path, mongo_url, None, database, MCP_PORT=str(port))
    path = env_file(tmp_path / "api.env", settings)
    log = (tmp_path / "start.log").open("w")
    process = subprocess.Popen(
        ["bash", str(PROJECT / "start_api.sh"), "--env-file", str(path), "--", "--log-level", "warning"],
        env={"PATH": settings["PATH"], "HOME": str(tmp_path)},
        cwd=PROJECT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "start.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "the API started by start_api.sh")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    output = (tmp_path / "start.log").read_text()
    for checked in ("settings read from", "virtualenv", "is free", "installed: lightning-fee-control-plane"):
        assert checked in output, output
    assert "starting uvicorn" in output
    assert "\x1b[" not in output, "no colour codes when not on a terminal"
