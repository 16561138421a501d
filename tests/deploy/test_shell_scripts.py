"""The deployment's shell scripts pass shellcheck (Debian's package, installed by make test-deploy)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.deploy.stack import PROJECT

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed"),
]
SCRIPTS = (
    "docker_entrypoint.sh",
    "start_api.sh",
    "scripts/generate_certs.sh",
    "scripts/configure_nginx_production.sh",
    "scripts/configure_systemd_autostart.sh",
    "scripts/setup_logrotate.sh",
    "scripts/deploy_docker_production.sh",
    "deploy/install_app.sh",
    "deploy/deploy_mcp.sh",
    "deploy/deploy_mcp_volume.sh",
    "tests/deploy/process_colour.sh",
)


def test_shellcheck_is_clean():
    result = subprocess.run(
        ["shellcheck", "--severity=info", *SCRIPTS], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_executable():
    for script in SCRIPTS:
        assert (PROJECT / script).stat().st_mode & 0o111, f"{script} is not executable"
