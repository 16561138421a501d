"""A real LNbits 1.6.2 (in its own virtualenv) funded by the LND simulator over HTTPS, for backend tests.

LNbits needs pydantic 1, so it runs from `.venv-lnbits` (built by scripts/lnbits_venv.sh) as a child
process: uvicorn serving `lnbits.__main__:app` on a free loopback port, its data in a temporary folder,
its funding source `LndRestWallet` pointed at the simulator with the simulator's tls.cert and admin
macaroon. The simulator runs on its own event loop in a thread, so tests on any loop can call it and
read its node directly. The first-install step makes LNbits' super user and yields its Bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.security.private_files import write_private_file
from app.serving import free_port

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("LNBITS_VENV", REPO / ".venv-lnbits"))
VENV_SCRIPT = REPO / "scripts" / "lnbits_venv.sh"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
SUPER_USER = "mcp-super"
# Keep LNbits off the internet: no extension manifests, exchange rates or price aggregator.
OFFLINE = {
    "LNBITS_EXTENSIONS_MANIFESTS": "[]",
    "LNBITS_WASM_EXTENSIONS_MANIFESTS": "[]",
    "LNBITS_PRICE_AGGREGATOR_ENABLED": "false",
    "LNBITS_EXCHANGE_RATE_PROVIDERS": "[]",
}


def lnbits_python() -> Path:
    """The LNbits virtualenv's python, built first if needed; skips only when the package index is unreachable."""
    built = subprocess.run(
        ["bash", str(VENV_SCRIPT), str(VENV)], cwd=REPO, capture_output=True, text=True, check=False
    )
    unavailable = VENV / ".unavailable"
    if built.returncode == 0 and unavailable.exists():
        pytest.skip(f"real LNbits not installed: {unavailable.read_text().strip()}")
    if built.returncode != 0:
        pytest.fail(f"{VENV_SCRIPT.name} failed:\n{built.stdout[-2000:]}{built.stderr[-4000:]}")
    return VENV / "bin" / "python"


class SimulatorThread:
    """The LND simulator (HTTPS) on its own event loop in a daemon thread, for the length of a `with` block."""

    def __init__(self, node: SimulatedNode) -> None:
        self.node = node
        self._ready = threading.Event()
        self._handle: SimulatorHandle | None = None
        self._error: BaseException | None = None
        self._stop: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._thread = threading.Thread(target=self._run, name="lnd-simulator", daemon=True)

    def __enter__(self) -> SimulatorHandle:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError("the LND simulator did not start in time")
        if self._handle is None:
            raise RuntimeError("the LND simulator failed to start") from self._error
        return self._handle

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            loop, stop = self._stop
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the caller of __enter__
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        stop = asyncio.Event()
        async with running_simulator(self.node, tls=True) as handle:
            self._handle, self._stop = handle, (asyncio.get_running_loop(), stop)
            self._ready.set()
            await stop.wait()


@dataclass
class LnbitsServer:
    """A running LNbits child process and where it keeps its log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        """The end of LNbits' own log, for failure messages (it never logs our token or macaroon)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts LNbits down cleanly), then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)


def start_lnbits(python: Path, sim: SimulatorHandle, folder: Path) -> LnbitsServer:
    """Start LNbits on a free loopback port with the simulator as its LND funding source; wait until it serves."""
    assert sim.cert_pem is not None, "LNbits talks to LND over HTTPS only: start the simulator with tls=True"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tls.cert").write_bytes(sim.cert_pem)
    # LNbits reads a path ending in `.macaroon` itself, so the secret never sits in an environment variable.
    write_private_file(folder / "admin.macaroon", sim.macaroons.admin)
    # LNbits mounts `lnbits/static` relative to its working directory: give it one beside its data.
    package = next((VENV / "lib").glob("python3*/site-packages/lnbits"))
    with contextlib.suppress(FileExistsError):
        (folder / "lnbits").symlink_to(package, target_is_directory=True)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),  # nothing of LNbits lands in the real home folder
        "LANG": "C.UTF-8",
        "LNBITS_DATA_FOLDER": str(folder / "data"),
        "LNBITS_EXTENSIONS_PATH": str(folder / "extensions"),
        "LNBITS_BACKEND_WALLET_CLASS": "LndRestWallet",
        "LND_REST_ENDPOINT": sim.url,
        "LND_REST_CERT": str(folder / "tls.cert"),
        "LND_REST_MACAROON": str(folder / "admin.macaroon"),
        "LNBITS_NODE_UI": "true",
        "LNBITS_ADMIN_UI": "true",
        # LNbits' default of 200 requests a minute per address would throttle the tests (see the report).
        "LNBITS_RATE_LIMIT_NO": "1000000",
        **OFFLINE,
    }
    log_path = folder / "lnbits.log"
    command = [
        str(python),
        "-m",
        "uvicorn",
        "lnbits.__main__:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LnbitsServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_serving(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_serving(server: LnbitsServer, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll until LNbits answers HTTP (uvicorn listens only after LNbits' start-up finished)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"LNbits exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                client.get(f"{server.url}/api/v1/health")
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"LNbits did not start within {timeout_s:.0f} s:\n{server.log_tail()}")
            time.sleep(0.1)


def first_install(url: str) -> str:
    """Give LNbits' super user a name and password (its first-install step) and return its Bearer token."""
    password = secrets.token_urlsafe(18)
    body = {"username": SUPER_USER, "password": password, "password_repeat": password}
    response = httpx.put(f"{url}/api/v1/auth/first_install", json=body, timeout=30.0)
    if response.status_code != 200:
        raise RuntimeError(
            f"LNbits first install answered HTTP {response.status_code}: {response.text[:300]}"
        )
    token: str = response.json()["access_token"]
    return token


@dataclass(frozen=True)
class RealLnbits:
    """What the tests get: LNbits' URL, a super user's Bearer token and the simulator behind it."""

    url: str
    token: str
    sim: SimulatorHandle

    def __repr__(self) -> str:
        return f"RealLnbits(url={self.url!r}, sim={self.sim.url!r})"  # never the token


@contextlib.contextmanager
def real_lnbits(node: SimulatedNode, python: Path) -> Iterator[RealLnbits]:
    """Run the simulator and LNbits in front of it; stop both, LNbits first, when the block ends."""
    with tempfile.TemporaryDirectory(prefix="lnbits-") as folder, SimulatorThread(node) as sim:
        server = start_lnbits(python, sim, Path(folder))
        try:
            yield RealLnbits(server.url, first_install(server.url), sim)
        finally:
            server.stop()
            if server.process.returncode not in (0, -15):
                print(
                    f"LNbits exited with {server.process.returncode}:\n{server.log_tail()}", file=sys.stderr
                )
