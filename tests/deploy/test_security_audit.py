"""scripts/security_audit.py: passes on this repository, and catches each planted problem in a scratch one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.stack import PROJECT

pytestmark = pytest.mark.deploy
# Built at run time, so this file holds no private key or token for the audit to find.
PRIVATE_KEY = (
    "-----BEGIN "
    + "PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
)
MACAROON = "0201036c6e64" + "02f801030a10" * 8
BOT_TOKEN = "5123456789:" + "AA" + "Fq3xZ9kLmN0pQrS7tUvWxYz1AbCdEfGhI"


def audit(root: Path) -> tuple[int, str]:
    """Run the audit as CI does."""
    result = subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "security_audit.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def test_this_repository_passes():
    code, output = audit(PROJECT)
    print("\n" + output)
    assert code == 0, output
    assert "0 critical" in output
    assert "vulnerabilities:" in output, "the report says whether dependencies were checked"
    for check in ("git:", "cors:", "default-credentials:"):
        assert f"ok        {check}" in output, f"{check} says nothing"


def test_each_planted_problem_is_critical(tmp_path):
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "app" / "config.py").write_text(
        f'KEY = """{PRIVATE_KEY}"""\nMACAROON = "{MACAROON}"\nBOT = "{BOT_TOKEN}"\n'
        'api_key = "k9Fq2ZrT7vLx3MwP8sYb"\nDB = "mongodb://mcp:Zr8vQ2xLk4@db:27017/"\n'
    )
    (repo / "app" / "web.py").write_text(
        "app.add_middleware(CORSMiddleware, allow_origins=['*'], allow_credentials=True)\n"
    )
    (repo / "tests" / "test_x.py").write_text(f'MACAROON = "{MACAROON}"\n')
    (repo / ".env").write_text("MCP_REDIS_URL=redis://127.0.0.1:6379/0\n")
    (repo / "deploy.conf").write_text("mongodb_password = admin\n")
    (repo / "env.example").write_text("MCP_ADMIN_API_KEY=mcp_preset_admin\n")
    (repo / "node.macaroon").write_bytes(b"\x02\x01\x03lnd")
    (repo / "node.macaroon").chmod(0o644)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    code, output = audit(repo)
    assert code == 1, output
    expected = [
        "CRITICAL  secrets              app/config.py:1: a private key",
        "CRITICAL  secrets              app/config.py:5: an LND macaroon (hex)",
        "app/config.py:6: a Telegram bot token",
        "app/config.py:7: a literal api_key of 20 chars",
        "app/config.py:8: a password inside a URL",
        "WARNING   secrets              tests/test_x.py:1: an LND macaroon (hex)",
        "CRITICAL  git                  .env: tracked by git",
        "CRITICAL  git                  node.macaroon: tracked by git",
        "CRITICAL  permissions          node.macaroon: a secret file with mode 0644",
        "CRITICAL  cors                 app/web.py: any origin allowed with credentials",
        "CRITICAL  default-credentials  deploy.conf:1: a well-known default password",
        "CRITICAL  default-credentials  env.example:1: MCP_ADMIN_API_KEY preset in a file",
    ]
    for line in expected:
        assert line in output, f"{line!r} missing:\n{output}"
    for secret in (MACAROON, BOT_TOKEN, "k9Fq2ZrT7vLx3MwP8sYb", "Zr8vQ2xLk4", "mcp_preset_admin"):
        assert secret not in output, "a finding names its secret"
