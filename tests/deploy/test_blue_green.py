"""scripts/deploy_docker_production.sh's blue/green switch, for real: two API processes behind the real nginx."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.serving import free_port
from tests.deploy.stack import (
    PROJECT,
    Nginx,
    RequestLoop,
    generate_certs,
    run_script,
    service_env,
    wait_until,
)

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        shutil.which("nginx") is None, reason="nginx is not installed (make test-deploy installs it)"
    ),
]
RUNNER = PROJECT / "tests" / "deploy" / "process_colour.sh"


@dataclass
class Stage:
    """nginx, the colours' runner folder, and the deploy script's settings."""

    nginx: Nginx
    certs: Path
    runner_dir: Path
    upstream: Path
    state: Path
    ports: dict[str, int]

    @property
    def url(self) -> str:
        """The public HTTPS URL."""
        return f"https://localhost:{self.nginx.https_port}"

    def env(self, health_timeout_s: int) -> dict[str, str]:
        """The deploy script's settings for this stage."""
        assert self.nginx.process is not None
        nginx = " ".join(self.nginx.command())
        return {
            "MCP_COLOUR_RUNNER": f"sh {RUNNER}",
            "MCP_RUNNER_DIR": str(self.runner_dir),
            "MCP_PROJECT": str(PROJECT),
            "MCP_BLUE_PORT": str(self.ports["blue"]),
            "MCP_GREEN_PORT": str(self.ports["green"]),
            "MCP_NGINX_UPSTREAM": str(self.upstream),
            "MCP_NGINX_TEST": f"{nginx} -t",
            "MCP_NGINX_RELOAD": f"kill -HUP {self.nginx.process.pid}",
            "MCP_PUBLIC_URL": self.url,
            "MCP_CURL_OPTIONS": f"--cacert {self.certs / 'ca.crt'}",
            "MCP_DEPLOY_STATE": str(self.state),
            "MCP_HEALTH_TIMEOUT_S": str(health_timeout_s),
            "MCP_DRAIN_S": "2",
            "PATH": f"{PROJECT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }

    def deploy(
        self, tag: str, health_timeout_s: int = 60, **settings: str
    ) -> subprocess.CompletedProcess[str]:
        """One run of the deploy script (tests and build are the CI's; here the "image" is a settings file)."""
        command = [
            "bash",
            "scripts/deploy_docker_production.sh",
            "--skip-tests",
            "--skip-build",
            "--tag",
            tag,
        ]
        return subprocess.run(
            command,
            cwd=PROJECT,
            env={**os.environ, **self.env(health_timeout_s), **settings},
            capture_output=True,
            text=True,
            timeout=180,
        )

    def pid(self, colour: str) -> int:
        """The pid the runner recorded for a colour."""
        return int((self.runner_dir / f"{colour}.pid").read_text())

    def served_by(self) -> str:
        """The upstream address in the upstream file."""
        match = re.search(r"server (127\.0\.0\.1:\d+)", self.upstream.read_text())
        assert match, self.upstream.read_text()
        return match.group(1)


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, mongo_url: str, redis_url: str) -> Iterator[Stage]:
    """nginx in front of the blue colour, running the good "image"; the deploy script goes from there."""
    root = tmp_path_factory.mktemp("bluegreen")
    certs = generate_certs(root / "certs")
    runner_dir = root / "runner"
    runner_dir.mkdir()
    database = f"mcp_deploy_{secrets.token_hex(6)}"
    good = service_env(root, mongo_url, redis_url, database)
    corrupt = root / "corrupt-graph.json"
    corrupt.write_text('{"nodes": [')
    for tag, env in (("good", good), ("broken", {**good, "MCP_GRAPH_FILE": str(corrupt)})):
        lines = "".join(f"{key}={value}\n" for key, value in env.items() if key.startswith("MCP_"))
        (runner_dir / f"{tag}.env").write_text(lines)
        (runner_dir / f"{tag}.env").chmod(0o600)
    ports = {"blue": free_port(), "green": free_port()}
    nginx = Nginx(root / "prefix")
    run_script(
        ["bash", "scripts/configure_nginx_production.sh", "--prefix", str(nginx.prefix)],
        env={
            "MCP_UPSTREAMS": f"127.0.0.1:{ports['blue']}",
            "MCP_HTTP_PORT": str(nginx.http_port),
            "MCP_HTTPS_PORT": str(nginx.https_port),
            "MCP_TLS_CERT": str(certs / "server.crt"),
            "MCP_TLS_KEY": str(certs / "server.key"),
        },
    )
    nginx.write_main_conf(nginx.prefix / "etc" / "nginx" / "sites-available" / "mcp-api.conf")
    stage = Stage(
        nginx,
        certs,
        runner_dir,
        nginx.prefix / "etc" / "nginx" / "mcp-api" / "upstream.conf",
        root / "colour",
        ports,
    )
    run_env = {
        **os.environ,
        "PATH": good["PATH"],
        "MCP_RUNNER_DIR": str(runner_dir),
        "MCP_PROJECT": str(PROJECT),
    }
    try:
        subprocess.run(
            ["sh", str(RUNNER), "start", "blue", str(ports["blue"]), "mcp-api:good"], env=run_env, check=True
        )
        stage.state.write_text("blue\n")
        nginx.start()
        context = ssl.create_default_context(cafile=certs / "ca.crt")

        def blue_ready() -> bool:
            assert alive(stage.pid("blue")), (runner_dir / "blue.log").read_text()
            return RequestLoop(stage.url).ready(context)

        wait_until(blue_ready, 90, "blue behind nginx")
        yield stage
    finally:
        nginx.stop()
        for pid_file in runner_dir.glob("*.pid"):  # the processes the runner started for us
            pid = int(pid_file.read_text())
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_switch_to_green_under_load_fails_no_request(stage):
    blue = stage.pid("blue")
    with RequestLoop(
        stage.url + "/ready", verify=ssl.create_default_context(cafile=stage.certs / "ca.crt")
    ) as loop:
        wait_until(lambda: loop.total >= 30, 30, "requests before the switch")
        before = loop.total
        result = stage.deploy("good")
        during = loop.total - before
        wait_until(lambda: loop.total >= before + during + 50, 30, "requests after the switch")
    output = result.stdout + result.stderr
    print(
        f"\nblue/green switch blue -> green under load ({during} requests during the deploy): {loop.summary()}"
    )
    assert result.returncode == 0, output
    assert not loop.failures, loop.failures[:5]
    assert stage.state.read_text().strip() == "green"
    assert stage.served_by() == f"127.0.0.1:{stage.ports['green']}"
    assert not alive(blue), "the old colour is stopped after the drain"
    assert "green is live" in output


def test_a_new_colour_failing_its_health_check_is_rolled_back(stage):
    assert stage.state.read_text().strip() == "green", "runs after the switch"
    with RequestLoop(
        stage.url + "/ready", verify=ssl.create_default_context(cafile=stage.certs / "ca.crt")
    ) as loop:
        wait_until(lambda: loop.total >= 30, 30, "requests before the deploy")
        result = stage.deploy("broken", health_timeout_s=6)
        after = loop.total
        wait_until(lambda: loop.total >= after + 30, 30, "requests after the rollback")
    output = result.stdout + result.stderr
    print(f"\nblue/green deploy of a release failing /ready: exit {result.returncode}, {loop.summary()}")
    assert result.returncode == 1, output
    assert "ROLLBACK: blue did not become ready within 6 s; green keeps serving" in output
    assert stage.state.read_text().strip() == "green"
    assert stage.served_by() == f"127.0.0.1:{stage.ports['green']}"
    assert not alive(stage.pid("blue")), "the failed colour is stopped"
    assert alive(stage.pid("green"))
    assert not loop.failures, loop.failures[:5]


def test_a_switch_nginx_cannot_serve_is_reverted(stage):
    # The new colour is ready, but the check through nginx fails (here: the public URL does not answer):
    # the upstream file and nginx go back to the live colour, and the new one is stopped.
    upstream_before = stage.upstream.read_text()
    unreachable = f"https://localhost:{free_port()}"
    with RequestLoop(
        stage.url + "/ready", verify=ssl.create_default_context(cafile=stage.certs / "ca.crt")
    ) as loop:
        wait_until(lambda: loop.total >= 30, 30, "requests before the deploy")
        result = stage.deploy("good", MCP_PUBLIC_URL=unreachable)
        after = loop.total
        wait_until(lambda: loop.total >= after + 30, 30, "requests after the revert")
    output = result.stdout + result.stderr
    print(
        f"\nblue/green switch reverted after a failed check through nginx: exit {result.returncode}, "
        f"{loop.summary()}"
    )
    assert result.returncode == 1, output
    assert "ROLLBACK: nginx could not serve blue; back to green" in output
    assert stage.upstream.read_text() == upstream_before
    assert stage.state.read_text().strip() == "green"
    assert not alive(stage.pid("blue")) and alive(stage.pid("green"))
    assert not loop.failures, loop.failures[:5]


def test_dry_run_changes_nothing(stage, tmp_path):
    upstream_before, state_before = stage.upstream.read_text(), stage.state.read_text()
    result = subprocess.run(
        [
            "bash",
            "scripts/deploy_docker_production.sh",
            "--dry-run",
            "--tag",
            "good",
            "--push",
            "registry.invalid:5000",
        ],
        cwd=PROJECT,
        env={**os.environ, **stage.env(5)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for step in (
        "$ make test",
        "$ docker build --file",
        "start blue",
        "upstream -> 127.0.0.1:",
        "$ docker push",
    ):
        assert step in output, output
    assert stage.upstream.read_text() == upstream_before and stage.state.read_text() == state_before
