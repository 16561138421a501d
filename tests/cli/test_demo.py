"""`python -m app demo` (what `make run` starts) as an operator runs it, and the README's curl blocks against it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.graph.synthetic import generate_graph_document
from app.security.keys import generate_key_file
from app.security.private_files import write_private_file
from app.serving import free_port
from app.settings import DEFAULT_THRESHOLDS_FILE, PROJECT_ROOT
from tests.conftest import REAL_GRAPH_FILE, requires_real_graph

README = PROJECT_ROOT / "README.md"
WALKTHROUGH_MARK = "<!-- README walkthrough:"


def walkthrough_blocks() -> list[str]:
    """The shell blocks the README marks as its walkthrough, in order."""
    text = README.read_text()
    blocks = re.findall(re.escape(WALKTHROUGH_MARK) + r"[^\n]*\n```sh\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 3, "the README lost a marked walkthrough block"
    return blocks


class Demo:
    """One `python -m app demo` process in `workdir`, with its stdout banner parsed."""

    def __init__(
        self,
        workdir: Path,
        sandbox_port: int,
        node: str = "ACINQ (synthetic)",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.stderr = open(workdir / f"demo-{time.monotonic_ns()}.err", "w")  # noqa: SIM115 (closed in stop)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MCP_DATA_DIR": "data",
            "MCP_SANDBOX_LND_DIR": "data/sandbox-lnd",
            "MCP_MASTER_KEY_FILE": "data/master.key",
            "MCP_ADMIN_API_KEY_FILE": "data/admin.key",
            "MCP_GRAPH_FILE": str(workdir / "graph.json"),
            "MCP_CENTRALITY_SAMPLES": "32",
            "MCP_CLOSENESS_SAMPLES": "32",
            **(extra_env or {}),
        }
        env.pop("MCP_MONGODB_URL", None)  # the embedded default, as make run has it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "demo", "--node", node, "--port", "0", "--sandbox-port", str(sandbox_port)],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True,
        )  # fmt: skip
        self.banner: dict[str, str] = {}
        self.stdout_lines: list[str] = []  # the banner and uvicorn's access log, which goes to stdout

    def wait_banner(self, deadline_s: float = 180.0) -> dict[str, str]:
        """Read stdout until the `try:` line; fail with the process's stderr if it exits first."""
        assert self.process.stdout is not None
        started = time.monotonic()
        while "try" not in self.banner:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"demo exited with {self.process.wait()}: {self.errors()}")
            self.stdout_lines.append(line)
            key, _, value = line.strip().partition(" ")
            self.banner[key.rstrip(":")] = value.strip()
            assert time.monotonic() - started < deadline_s, self.errors()
        return self.banner

    @property
    def api_url(self) -> str:
        return self.banner["API"].split()[0]

    def stop(self) -> int:
        """Ctrl-C, as an operator stops `make run`: the terminal signals every process of the group; the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.stderr.close()
        return code

    def errors(self) -> str:
        return self.log()[-3000:]

    def log(self) -> str:
        """Everything the demo and its children wrote to stderr so far (uvicorn's access log goes to stdout)."""
        return Path(self.stderr.name).read_text()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project-like directory: data/ (0700) with the master and admin keys make run writes, and a small graph."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    generate_key_file(data / "master.key")
    write_private_file(data / "admin.key", b"mcp_admin_demo_test_key\n")
    document = generate_graph_document(seed=9, node_count=300, channel_count=900)
    (tmp_path / "graph.json").write_bytes(orjson.dumps(document))
    # The README's blocks call the project's `.venv/bin/python`: here, this test's interpreter.
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    return tmp_path


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port` (the simulator, while it runs)."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_block(block: str, api_url: str, workdir: Path, prefix: str = "") -> list[dict[str, Any]]:
    """Run a README block as written (only the API's port differs) and parse the JSON bodies it printed."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", prefix + block.replace("http://127.0.0.1:8000", api_url)],
        cwd=workdir, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    decoder, bodies, position = json.JSONDecoder(), [], 0
    text = done.stdout
    while position < len(text):
        body, position = decoder.raw_decode(text, position)
        bodies.append(body)
        while position < len(text) and text[position].isspace():
            position += 1
    return bodies


def make_run_demo(workdir: Path, sandbox_port: int) -> Demo:
    """What `make run` starts: ACINQ of the public graph (1,989 channels).

    A small synthetic node has too few approved proposals under today's rules to walk every rollout stage
    with a write in each.
    """
    shipped = {"MCP_GRAPH_FILE": str(REAL_GRAPH_FILE), "MCP_THRESHOLDS_FILE": str(DEFAULT_THRESHOLDS_FILE)}
    return Demo(workdir, sandbox_port, node="ACINQ", extra_env=shipped)


@requires_real_graph
def test_demo_sets_up_a_synced_shadow_node_and_the_readme_walkthrough_works(workdir: Path):
    sandbox_port = free_port()
    demo = make_run_demo(workdir, sandbox_port)
    try:
        banner = demo.wait_banner()
        # The demo's own readiness polls stay out of the access log (it polled twice a second).
        assert not [line for line in demo.stdout_lines if "GET /ready" in line], demo.stdout_lines
        assert listening(sandbox_port)
        assert "mode shadow" in banner["node"] and "SIMULATED LND" in banner["node"]
        key_file, node_file = workdir / "data" / "demo.key", workdir / "data" / "demo.node"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key, node_id = key_file.read_text().strip(), node_file.read_text().strip()
        assert key not in "\n".join(banner.values()) + demo.errors()  # in its file, never printed

        demo_block, live_block, tenant_block = walkthrough_blocks()
        ready, channels, score, optimized, decisions, report = run_block(demo_block, demo.api_url, workdir)
        assert ready["status"] == "ready"
        assert len(channels["items"]) == 2 and channels["next_cursor"] == channels["items"][1]["chan_id"]
        assert len(score["scores"]) == 8
        assert optimized["mode"] == "shadow" and optimized["channels"] > 0
        approved = optimized["verdicts"]["approved"]
        assert approved > 0 and len(decisions["items"]) == min(5, approved)
        assert all(item["status"] == "approved" for item in decisions["items"])
        assert report["by_status"]["approved"] == approved
        # Later blocks use $API, $KEY and $NODE from the first one, as in one terminal.
        prefix = f"API={demo.api_url}\nKEY=$(cat data/demo.key)\nNODE={node_id}\n"
        live = run_block(live_block, demo.api_url, workdir, prefix)
        check_live_walkthrough(*live)
        own_nodes, refused = run_block(tenant_block, demo.api_url, workdir, prefix)
        assert own_nodes == {"items": [], "next_cursor": None}
        assert refused["error"]["code"] == "not_found"  # the README says so: another tenant's node
    finally:
        code = demo.stop()
    assert code == 0, demo.errors()
    assert "Traceback" not in demo.log() and "KeyboardInterrupt" not in demo.log(), demo.errors()
    assert not listening(sandbox_port)  # the simulator stopped with the demo

    # Again on the same data directory: the same key and the same node, synced again.
    again = make_run_demo(workdir, sandbox_port)
    try:
        again.wait_banner()
        assert (workdir / "data" / "demo.key").read_text().strip() == key
        assert (workdir / "data" / "demo.node").read_text().strip() == node_id
    finally:
        assert again.stop() == 0, again.errors()


def check_live_walkthrough(
    shadow: dict[str, Any],
    canary_1: dict[str, Any],
    first_canary: dict[str, Any],
    canary_5: dict[str, Any],
    second_canary: dict[str, Any],
    live: dict[str, Any],
    settings: dict[str, Any],
    transaction: dict[str, Any],
    rollback: dict[str, Any],
    audit: dict[str, Any],
) -> None:
    """What the README's going-live block shows, answer by answer."""
    assert shadow["stage"] == "shadow" and shadow["operator_may_promote"], shadow
    assert [canary_1["stage"], canary_5["stage"], live["stage"]] == ["canary_1", "canary_5", "live"]
    assert first_canary["execution"]["outcomes"] == {"applied": 1}
    assert len(first_canary["execution"]["canary_channels"]) == 1
    assert 1 <= sum(second_canary["execution"]["outcomes"].values()) <= 4  # 5 a day, 1 spent
    assert settings["mode"] == "live" and settings["limits"] == {"daily_cap": 30}
    assert transaction["state"] == "committed" and transaction["mode"] == "live"
    applied = [c for c in transaction["channels"] if c["outcome"] == "applied"]
    assert applied and all(c["observed"] == c["target"] for c in applied)
    assert rollback["state"] == "committed" and rollback["outcomes"] == {"applied": len(applied)}
    assert audit["items"][0]["action"] == "transaction.rollback" and len(audit["items"]) == 3


def test_demo_with_an_unknown_node_exits_with_a_clear_error(workdir: Path):
    demo = Demo(workdir, free_port(), node="no such node anywhere")
    assert demo.process.stdout is not None
    assert demo.process.stdout.read() == ""
    code = demo.stop()
    assert code == 2
    assert "error: the LND simulator exited with code" in demo.errors()


def test_demo_waits_for_a_first_sync_that_outlives_the_request_deadline(workdir: Path):
    # A deadline of 0 answers every sync with 202 and a job, as a slow first sync of a hub does (11-12 s
    # under load against the 10 s default): the demo follows the job instead of failing on the 202 body.
    demo = Demo(workdir, free_port(), extra_env={"MCP_REQUEST_DEADLINE_S": "0"})
    try:
        banner = demo.wait_banner()
        assert "mode shadow" in banner["node"]
        assert re.search(r"\b[1-9]\d* channels\b", banner["node"]), banner
    finally:
        assert demo.stop() == 0, demo.errors()
