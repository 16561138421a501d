"""The pieces the deployment tests run for real: API processes, nginx, certificates, a request loop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from app.cli.demo_bootstrap import DemoFiles, SandboxEndpoint, bootstrap
from app.graph.synthetic import generate_graph, generate_graph_document
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.serving import free_port

PROJECT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "mcp_deploy_admin_" + secrets.token_hex(12)
# A small graph: centrality in well under a second, so /ready comes quickly.
GRAPH_SEED, GRAPH_NODES, GRAPH_CHANNELS = 5, 300, 900


def wait_until(condition: object, timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll `condition()` until it is true; fail with `what` at the deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def private_file(path: Path, data: bytes) -> Path:
    """Write a secret file with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def graph_file(directory: Path) -> Path:
    """A small synthetic graph in the GET /v1/graph shape."""
    path = directory / "graph.json"
    if not path.exists():
        document = generate_graph_document(
            seed=GRAPH_SEED, node_count=GRAPH_NODES, channel_count=GRAPH_CHANNELS
        )
        path.write_bytes(orjson.dumps(document))
    return path


def service_env(
    workdir: Path, mongo_url: str | None, redis_url: str | None, database: str, **extra: str
) -> dict[str, str]:
    """The environment of one API process: secrets as 0600 files, data dir 0700, shared storage."""
    data = workdir / "data"
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    data.chmod(0o700)
    secrets_dir = workdir / "secrets"
    master = secrets_dir / "master.key"
    if not master.exists():
        private_file(master, base64.b64encode(os.urandom(32)) + b"\n")
    admin = secrets_dir / "admin.key"
    if not admin.exists():
        private_file(admin, ADMIN_KEY.encode() + b"\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MCP_") and key not in ("PYTHONPATH",)
    }
    env.update(
        {
            "PATH": f"{PROJECT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "MCP_MASTER_KEY_FILE": str(master),
            "MCP_ADMIN_API_KEY_FILE": str(admin),
            "MCP_DATA_DIR": str(data),
            "MCP_GRAPH_FILE": str(graph_file(workdir)),
            "MCP_MONGODB_DATABASE": database,
            "MCP_SCHEDULE_ENABLED": "false",
            "MCP_ALLOW_PRIVATE_NODE_URLS": "true",
            "MCP_RATE_LIMIT_PER_SECOND": "10000",
            "MCP_HOST": "127.0.0.1",
        }
    )
    if mongo_url:
        env["MCP_MONGODB_URL"] = mongo_url
    if redis_url:
        env["MCP_REDIS_URL"] = redis_url
    env.update(extra)
    return env


@dataclass
class ApiProcess:
    """One API process (through docker_entrypoint.sh or uvicorn directly) on its own port."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    entrypoint: bool = True
    log_level: str = "warning"
    cwd: Path = PROJECT
    extra_args: tuple[str, ...] = ()
    tls_ca: Path | None = None  # set when the process serves HTTPS (extra_args name its certificate)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of this process (by the name its certificate carries when it serves HTTPS)."""
        return f"https://localhost:{self.port}" if self.tls_ca else f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiProcess:
        """Start it; returns at once (see `wait_ready`)."""
        env = {**self.env, "MCP_PORT": str(self.port)}
        if self.entrypoint:
            command = [
                "sh",
                str(PROJECT / "docker_entrypoint.sh"),
                "--log-level",
                self.log_level,
                *self.extra_args,
            ]
        else:
            command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
                       "127.0.0.1", "--port", str(self.port), "--log-level", self.log_level,
                       "--timeout-graceful-shutdown", "10"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def answers(self, path: str = "/ready") -> bool:
        """True when `path` answers 200 right now."""
        try:
            verify = ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else True
            return httpx.get(self.url + path, timeout=2.0, verify=verify).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float = 60.0, path: str = "/ready") -> ApiProcess:
        """Poll `path` until it answers 200; fail with the log if the process exits first."""
        assert self.process is not None

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"API process exited with {self.process.returncode}:\n{self.log()}")
            return self.answers(path)

        wait_until(ready, timeout_s, f"{self.url}{path}")
        return self

    def terminate(self, timeout_s: float = 30.0) -> tuple[int, float]:
        """SIGTERM, then wait: the exit code and how long the shutdown took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout_s)
        return code, time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop whatever is still running (test clean-up)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def run_script(command: list[str], env: Mapping[str, str] | None = None, timeout_s: float = 120) -> str:
    """Run one of our shell scripts; fail with its output when it fails."""
    result = subprocess.run(
        command,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def generate_certs(directory: Path, names: str = "localhost,127.0.0.1") -> Path:
    """CA, server and client certificates from scripts/generate_certs.sh (SANs: `names`)."""
    run_script(["bash", "scripts/generate_certs.sh", "--out", str(directory), "--names", names])
    return directory


@dataclass
class Nginx:
    """A real nginx master process with a private prefix, on free loopback ports."""

    prefix: Path
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        """The main configuration file."""
        return self.prefix / "nginx.conf"

    def write_main_conf(self, site_conf: Path) -> None:
        """A main nginx.conf that includes the rendered site, with pid, logs and temp files in the prefix."""
        for folder in ("logs", "tmp"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""  # workers read the prefix's files
        self.conf.write_text(
            f"""{user}
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {self.prefix}/tmp/body;
    proxy_temp_path {self.prefix}/tmp/proxy;
    fastcgi_temp_path {self.prefix}/tmp/fastcgi;
    uwsgi_temp_path {self.prefix}/tmp/uwsgi;
    scgi_temp_path {self.prefix}/tmp/scgi;
    access_log off;
    include {site_conf};
}}
"""
        )

    def command(self, *extra: str) -> list[str]:
        """nginx with this prefix and configuration."""
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-p", str(self.prefix), "-c", str(self.conf), *extra]

    def test_config(self) -> str:
        """`nginx -t`: the configuration is valid (its output, which must not warn)."""
        result = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"nginx -t failed:\n{output}"
        return output

    def start(self) -> Nginx:
        """Run nginx in the foreground (our child), until both ports accept connections."""
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def listening() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"nginx exited: {self.error_log()}")
            return all(_port_open(port) for port in (self.http_port, self.https_port))

        wait_until(listening, 15, "nginx to listen")
        return self

    def reload(self) -> None:
        """SIGHUP: new workers with the new configuration; old ones finish their requests."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def error_log(self) -> str:
        """nginx's error log."""
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Quit nginx (SIGQUIT: graceful) and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _port_open(port: int) -> bool:
    import socket

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class RequestLoop:
    """A steady loop of GETs in a thread; counts outcomes (status codes, or the error's class)."""

    url: str
    verify: ssl.SSLContext | bool = False
    interval_s: float = 0.01
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    keepalive_retries: int = 0  # GETs sent again because nginx had closed the idle connection (see run)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def get(self, client: httpx.Client) -> int:
        """One GET; sent once more when the server had closed the kept-alive connection it went out on.

        An nginx reload closes its old workers' idle keepalive connections; a request that crosses that
        close never reached nginx, and HTTP lets a client send an idempotent request again in that case
        (RFC 9112, 9.3.1), as browsers do. Every such retry is counted and reported.
        """
        try:
            return client.get(self.url).status_code
        except httpx.RemoteProtocolError as exc:
            if "without sending a response" not in str(exc):
                raise
            self.keepalive_retries += 1
            return client.get(self.url).status_code

    def run(self) -> None:
        """The loop body: one request after the other until stopped."""
        with httpx.Client(verify=self.verify, timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    status = self.get(client)
                    self.outcomes[str(status)] += 1
                    if status != 200:
                        self.failures.append(f"HTTP {status}")
                except httpx.HTTPError as exc:
                    self.outcomes[type(exc).__name__] += 1
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.interval_s)

    def ready(self, verify: ssl.SSLContext | bool) -> bool:
        """One request now: True when it answers 200."""
        try:
            return httpx.get(self.url + "/ready", verify=verify, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def summary(self) -> str:
        """Requests, failures, keepalive retries and outcomes, for the test's printed figures."""
        return (
            f"{self.total} requests, {len(self.failures)} failed, {self.keepalive_retries} sent again on a new "
            f"connection after a reload closed the kept-alive one; outcomes {dict(self.outcomes)}"
        )

    @property
    def total(self) -> int:
        """Requests made so far."""
        return sum(self.outcomes.values())

    def __enter__(self) -> RequestLoop:
        """Start the loop."""
        self._thread = threading.Thread(target=self.run, name="request-loop", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the loop and wait for its last request."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


@contextlib.contextmanager
def running(*processes: ApiProcess) -> Iterator[tuple[ApiProcess, ...]]:
    """Start processes, and stop every one of them afterwards whatever happens."""
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()


class SimulatorThread:
    """An LND REST simulator (TLS) serving the deployment graph's node 0, in a thread with its own loop."""

    def __init__(self) -> None:
        self.handle: SimulatorHandle | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="lnd-simulator", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        graph = generate_graph(seed=GRAPH_SEED, node_count=GRAPH_NODES, channel_count=GRAPH_CHANNELS)
        state = generate_sandbox_state(graph, 0, seed=5, now_s=int(time.time()))
        self._stop = asyncio.Event()
        async with running_simulator(SimulatedNode(state, graph), tls=True) as handle:
            self.handle = handle
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> SimulatorHandle:
        """Start it and return its handle (URL, macaroons, certificate)."""
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._error is not None or self.handle is None:
            raise AssertionError(f"the LND simulator did not start: {self._error!r}")
        return self.handle

    def __exit__(self, *exc: object) -> None:
        """Stop it."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


def register_node(api_url: str, workdir: Path, simulator: SimulatorHandle) -> tuple[str, str]:
    """Through the API, as `make run` does: a tenant, its key, the simulator's node, synced; (key, node id)."""
    macaroon, cert = workdir / "fees.macaroon", workdir / "tls.cert"
    macaroon.write_bytes(bytes.fromhex(simulator.fees_macaroon_hex))
    cert.write_bytes(simulator.cert_pem or b"")
    files = DemoFiles(key=workdir / "tenant.key", node=workdir / "tenant.node")
    endpoint = SandboxEndpoint(simulator.url, macaroon, cert)
    node = asyncio.run(bootstrap(api_url, ADMIN_KEY, endpoint, "deploy", files))
    return files.key.read_text().strip(), node.node_id
