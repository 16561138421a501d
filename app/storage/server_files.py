"""Where an embedded nx-27017 keeps its databases, log and pid file."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

TAIL_LINES = 20
_TAIL_BYTES = 8192
_LOG_NAME = "mongo.log"


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
        """Directory of the log and pid files (None: in memory and not prepared, or cleaned up)."""
        return self.data_dir if self.data_dir is not None else self._temporary

    @property
    def log_file(self) -> Path | None:
        """The server's log."""
        return None if self.work_dir is None else self.work_dir / _LOG_NAME

    def prepare(self) -> Path:
        """Create the directories (0700) and return the work directory."""
        if self.data_dir is not None:
            (self.data_dir / "mongo").mkdir(mode=0o700, parents=True, exist_ok=True)
            return self.data_dir
        if self._temporary is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="mcp-mongo-"))
        return self._temporary

    def arguments(self, work_dir: Path) -> list[str]:
        """nx-27017 arguments for these files; `work_dir` is what `prepare` returned."""
        # `--data-dir memory` gives each logical database its own in-memory SQLite (tests drop them freely).
        databases = "memory" if self.data_dir is None else str(self.data_dir / "mongo")
        # The server refuses to start while the pid in its pid file is alive: one server per files.
        pid_file = work_dir / "mongo.pid"
        # In the foreground nx-27017 logs every record to stderr as well as to --log-file. Stderr, which
        # `open_log` captures, also holds what comes before logging is set up (argument errors, "already
        # running", tracebacks), so it alone is the log and --log-file would only write each line twice.
        return ["--data-dir", databases, "--log-file", os.devnull, "--pid-file", str(pid_file)]

    def open_log(self, work_dir: Path) -> IO[bytes]:
        """The log, opened for the process's stdout and stderr; `work_dir` is what `prepare` returned."""
        return (work_dir / _LOG_NAME).open("ab")

    def tail(self) -> str:
        """The last lines of the log, for an error message."""
        log_file = self.log_file
        if log_file is None:
            return "(no output)"
        try:
            with log_file.open("rb") as handle:
                handle.seek(max(0, log_file.stat().st_size - _TAIL_BYTES))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no output)"
        last = [line for line in text.splitlines() if line.strip()][-TAIL_LINES:]
        return "\n".join(last) or "(no output)"

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
