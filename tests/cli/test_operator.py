"""The operator CLI as a person or a script runs it: subprocesses against a real API process over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.cli.operator.client import ExitCode
from app.serving import free_port
from app.settings import PROJECT_ROOT
from tests.cli.operator_api import ApiProcess, running_api
from tests.storage.conftest import mongo_url  # noqa: F401  (session fixture)

pytestmark = pytest.mark.timeout(240)


@dataclass
class Run:
    """One finished command."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


@dataclass
class Cli:
    """Runs `python -m app ...` with the API's URL in the environment and a role's key file."""

    api: ApiProcess
    outputs: list[str]

    def __call__(self, *words: str, role: str | None = "admin", env: dict[str, str] | None = None) -> Run:
        """Run one command and keep what it printed for the final secret check."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MCP_API")}
        environment["MCP_API_URL"] = self.api.url
        if role is not None:
            environment["MCP_API_KEY_FILE"] = str(self.api.key_files[role])
        environment.update(env or {})
        done = subprocess.run(
            [sys.executable, "-m", "app", *words], cwd=PROJECT_ROOT, env=environment,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        self.outputs += [done.stdout, done.stderr]
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *words: str, role: str | None = "admin") -> Run:
        """Run a command that must succeed."""
        run = self(*words, role=role)
        assert run.code == 0, f"{words}: {run.code}\n{run.stdout}\n{run.stderr}"
        return run


def wait_listening(port: int, process: subprocess.Popen[bytes], deadline_s: float = 20.0) -> None:
    """Poll until something accepts connections on 127.0.0.1:`port`; fail if `process` exits first."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port} after {deadline_s:.0f} s")


def on_a_terminal(cli: Cli, answer: str, *words: str) -> Run:
    """Run a command with a pseudo-terminal as stdin, stdout and stderr, typing `answer` (operator key)."""
    leader, follower = os.openpty()
    environment = {
        **os.environ,
        "MCP_API_URL": cli.api.url,
        "MCP_API_KEY_FILE": str(cli.api.key_files["operator"]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *words], cwd=PROJECT_ROOT, env=environment,
        stdin=follower, stdout=follower, stderr=follower, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    os.write(leader, answer.encode())  # the line waits in the terminal until the prompt reads it
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: every holder of the terminal's other end has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    cli.outputs.append(text)
    return Run(process.wait(timeout=60), text, "")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, mongo_url: str) -> Iterator[ApiProcess]:  # noqa: F811
    """One API process for the module."""
    with running_api(tmp_path_factory.mktemp("operator-cli"), mongo_url) as running:
        yield running


@pytest.fixture(scope="module")
def cli(api: ApiProcess) -> Iterator[Cli]:
    """The CLI runner; after the module, no key or macaroon appeared in anything it printed."""
    runner = Cli(api, [])
    yield runner
    printed = "\n".join(runner.outputs)
    assert printed, "no command ran"
    for secret in api.every_secret():
        assert secret not in printed


def test_status_configuration_errors_and_an_unreachable_api(cli: Cli, api: ApiProcess, tmp_path: Path):
    anonymous = cli.ok("status", role=None)
    assert "status  ready" in anonymous.stdout and "(no API key given" in anonymous.stdout
    assert cli.ok("status", "--json", role=None).json()["ready"]["status"] == "ready"

    missing = cli("nodes", "list", role=None)
    assert missing.code == ExitCode.USAGE and "no API key" in missing.stderr and not missing.stdout
    loose = tmp_path / "loose.key"
    loose.write_text(api.keys["viewer"])
    loose.chmod(0o644)
    refused = cli("nodes", "list", "--key-file", str(loose), role=None)
    assert refused.code == ExitCode.USAGE and "chmod 600" in refused.stderr
    bad_url = cli("nodes", "list", "--api-url", "ftp://example")
    assert bad_url.code == ExitCode.USAGE and "http://" in bad_url.stderr

    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = cli("status", "--api-url", nobody)
    assert (
        unreachable.code == ExitCode.UNREACHABLE and f"cannot reach the API at {nobody}" in unreachable.stderr
    )
    by_env = cli("nodes", "list", env={"MCP_API_URL": nobody, "MCP_API_KEY": api.keys["viewer"]}, role=None)
    assert by_env.code == ExitCode.UNREACHABLE

    assert cli("nodes", "list", "--limit", "0").code == ExitCode.USAGE  # argparse: must be at least 1
    no_macaroon = cli("nodes", "add", "--name", "x", "--url", api.simulator["url"])
    assert no_macaroon.code == ExitCode.USAGE and "--macaroon-file" in no_macaroon.stderr
    mixed = cli("nodes", "add", "--name", "x", "--url", api.simulator["url"], "--backend", "lnbits",
                "--macaroon-file", api.simulator["fees_macaroon"])  # fmt: skip
    assert mixed.code == ExitCode.USAGE and "--admin-token-file" in mixed.stderr

    # Another service on the port: a static file server that answers /ready with text, and 404 elsewhere.
    (tmp_path / "ready").write_text("hello")
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port, other)
        not_json = cli("status", "--api-url", f"http://127.0.0.1:{port}")
        assert not_json.code == ExitCode.SERVER_ERROR and "is not JSON" in not_json.stderr, not_json
        elsewhere = cli("nodes", "list", "--api-url", f"http://127.0.0.1:{port}")
        assert elsewhere.code == ExitCode.NOT_FOUND and elsewhere.stderr.startswith("error: 404"), elsewhere
    finally:
        other.terminate()
        other.wait(timeout=10)

    wrong_key = cli("nodes", "list", env={"MCP_API_KEY": "not-a-key-of-this-service"}, role=None)
    assert wrong_key.code == ExitCode.REFUSED and wrong_key.stderr.startswith("error: 401")
    assert "not-a-key-of-this-service" not in wrong_key.stderr + wrong_key.stdout


def test_an_operator_walks_a_node_from_registration_to_rollback(cli: Cli, api: ApiProcess, tmp_path: Path):
    hex_macaroon = tmp_path / "fees.macaroon.hex"  # LND writes binary; `lncli bakemacaroon` prints hex
    hex_macaroon.write_text(Path(api.simulator["fees_macaroon"]).read_bytes().hex().upper() + "\n")
    added = cli.ok(
        "nodes", "add", "--name", "edge-1", "--url", api.simulator["url"], "--profile", "conservative",
        "--macaroon-file", str(hex_macaroon), "--tls-cert-file", api.simulator["tls_cert"], "--json",
    ).json()  # fmt: skip
    node_id = added["node"]["id"]
    assert added["node"]["tls_cert_pinned"] and added["node"]["settings"]["profile"] == "conservative"
    listed = cli.ok("nodes", "list", role="viewer").stdout.splitlines()
    assert listed[0].split() == ["ID", "NAME", "BACKEND", "MODE", "PROFILE", "LAST", "SYNC", "LAST", "ERROR"]
    assert [line.split()[:4] for line in listed[1:]] == [[node_id, "edge-1", "lnd", "shadow"]]

    synced = cli.ok("nodes", "sync", node_id, role="operator")
    channels = int(dict(line.split(None, 1) for line in synced.stdout.splitlines())["channels"])
    assert channels > 0 and f"/{channels} " in synced.stderr and "sync: succeeded in" in synced.stderr
    redrawn = on_a_terminal(cli, "", "nodes", "sync", node_id)  # the bar is redrawn in place on a terminal
    assert redrawn.code == 0 and f"\x1b[K\rsync [{'#' * 24}] {channels}/{channels}" in redrawn.stdout
    # The macaroon as LND writes it (binary) works as well as hex: the second node syncs the same channels.
    second = cli.ok(
        "nodes", "add", "--name", "edge-2", "--url", api.simulator["url"], "--get", "node.id",
        "--macaroon-file", api.simulator["fees_macaroon"], "--tls-cert-file", api.simulator["tls_cert"],
    ).stdout.strip()  # fmt: skip
    assert cli.ok("nodes", "sync", second, "--get", "channels", role="operator").stdout.strip() == str(
        channels
    )
    shadow = cli.ok("nodes", "optimize", node_id, "--mode", "shadow", "--json", role="operator").json()
    assert shadow["mode"] == "shadow" and shadow["execution"] is None and shadow["channels"] == channels

    waiting = cli.ok(
        "decisions", "list", node_id, "--status", "needs_approval", "--json", role="viewer"
    ).json()
    assert len(waiting) >= 2 and {d["status"] for d in waiting} == {"needs_approval"}
    table = cli.ok("decisions", "list", node_id, "--status", "needs_approval", role="viewer").stdout
    assert all(d["id"] in table for d in waiting) and "->" in table
    viewer = cli("decisions", "approve", waiting[0]["id"], role="viewer")
    assert viewer.code == ExitCode.REFUSED and "403" in viewer.stderr and "operator" in viewer.stderr
    assert (
        cli.ok("decisions", "approve", waiting[0]["id"], "--json", role="operator").json()["status"]
        == "approved"
    )
    assert "status       rejected" in cli.ok("decisions", "reject", waiting[1]["id"], role="operator").stdout
    again = cli("decisions", "approve", waiting[1]["id"], role="operator")
    assert again.code == ExitCode.REFUSED and "cannot be approved" in again.stderr

    status = cli.ok("rollout", "status", node_id, role="viewer").stdout
    assert (
        "stage            shadow" in status and "shadow_cycles" in status and "may promote      yes" in status
    )
    assert cli("rollout", "promote", node_id, role="viewer").code == ExitCode.REFUSED
    promoted = cli.ok(
        "rollout", "promote", node_id, "--reason", "shadow looked fine", "--json", role="operator"
    )
    assert promoted.json()["stage"] == "canary_1"

    configured = cli.ok(
        "nodes", "configure", node_id, "--limit", "daily_cap=40", "--json", role="operator"
    ).json()
    assert configured["limits"] == {"daily_cap": 40} and configured["profile"] == "conservative"
    assert cli.ok("nodes", "settings", node_id, "--get", "limits.daily_cap", role="viewer").stdout == "40\n"
    assert "limit daily_cap    40" in cli.ok("nodes", "settings", node_id, role="viewer").stdout
    too_far = cli("nodes", "configure", node_id, "--mode", "live", role="operator")
    assert too_far.code == ExitCode.REFUSED and "mode_not_allowed" in too_far.stderr
    assert cli("nodes", "configure", node_id, "--limit", "daily_cap", role="operator").code == ExitCode.USAGE
    reset = cli.ok("nodes", "configure", node_id, "--limit", "daily_cap=default", "--json", role="operator")
    assert reset.json()["limits"] == {} and reset.json()["mode"] == "shadow"

    canary = cli.ok("nodes", "optimize", node_id, "--mode", "canary", "--json", role="operator").json()
    [canary_channel] = canary["execution"]["canary_channels"]
    pending = cli.ok("decisions", "list", node_id, "--status", "needs_approval", "--json").json()
    [mine] = [d for d in pending if d["cycle_id"] == canary["cycle_id"]]
    assert mine["chan_id"] == canary_channel
    applied = cli.ok("decisions", "approve", mine["id"], "--json", role="operator").json()
    assert applied["status"] == "applied" and applied["transaction_id"]

    transactions = cli.ok("transactions", "list", node_id, "--json", role="viewer").json()
    assert [(t["id"], t["state"], t["outcomes"]) for t in transactions] == [
        (applied["transaction_id"], "committed", {"applied": 1})
    ]
    assert (
        cli.ok("transactions", "list", node_id, "--get", "0.id").stdout.strip() == applied["transaction_id"]
    )
    no_field = cli("transactions", "list", node_id, "--get", "0.no_such_field")
    assert no_field.code == ExitCode.USAGE and "no field '0.no_such_field'" in no_field.stderr
    shown = cli.ok("transactions", "show", applied["transaction_id"], role="viewer").stdout
    assert "state           committed" in shown and canary_channel in shown and " -> " in shown

    unconfirmed = cli("transactions", "rollback", applied["transaction_id"], role="operator")
    assert unconfirmed.code == ExitCode.USAGE and "--yes" in unconfirmed.stderr
    declined = on_a_terminal(cli, "n\n", "transactions", "rollback", applied["transaction_id"])
    assert (
        declined.code == ExitCode.REFUSED
        and "[y/N]" in declined.stdout
        and "nothing was changed" in declined.stdout
    )
    assert cli.ok("transactions", "list", node_id, "--json").json()[0]["rolled_back_by"] == []
    assert (
        cli("transactions", "rollback", applied["transaction_id"], "--yes", role="viewer").code
        == ExitCode.REFUSED
    )
    rolled = cli.ok(
        "transactions", "rollback", applied["transaction_id"], "--yes", "--json", role="operator"
    ).json()
    assert rolled["state"] == "committed" and rolled["outcomes"] == {"applied": 1}, rolled
    original = cli.ok("transactions", "show", applied["transaction_id"], "--json").json()
    assert original["rolled_back_by"] == [rolled["transaction_id"]]

    backups = cli.ok("nodes", "backups", node_id, "--json", role="viewer").json()
    assert backups and all(b["node_id"] == node_id for b in backups)
    oldest = backups[-1]
    restored = cli.ok("backups", "restore", node_id, oldest["id"], "--yes", role="operator").stdout
    assert restored.startswith("transaction")

    overview = cli.ok("status", role="viewer").stdout
    assert node_id in overview and "canary_1" in overview and "closed" in overview


def test_what_does_not_exist_is_exit_4(cli: Cli):
    for words in (
        ("nodes", "sync", "no-such-node"),
        ("rollout", "status", "no-such-node"),
        ("decisions", "show", "no-such-decision"),
        ("transactions", "show", "no-such-transaction"),
        ("nodes", "backups", "no-such-node"),
    ):
        run = cli(*words)
        assert run.code == ExitCode.NOT_FOUND and "404 not_found" in run.stderr and not run.stdout, words
