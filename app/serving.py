"""Helpers for running uvicorn servers inside our own event loop (the demo, the simulator, benchmarks)."""

from __future__ import annotations

import asyncio
import socket
from typing import Final

import uvicorn

START_TIMEOUT_S: Final = 20.0


async def wait_listening(
    server: uvicorn.Server, task: asyncio.Task[None], timeout_s: float = START_TIMEOUT_S
) -> int:
    """Wait for uvicorn to listen (it offers no start-up event) and return the bound port."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not server.started:
        if task.done():
            task.result()  # surfaces the start-up error
            raise RuntimeError("the server stopped before it started listening")
        if loop.time() > deadline:
            server.should_exit = True
            raise TimeoutError("the server did not start listening in time")
        await asyncio.sleep(0.01)
    sockets = [sock for listener in server.servers for sock in (listener.sockets or ())]
    return int(sockets[0].getsockname()[1])


def url_host(host: str) -> str:
    """`host` as it appears in a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    # Binding port 0 lets the kernel pick; another process could still take the port before our caller.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
