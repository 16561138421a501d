"""Where an embedded nx-27017 keeps its databases, log, pid file and console output."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import IO

TAIL_LINES = 20
_TAIL_BYTES = 8192


class ServerFiles:
    """Files of one embedded server: under the data directory, or a temporary one for in-memory databases.

    Directories are created by `prepare` only, never by reading a path, so nothing is left behind once
    `cleanup` has removed the temporary directory.
    """

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir.expanduser().resolve() if data_dir is not None else None
        self._temporary: Path | None = None

    @property
    def in_memory(self) -> bool:
        """No database files: everything is lost when the server stops."""
        return self.data_dir is None

    @property
    def work_dir(self) -> Path | None:
        """Directory of the log, pid and console files (None: in memory and not prepared, or cleaned up)."""
        return self.data_dir if self.data_dir is not None else self._temporary

    @property
    def log_file(self) -> Path | None:
        """The server's log."""
        return None if self.work_dir is None else self.work_dir / "mongo.log"

    def prepare(self) -> Path:
        """Create the directories (0700) and return the work directory."""
        if self.data_dir is not None:
            (self.data_dir / "mongo").mkdir(mode=0o700, parents=True, exist_ok=True)
            return self.data_dir
        if self._temporary is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="mcp-mongo-"))
        return self._temporary

    def arguments(self) -> list[str]:
        """nx-27017 arguments for these files (prepares them first)."""
        work_dir = self.prepare()
        # `--data-dir memory` gives each logical database its own in-memory SQLite (tests drop them freely).
        databases = "memory" if self.data_dir is None else str(self.data_dir / "mongo")
        # The server refuses to start while the pid in its pid file is alive: one server per files.
        pid_file = work_dir / "mongo.pid"
        return [
            "--data-dir",
            databases,
            "--log-file",
            str(work_dir / "mongo.log"),
            "--pid-file",
            str(pid_file),
        ]

    def open_console(self) -> IO[bytes]:
        """The file for the process's stdout and stderr (errors from before its logging is set up)."""
        return (self.prepare() / "mongo.console.log").open("ab")

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of the log and of the console output, for an error message."""
        work_dir = self.work_dir
        if work_dir is None:
            return "(no output)"
        parts = []
        for path in (work_dir / "mongo.log", work_dir / "mongo.console.log"):
            try:
                with path.open("rb") as handle:
                    handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
                    text = handle.read().decode("utf-8", errors="replace")
            except OSError:
                continue
            last = [line for line in text.splitlines() if line.strip()][-lines:]
            if last:
                parts.append(f"[{path.name}]\n" + "\n".join(last))
        return "\n".join(parts) or "(no output)"

    def cleanup(self, pid: int | None) -> None:
        """After a stop: drop a pid file a killed server left behind, and the temporary directory."""
        work_dir = self.work_dir
        if work_dir is not None and pid is not None:
            pid_file = work_dir / "mongo.pid"
            with contextlib.suppress(OSError, ValueError):
                if int(pid_file.read_text().strip()) == pid:
                    pid_file.unlink()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
