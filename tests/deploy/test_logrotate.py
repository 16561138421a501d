"""The logrotate rules with the real logrotate: `-d` accepts them, and a forced rotation in a temporary tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.deploy.stack import Nginx, run_script, wait_until

LOGROTATE = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin:/sbin")
pytestmark = [pytest.mark.deploy, pytest.mark.skipif(LOGROTATE is None, reason="logrotate is not installed")]


def install_rules(prefix: Path, **settings: str) -> Path:
    """scripts/setup_logrotate.sh into `prefix`, as the current user."""
    me = {"MCP_LOG_USER": _user(), "MCP_LOG_GROUP": _group(), "MCP_NGINX_LOG_GROUP": _group()}
    run_script(["bash", "scripts/setup_logrotate.sh", "--prefix", str(prefix)], env={**me, **settings})
    return prefix / "etc" / "logrotate.d" / "mcp-api"


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _group() -> str:
    import grp

    return grp.getgrgid(os.getgid()).gr_name


def rotate(rules: Path, state: Path, force: bool = True) -> str:
    """One logrotate run with its own state file."""
    assert LOGROTATE is not None
    command = [LOGROTATE, "-v", "-s", str(state), *(["-f"] if force else []), str(rules)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_rules_are_daily_30_days_compressed_100_mb(tmp_path):
    rules = install_rules(tmp_path).read_text()
    for directive in ("daily", "rotate 30", "maxage 30", "maxsize 100M", "compress", "copytruncate"):
        assert f"    {directive}\n" in rules, directive
    assert "kill -USR1" in rules


def test_setup_refuses_rules_logrotate_rejects(tmp_path):
    result = subprocess.run(
        ["bash", "scripts/setup_logrotate.sh", "--prefix", str(tmp_path)],
        env={**os.environ, "MCP_LOG_USER": "no-such-user-mcp", "MCP_LOG_GROUP": "no-such-group-mcp"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "unknown user" in result.stdout + result.stderr


def test_forced_rotation_copytruncate_and_compress(tmp_path):
    rules = install_rules(tmp_path)
    log_dir = tmp_path / "var" / "log" / "mcp"
    api_log = log_dir / "api.log"
    # The writer keeps its descriptor, as the service does: copytruncate must leave it writing to api.log.
    with api_log.open("a") as writer:
        writer.write("first line\n")
        writer.flush()
        first = rotate(rules, tmp_path / "state")
        writer.write("after rotation\n")
        writer.flush()
    assert sorted(path.name for path in log_dir.glob("api.log.*")) == ["api.log.1"], first
    assert (log_dir / "api.log.1").read_text() == "first line\n"
    assert api_log.read_text().lstrip("\0") == "after rotation\n"
    # Second rotation: the first one is compressed now (delaycompress), and the limit is checked.
    rotate(rules, tmp_path / "state")
    assert sorted(path.name for path in log_dir.glob("api.log.*")) == ["api.log.1", "api.log.2.gz"]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_reopens_its_log_after_rotation(tmp_path):
    nginx = Nginx(tmp_path / "nginx")
    log_dir = tmp_path / "var" / "log" / "mcp"
    (log_dir / "nginx").mkdir(parents=True)
    access = log_dir / "nginx" / "site.access.log"
    site = tmp_path / "site.conf"
    site.write_text(
        f"server {{ listen 127.0.0.1:{nginx.http_port}; listen 127.0.0.1:{nginx.https_port};\n"
        f"  access_log {access}; location / {{ return 200 'ok'; }} }}\n"
    )
    nginx.write_main_conf(site)
    rules = install_rules(tmp_path, MCP_NGINX_PID=str(nginx.prefix / "nginx.pid"))
    try:
        nginx.start()
        httpx.get(f"http://127.0.0.1:{nginx.http_port}/before", timeout=5)
        wait_until(lambda: "/before" in access.read_text(), 5, "the first log line")
        rotate(rules, tmp_path / "state")
        httpx.get(f"http://127.0.0.1:{nginx.http_port}/after", timeout=5)
        # After USR1, nginx writes to a new file at the same path; the old lines are in the rotated one.
        wait_until(
            lambda: access.exists() and "/after" in access.read_text(), 5, "nginx to write the new file"
        )
    finally:
        nginx.stop()
    assert "/before" in (log_dir / "nginx" / "site.access.log.1").read_text()
    assert "/before" not in access.read_text()
