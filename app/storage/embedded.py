"""The embedded database: nx-27017 (MongoDB wire protocol on SQLite) as a child process on 127.0.0.1.

The server runs in its own session, so a Ctrl-C meant for the service does not kill the database under
a shutdown still writing; we stop it ourselves (SIGTERM, then SIGKILL after a grace period). If the
service dies without stopping it, a watchdog thread in the child notices its parent is gone and stops
the server, so no orphan keeps the port and the SQLite files.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from app.errors import ConfigError, StorageUnavailableError
from app.serving import free_port
from app.storage.server_files import ServerFiles

HOST = "127.0.0.1"
_POLL_S = 0.05
_PROBE_TIMEOUT_MS = 250
_PORT_ATTEMPTS = 3
# Run by `python -c`: the watchdog, then nx-27017's own entry point with our arguments.
_LAUNCHER = """
import os, signal, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
from nx_27017.nx_27017 import main
sys.exit(main())
"""


def server_command() -> list[str]:
    """The command that starts nx-27017: this interpreter with its package, else its console script."""
    if importlib.util.find_spec("nx_27017") is not None:
        return [sys.executable, "-c", _LAUNCHER]
    beside = Path(sys.executable).parent / "nx-27017"
    script = str(beside) if beside.is_file() else shutil.which("nx-27017")
    if script is None:
        raise ConfigError(
            "the embedded database needs nx-27017, which is not installed: "
            "`pip install nx-27017`, or set MCP_MONGODB_URL to use a MongoDB server"
        )
    return [script]


class EmbeddedMongo:
    """One nx-27017 child process; `url` points a client at it once `start` has returned."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        command: Sequence[str] | None = None,
        startup_timeout_s: float = 20.0,
        stop_grace_s: float = 5.0,
    ) -> None:
        """Databases in `<data_dir>/mongo` (None: in memory, logs in a temporary directory)."""
        self._files = ServerFiles(data_dir)
        self._port = port
        self._fixed_port = port is not None
        self._command = list(command) if command is not None else None
        self._startup_timeout_s = startup_timeout_s
        self._stop_grace_s = stop_grace_s
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None  # the log, open as the process's stdout and stderr

    @property
    def in_memory(self) -> bool:
        """Databases live in the server's memory and vanish when it stops."""
        return self._files.in_memory

    @property
    def port(self) -> int:
        """The port, fixed at the first start and kept across restarts."""
        if self._port is None:
            raise StorageUnavailableError("the embedded database has not been started")
        return self._port

    @property
    def url(self) -> str:
        """mongodb:// URL of the server (no credentials: it listens on 127.0.0.1 only)."""
        return f"mongodb://{HOST}:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        """Process id of the running server."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """The child process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path | None:
        """The server's own log file (None for an in-memory server that is not running)."""
        return self._files.log_file

    async def start(self) -> str:
        """Start the server and return its URL once it answers `ping`; it is stopped again on failure."""
        if self.running:
            return self.url
        command = self._command if self._command is not None else server_command()
        attempts = 1 if self._fixed_port else _PORT_ATTEMPTS
        for _attempt in range(attempts):
            if not self._fixed_port:
                self._port = free_port(HOST)
            try:
                if await self._launch(command):
                    self._fixed_port = True  # clients hold the URL: a restart must come back on this port
                    return self.url
            except BaseException:
                await self.stop()  # cancelled or failed mid-start: no orphan server
                raise
        failure = self._failure(f"did not start on {HOST}:{self._port} (port taken, or it exited)")
        await self.stop()
        raise failure

    async def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after the grace period) and wait until it is gone."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) process never handles SIGTERM
                process.terminate()
                if not await _exited(process, self._stop_grace_s):
                    process.kill()
                    await _exited(process, 5.0)
        finally:
            if self._output is not None:
                self._output.close()
                self._output = None
            self._files.cleanup(process.pid if process is not None else None)

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        await self.stop()

    async def _spawn(self, command: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start one process on the current port, its stdout and stderr going to the log."""
        if self._output is not None:
            self._output.close()  # left open by an attempt that exited early
        try:
            work_dir = self._files.prepare()
            self._output = self._files.open_log(work_dir)
        except OSError as exc:
            raise ConfigError(f"cannot prepare the embedded database's files: {exc}") from exc
        arguments = [*command, *self._files.arguments(work_dir), "--host", HOST, "--port", str(self.port)]
        try:
            # Popen forks and execs: done in a thread so the event loop never waits on it.
            return await asyncio.to_thread(
                subprocess.Popen,
                arguments,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                cwd=work_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConfigError(f"cannot run the embedded database ({command[0]}): {exc.strerror}") from exc

    async def _launch(self, command: Sequence[str]) -> bool:
        """Start one process on the current port; False when it exited early (typically: port taken)."""
        self._process = await self._spawn(command)
        deadline = time.monotonic() + self._startup_timeout_s
        probe: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.url, serverSelectionTimeoutMS=_PROBE_TIMEOUT_MS, connectTimeoutMS=_PROBE_TIMEOUT_MS
        )
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    await probe.admin.command("ping")
                except PyMongoError:
                    await asyncio.sleep(_POLL_S)
                    continue
                answered_by = await self._answering_pid(probe)
                if answered_by == self.pid:
                    return True
                if answered_by is not None:
                    await self.stop()  # another server holds the port; ours could never bind it
                    return False
                await asyncio.sleep(_POLL_S)
        finally:
            await probe.close()
        # No stop here: start() stops the server on any error raised from a launch.
        raise self._failure(f"did not answer ping within {self._startup_timeout_s:.0f} s")

    async def _answering_pid(self, probe: AsyncMongoClient[dict[str, Any]]) -> int | None:
        """Pid of the server that answered (ours, or another one on the port we picked); None if unknown yet."""
        try:
            status = await probe.admin.command("serverStatus")
        except PyMongoError:
            return None
        pid = status.get("pid")
        return int(pid) if isinstance(pid, int) else None

    def _failure(self, what: str) -> StorageUnavailableError:
        """The start-up error with the last log lines (read before a stop removes a temporary log)."""
        log_file = self._files.log_file
        details = {} if self.in_memory or log_file is None else {"log_file": str(log_file)}
        return StorageUnavailableError(
            f"the embedded database (nx-27017) {what}; last log lines:\n{self._files.tail()}", details
        )

    def __repr__(self) -> str:
        where = "memory" if self.in_memory else str(self._files.data_dir)
        return f"EmbeddedMongo(data={where}, port={self._port}, pid={self.pid})"


async def _exited(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait (without blocking the loop) until the process has exited and been reaped."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True
