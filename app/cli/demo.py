"""`demo`, what `make run` starts: the API plus a SIMULATED LND node registered, synced and in shadow mode.

The simulator runs as a child process (so its work never slows the API's event loop) and stops with
us; the API runs in this process under uvicorn; the setup goes through the API itself over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import uvicorn
from fastapi import FastAPI

from app.cli.demo_bootstrap import DemoFiles, DemoNode, SandboxEndpoint, bootstrap
from app.cli.progress import note
from app.errors import ConfigError, DomainError
from app.main import admin_key, create_app
from app.serving import url_host, wait_listening
from app.settings import Settings, get_settings

SIMULATOR_START_TIMEOUT_S: Final = 300.0  # the real graph takes a few seconds; a slow disk more
READY_TIMEOUT_S: Final = 300.0
_LAST_SIMULATOR_LINE: Final = "sandbox_token"  # `sandbox lnd` prints it last, once it listens


def add_parser(commands: Any) -> None:
    """Register the `demo` subcommand."""
    parser = commands.add_parser(
        "demo",
        help="the API with a SIMULATED LND node registered, synced and in shadow mode (make run)",
        description="Start a simulated LND node of the graph, the API on embedded defaults, and register the "
        "node in the tenant 'demo' through the API. Writes the tenant key (0600) and the node id to the data "
        "directory and serves until Ctrl-C.",
    )
    parser.add_argument(
        "--node", default="ACINQ", help="pubkey or alias of the node to simulate (default ACINQ)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (default 8000; 0: any free port)")
    parser.add_argument(
        "--sandbox-port",
        type=int,
        help="simulator port (default MCP_SANDBOX_LND_PORT, 18080; 0: any free port)",
    )
    parser.set_defaults(handler=run)


@dataclass
class SimulatorProcess:
    """The `sandbox lnd` child process and where it serves."""

    process: asyncio.subprocess.Process
    endpoint: SandboxEndpoint

    async def stop(self) -> None:
        """Stop the simulator."""
        await stop_process(self.process)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (uvicorn stops gracefully), then SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10.0)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


# The demo walks through every rollout stage in minutes: no minimum time in a stage, one shadow cycle, and
# canary flow judged at once. A real node keeps the defaults (14 days of shadow, 3 days per canary stage).
DEMO_ROLLOUT: Final = {
    "rollout_shadow_days": 0.0,
    "rollout_canary_days": 0.0,
    "rollout_min_cycles": 1,
    "rollout_min_forwards": 0,
}


def demo_settings(settings: Settings) -> Settings:
    """The service settings with the demo's short rollout, except what the environment sets itself."""
    shortened = {
        name: value for name, value in DEMO_ROLLOUT.items() if f"MCP_{name.upper()}" not in os.environ
    }
    if shortened:
        note("demo: rollout gates shortened (" + ", ".join(f"{k}={v:g}" for k, v in shortened.items()) + ")")
    # The demo's node is the simulator on loopback, a private address a multi-tenant deployment refuses.
    private = {} if "MCP_ALLOW_PRIVATE_NODE_URLS" in os.environ else {"allow_private_node_urls": True}
    return settings.model_copy(update={**shortened, **private})


def run(args: argparse.Namespace) -> int:
    """Check the configuration, then serve until Ctrl-C; 2 when the demo could not be set up."""
    settings = demo_settings(get_settings())
    key = admin_key(settings)
    if key is None:
        raise ConfigError(
            "the demo needs the bootstrap admin key: set MCP_ADMIN_API_KEY_FILE or MCP_ADMIN_API_KEY "
            "(make run writes data/admin.key)"
        )
    try:
        return asyncio.run(_serve(args, settings, key))
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once it has shut down
        return 0


async def _serve(args: argparse.Namespace, settings: Settings, key: str) -> int:
    sandbox_port = settings.sandbox_lnd_port if args.sandbox_port is None else args.sandbox_port
    simulator = await start_simulator(args.node, sandbox_port, settings.sandbox_lnd_dir)
    try:
        app = create_app(settings)
        server = uvicorn.Server(
            # log_config=None: the app's logging (create_app) stays, uvicorn's own would replace it
            uvicorn.Config(app, host=args.host, port=args.port, timeout_graceful_shutdown=10, log_config=None)
        )
        serving = asyncio.create_task(server.serve())
        port = await wait_listening(server, serving, timeout_s=READY_TIMEOUT_S)
        api_url = f"http://{url_host(args.host)}:{port}"
        files = DemoFiles(key=settings.data_dir / "demo.key", node=settings.data_dir / "demo.node")
        hint = str(settings.admin_api_key_file or "from MCP_ADMIN_API_KEY")
        setup = asyncio.create_task(
            _set_up(app, api_url, key, simulator.endpoint, _node_name(args.node), files, hint)
        )
        setup.add_done_callback(lambda done: _stop_on_failure(done, server))
        await serving
        if not setup.done():
            setup.cancel()
        return 0 if setup.done() and not setup.cancelled() and setup.exception() is None else 2
    finally:
        await simulator.stop()


async def start_simulator(node: str, port: int, directory: Path) -> SimulatorProcess:
    """Start `sandbox lnd` and wait until it prints where it listens and its credential files."""
    note(f"starting the LND simulator for {node} on port {port} ...")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "sandbox", "lnd", "--node", node, "--port", str(port),
        "--data-dir", str(directory), "--exit-with-parent",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None  # PIPE was asked for
    fields: dict[str, str] = {}
    try:
        async with asyncio.timeout(SIMULATOR_START_TIMEOUT_S):
            while _LAST_SIMULATOR_LINE not in fields:
                line = await process.stdout.readline()
                if not line:
                    code = await process.wait()
                    raise ConfigError(
                        f"the LND simulator exited with code {code} before it was ready; its messages are above"
                    )
                name, _, value = line.decode().partition(": ")
                fields[name.strip()] = value.strip()
    except BaseException:
        await stop_process(process)
        raise
    cert = fields.get("tls_cert")
    endpoint = SandboxEndpoint(fields["url"], Path(fields["fees_macaroon"]), Path(cert) if cert else None)
    return SimulatorProcess(process, endpoint)


async def _set_up(
    app: FastAPI,
    api_url: str,
    key: str,
    sandbox: SandboxEndpoint,
    name: str,
    files: DemoFiles,
    admin_hint: str,
) -> DemoNode:
    started = time.perf_counter()
    try:
        await _wait_ready(app)
        note(f"registering and syncing the sandbox node {name!r} through the API ...")
        demo = await bootstrap(api_url, key, sandbox, name, files)
    except DomainError as exc:
        note(f"error: {exc.message}; stopping")
        raise
    except httpx.HTTPError as exc:
        note(f"error: the API did not answer the demo setup ({type(exc).__name__}); stopping")
        raise
    note(f"demo set up in {time.perf_counter() - started:.1f} s")
    print(
        "\n".join(
            [
                "",
                f"API          {api_url}   (OpenAPI: {api_url}/docs)",
                f"admin key    {admin_hint}",
                f"tenant key   {files.key}   (tenant 'demo', role admin, mode 0600)",
                f"node id      {demo.node_id}   (in {files.node})",
                f"node         {name}: SIMULATED LND at {sandbox.url}, {demo.channels} channels, "
                f"mode {demo.mode}, synced in {demo.sync_seconds:.1f} s",
                "",
                f'try: curl -s "{api_url}/api/v1/nodes/$(cat {files.node})/channels?limit=2" '
                f'-H "Authorization: Bearer $(cat {files.key})"',
                "",
            ]
        ),
        flush=True,
    )
    return demo


async def _wait_ready(app: FastAPI) -> None:
    """Poll /ready until the API has its graph and storage (the graph loads in the background).

    The polls go to the app in this process, not through the server: each one through it was a line of
    the access log, twice a second while the graph loads.
    """
    note("waiting for the API to be ready (loading the channel graph) ...")
    deadline = time.monotonic() + READY_TIMEOUT_S
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo", timeout=10.0) as http:
        while True:
            response = await http.get("/ready")
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the API was not ready after {READY_TIMEOUT_S:.0f} s: {response.text[:200]}"
                )
            await asyncio.sleep(0.5)


def _stop_on_failure(setup: asyncio.Task[DemoNode], server: uvicorn.Server) -> None:
    """A demo that could not be set up stops the server, so `make run` fails visibly."""
    if setup.cancelled() or setup.exception() is not None:
        server.should_exit = True


def _node_name(node: str) -> str:
    """Registration name of the simulated node: its alias or pubkey prefix, lower case, plus `-sim`."""
    slug = re.sub(r"[^a-z0-9]+", "-", node.lower()).strip("-")[:40] or "node"
    return f"{slug}-sim"
