"""The image's install steps replayed outside Docker: its build context, then deploy/install_app.sh in a fresh venv.

The install takes a minute (pip, with hashes, from scratch), so the deploy suite starts it in the background
as soon as the session begins and the recipe test collects its result.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.deploy.stack import PROJECT

DOCKERFILE = PROJECT / "Dockerfile.production"
INSTALL_TIMEOUT_S = 600


def stages(text: str) -> dict[str, list[str]]:
    """Instructions of each build stage by its name (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result: dict[str, list[str]] = {}
    current = ""
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = line.split()[-1]
            result[current] = []
        elif current:
            result[current].append(line)
    return result


def build_context(root: Path) -> Path:
    """What the builder stage sees: the committed tree (as CI's clone has it), filtered by its COPY lines."""
    context = root / "context"
    context.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=PROJECT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(context)], input=archive.stdout, check=True)
    source = root / "src"
    for step in stages(DOCKERFILE.read_text())["builder"]:
        if step.startswith("COPY "):
            *paths, target = step.split()[1:]
            for path in paths:
                destination = source / target / Path(path).name if target.endswith("/") else source / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                copy = shutil.copytree if (context / path).is_dir() else shutil.copy2
                copy(context / path, destination)
    for cache in source.rglob("__pycache__"):
        shutil.rmtree(cache)
    return source


class RecipeInstall:
    """deploy/install_app.sh running in the background into `root/opt-mcp`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = build_context(root)
        self.venv = root / "opt-mcp"
        self._log = (root / "install.log").open("wb")
        self._process = subprocess.Popen(
            ["sh", str(self.source / "deploy" / "install_app.sh"), str(self.venv), str(self.source)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def result(self) -> tuple[int, str]:
        """Wait for the install: its exit code and output."""
        code = self._process.wait(timeout=INSTALL_TIMEOUT_S)
        self._log.close()
        return code, (self.root / "install.log").read_text(errors="replace")

    def stop(self) -> None:
        """End the install if it still runs (a session that ended early)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)
        self._log.close()
