"""The image's recipe without a Docker engine: hadolint, and its install steps replayed in a fresh virtualenv."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.deploy.image_recipe import DOCKERFILE, stages
from tests.deploy.stack import PROJECT, ApiProcess, service_env

pytestmark = pytest.mark.deploy
HADOLINT = Path(sys.executable).parent / "hadolint"


def healthcheck_command() -> list[str]:
    """The runtime stage's HEALTHCHECK command (exec form)."""
    for step in stages(DOCKERFILE.read_text())["runtime"]:
        if step.startswith("HEALTHCHECK "):
            command: list[str] = json.loads(step[step.index("CMD ") + 4 :])
            return command
    raise AssertionError("no HEALTHCHECK in the runtime stage")


def test_dockerfile_is_hadolint_clean():
    result = subprocess.run([str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape():
    steps = stages(DOCKERFILE.read_text())
    assert list(steps) == ["builder", "runtime"], "two stages: builder, then runtime"
    runtime = " ".join(steps["runtime"])
    assert re.search(r"^USER 10001:10001$", "\n".join(steps["runtime"]), re.M), "non-root user"
    assert "HEALTHCHECK" in runtime and "/health" in runtime
    assert "STOPSIGNAL SIGTERM" in runtime and "org.opencontainers.image.version=" in runtime
    assert "COPY --from=builder /opt/mcp /opt/mcp" in runtime
    # No build tools in the final stage: nothing is installed there, only the builder's virtualenv copied.
    assert not re.search(r"\b(pip|apt-get|gcc|build-essential)\b", runtime.replace("/opt/mcp", ""))
    assert "RUN sh deploy/install_app.sh /opt/mcp /src" in steps["builder"]
    assert "--require-hashes" in (PROJECT / "deploy" / "install_app.sh").read_text()


def test_dockerignore_keeps_state_keys_venvs_and_tests_out():
    lines = (PROJECT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**", "everything is excluded unless listed"
    for kept_out in ("**/data", "**/*.key", "**/.venv*", "**/tests", "**/.env*", "**/*.macaroon"):
        assert kept_out in patterns


def test_every_requirement_is_pinned_with_a_hash():
    text = (PROJECT / "requirements-production.txt").read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2].strip())
    assert len(entries) > 40
    for entry in entries:
        assert re.match(r"^[a-z0-9._-]+==\S+ \\", entry), f"not pinned: {entry[:60]}"
        assert "--hash=sha256:" in entry, f"no hash: {entry[:60]}"


def test_recipe_installs_with_hashes_in_a_fresh_virtualenv_and_the_app_starts(
    tmp_path, mongo_url, redis_url, database, recipe_install
):
    code, output = recipe_install.result()
    assert code == 0, output
    assert "lightning-fee-control-plane 0.2.0" in output, output
    venv, source = recipe_install.venv, recipe_install.source
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    assert "setuptools" not in installed, "the build backend must not stay in the runtime"
    # Templates, stylesheets and other data files of the package must be installed with it (package data).
    tracked = subprocess.run(
        ["git", "ls-files", "app"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    site = next(venv.glob("lib/python3.*/site-packages"))
    missing = [
        name for name in tracked.stdout.split() if not name.endswith(".py") and not (site / name).exists()
    ]
    assert not missing, (
        f"not installed with the package: {missing[:5]}; declare them in pyproject.toml's "
        "[tool.setuptools.package-data]"
    )
    # Started the way the image starts it: the entry point, the virtualenv first on PATH, outside the tree.
    env = service_env(tmp_path, mongo_url, redis_url, database)
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env["MCP_THRESHOLDS_FILE"] = str(source / "config" / "decision_thresholds.yaml")
    workdir = tmp_path / "run"
    workdir.mkdir()
    api = ApiProcess(env, tmp_path / "api.log", cwd=workdir)
    healthcheck = healthcheck_command()
    try:
        api.start().wait_ready(timeout_s=90)
        version = httpx.get(api.url + "/openapi.json", timeout=10).json()["info"]["version"]
        assert version == "0.2.0", "the app must run from the installed package"
        # The image's HEALTHCHECK, run with the image's interpreter and port: healthy now...
        probe = {**env, "MCP_PORT": str(api.port)}
        assert subprocess.run(healthcheck, env=probe, capture_output=True, timeout=30).returncode == 0
    finally:
        api.stop()
    # ... and unhealthy once the service is gone.
    assert subprocess.run(healthcheck, env=probe, capture_output=True, timeout=30).returncode != 0
