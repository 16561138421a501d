"""Run the LND simulator under uvicorn: in-process for tests (`running_simulator`) or from the CLI (`serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.graph.model import ChannelGraph
from app.nodes.transport import tls_verification
from app.sandbox.lnd.app import LndSimulator
from app.sandbox.lnd.auth import Macaroons
from app.sandbox.lnd.faults import FaultPlan, TransportRegistry
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.tls import TlsFiles, write_certificate, write_secret
from app.sandbox.state import SandboxState
from app.serving import url_host, wait_listening

ROOT_KEY_FILE = "macaroon-root.key"


def tracking_protocol(registry: TransportRegistry) -> type[H11Protocol]:
    """uvicorn's h11 protocol, recording each connection so reset faults can abort it."""

    class TrackingH11Protocol(H11Protocol):
        """H11Protocol that registers and unregisters its transport."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            """Register the connection, then let uvicorn set it up."""
            super().connection_made(transport)
            registry.add(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            """Unregister the connection, then let uvicorn tear it down."""
            registry.discard(self.transport)
            super().connection_lost(exc)

    return TrackingH11Protocol


def server_config(app: LndSimulator, host: str, port: int, tls: TlsFiles | None) -> uvicorn.Config:
    """uvicorn settings for the simulator (h11 with connection tracking, TLS when given, quiet logs)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=tracking_protocol(app.transports),
        lifespan="off",
        log_config=None,  # leave the process's logging configuration alone
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls.cert_path) if tls else None,
        ssl_keyfile=str(tls.key_path) if tls else None,
    )


@dataclass
class SimulatorHandle:
    """A running simulator: where it listens, its credentials and the live node behind it."""

    url: str
    app: LndSimulator
    cert_pem: bytes | None

    @property
    def node(self) -> SimulatedNode:
        """The simulated node (advance `node.clock`, inspect `node.channels` and `node.log`)."""
        return self.app.node

    @property
    def macaroons(self) -> Macaroons:
        """Admin, read-only and fees macaroons (raw bytes) and the root key."""
        return self.app.macaroons

    @property
    def macaroon_hex(self) -> str:
        """The admin macaroon as hex, for the `Grpc-Metadata-macaroon` header."""
        return self.macaroons.admin.hex()

    @property
    def readonly_macaroon_hex(self) -> str:
        """The read-only macaroon as hex."""
        return self.macaroons.readonly.hex()

    @property
    def fees_macaroon_hex(self) -> str:
        """The fee-manager macaroon (info:read, offchain:read, offchain:write) as hex."""
        return self.macaroons.fees.hex()

    @property
    def sandbox_token(self) -> str:
        """Bearer token of the `/_sandbox/` admin endpoints."""
        return self.app.sandbox_token

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (same effect as `PUT /_sandbox/faults`)."""
        self.app.faults.set_plan(plan)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """A client context trusting only this simulator's certificate (True without TLS)."""
        return tls_verification(self.cert_pem.decode() if self.cert_pem is not None else None)

    def client(self, macaroon: bytes | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client for the simulator trusting its cert, sending `macaroon` (None: admin; b"": none)."""
        chosen = self.macaroons.admin if macaroon is None else macaroon
        headers = {"Grpc-Metadata-macaroon": chosen.hex()} if chosen else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, verify=self.ssl_context(), **kwargs)


@contextlib.asynccontextmanager
async def running_simulator(
    source: SimulatedNode | SandboxState,
    graph: ChannelGraph | None = None,
    *,
    tls: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | None = None,
    macaroons: Macaroons | None = None,
    accept_positive_inbound_fees: bool = False,
) -> AsyncIterator[SimulatorHandle]:
    """Serve a simulated node over real HTTP(S) on a free port for the duration of the block."""
    if isinstance(source, SandboxState):
        if graph is None:
            raise TypeError(
                "running_simulator(state, graph): the graph the state was generated from is required"
            )
        source = SimulatedNode(source, graph, accept_positive_inbound_fees=accept_positive_inbound_fees)
    app = LndSimulator(source, macaroons, faults)
    with tempfile.TemporaryDirectory(prefix="lnd-sim-") as directory:
        files = write_certificate(Path(directory), hosts=[host]) if tls else None
        server = uvicorn.Server(server_config(app, host, port, files))
        task = asyncio.create_task(server.serve())
        try:
            bound = await wait_listening(server, task)
            url = f"{'https' if tls else 'http'}://{url_host(host)}:{bound}"
            yield SimulatorHandle(url, app, files.cert_pem if files else None)
        finally:
            app.close_streams()
            server.should_exit = True
            await task


async def serve(
    app: LndSimulator, host: str, port: int, tls: TlsFiles | None, on_ready: Callable[[str], None]
) -> None:
    """Serve until uvicorn is told to stop (Ctrl-C / SIGTERM); `on_ready(url)` once it listens."""
    server = uvicorn.Server(server_config(app, host, port, tls))
    task = asyncio.create_task(server.serve())
    bound = await wait_listening(server, task)
    on_ready(f"{'https' if tls else 'http'}://{url_host(host)}:{bound}")
    await task


def write_credentials(directory: Path, app: LndSimulator) -> dict[str, Path]:
    """Write the three macaroons and the sandbox token (all 0600) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "admin_macaroon": (directory / "admin.macaroon", app.macaroons.admin),
        "readonly_macaroon": (directory / "readonly.macaroon", app.macaroons.readonly),
        "fees_macaroon": (directory / "fees.macaroon", app.macaroons.fees),
        "sandbox_token": (directory / "sandbox.token", app.sandbox_token.encode()),
    }
    for path, data in files.values():
        write_secret(path, data)
    return {name: path for name, (path, _) in files.items()}


def load_root_key(directory: Path) -> bytes:
    """The macaroon root key kept in `directory` (created 0600 on first use), so macaroons survive restarts."""
    path = directory / ROOT_KEY_FILE
    if path.exists():
        key = path.read_bytes()
        if len(key) == 32:
            return key
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    write_secret(path, key)
    return key
