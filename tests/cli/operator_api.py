"""A real API process for the operator CLI and log tests, with its JSON log captured to a file.

uvicorn as `make run` starts it, on real Redis, the Mongo-wire server and an LND simulator process.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from app.cache.redis_server import RedisServer
from app.graph.synthetic import generate_graph_document
from app.security.private_files import write_private_file
from app.serving import free_port
from app.settings import PROJECT_ROOT
from tests.storage.conftest import database_name

START_DEADLINE_S = 120.0
# The demo's short rollout: a stage may be left after one cycle, canary flow judged at once.
FAST_ROLLOUT = {
    "MCP_ROLLOUT_SHADOW_DAYS": "0",
    "MCP_ROLLOUT_MIN_CYCLES": "1",
    "MCP_ROLLOUT_CANARY_DAYS": "0",
    "MCP_ROLLOUT_MIN_FORWARDS": "0",
}


@dataclass
class ApiProcess:
    """The running API, its simulator node's credential files and the keys issued for the tests."""

    url: str
    workdir: Path
    log_file: Path
    simulator: dict[str, str]
    admin_key: str
    keys: dict[str, str] = field(default_factory=dict)  # role -> key
    key_files: dict[str, Path] = field(default_factory=dict)  # role -> 0600 file
    tenant_id: str = ""

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line the service logged so far, each parsed as JSON (fails on a line that is not)."""
        return [orjson.loads(line) for line in self.log_file.read_text().splitlines() if line.strip()]

    def every_secret(self) -> list[str]:
        """Every key and credential a test must never find in output."""
        macaroon = Path(self.simulator["fees_macaroon"]).read_bytes().hex()
        return [self.admin_key, *self.keys.values(), macaroon]


def _wait_for(what: str, ready: Any, process: subprocess.Popen[Any], deadline_s: float) -> Any:
    """Poll `ready()` until it returns something truthy; fail if the process exits or time runs out."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        value = ready()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} was not ready in {deadline_s:.0f} s")


def _start_simulator(workdir: Path, graph_file: Path, pubkey: str, errors: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "lnd", "--node", pubkey, "--port", "0", "--graph", str(graph_file),
         "--data-dir", str(workdir / "sandbox-lnd"), "--exit-with-parent"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=errors, text=True,
        env={**os.environ, "MCP_DATA_DIR": str(workdir / "data")},
    )  # fmt: skip


def _read_simulator_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    fields: dict[str, str] = {}
    while "sandbox_token" not in fields:  # printed last, once it listens
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the LND simulator exited with {process.wait()}")
        name, _, value = line.partition(": ")
        fields[name.strip()] = value.strip()
    return fields


@contextlib.contextmanager
def running_api(workdir: Path, mongo_url: str) -> Iterator[ApiProcess]:
    """Start the simulator, Redis and the API; issue admin, operator and viewer keys of one tenant."""
    graph_file = workdir / "graph.json"
    document = generate_graph_document(seed=5, node_count=400, channel_count=1_200)
    graph_file.write_bytes(orjson.dumps(document))
    errors = open(workdir / "processes.err", "w")  # noqa: SIM115 (closed below)
    log_file = workdir / "api.log"
    admin_key = "mcp_cli_test_admin_" + secrets.token_hex(8)
    simulator = _start_simulator(workdir, graph_file, document["nodes"][0]["pub_key"], errors)
    api: subprocess.Popen[bytes] | None = None
    try:
        with RedisServer() as redis, open(log_file, "wb") as log:
            banner = _read_simulator_banner(simulator)
            port = free_port()
            env = {
                **os.environ,
                **FAST_ROLLOUT,
                "MCP_MONGODB_URL": mongo_url,
                "MCP_MONGODB_DATABASE": database_name(),
                "MCP_REDIS_URL": redis.url,
                "MCP_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                "MCP_ADMIN_API_KEY": admin_key,
                "MCP_DATA_DIR": str(workdir / "data"),
                "MCP_GRAPH_FILE": str(graph_file),
                "MCP_CENTRALITY_SAMPLES": "32",
                "MCP_CLOSENESS_SAMPLES": "32",
                "MCP_SCHEDULE_ENABLED": "false",
                "MCP_ALLOW_PRIVATE_NODE_URLS": "true",  # the simulator listens on loopback
                "MCP_RATE_LIMIT_PER_SECOND": "1000",
                "MCP_LOG_FORMAT": "json",
            }
            api = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port)],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=30) as http:

                def ready() -> bool:
                    try:
                        return http.get("/ready").status_code == 200
                    except httpx.TransportError:
                        return False

                _wait_for("the API", ready, api, START_DEADLINE_S)
                running = ApiProcess(url, workdir, log_file, banner, admin_key)
                _issue_keys(http, running)
            yield running
    finally:
        for process in (api, simulator):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        errors.close()


def _issue_keys(http: httpx.Client, running: ApiProcess) -> None:
    admin = {"Authorization": f"Bearer {running.admin_key}"}
    tenant = http.post("/api/v1/tenants", json={"name": "operators"}, headers=admin)
    assert tenant.status_code == 201, tenant.text
    running.tenant_id = tenant.json()["id"]
    for role in ("admin", "operator", "viewer"):
        issued = http.post(
            f"/api/v1/tenants/{running.tenant_id}/keys",
            json={"name": f"cli-{role}", "role": role},
            headers=admin,
        )
        assert issued.status_code == 201, issued.text
        running.keys[role] = issued.json()["key"]
        path = running.workdir / f"{role}.key"
        write_private_file(path, (running.keys[role] + "\n").encode())
        running.key_files[role] = path
