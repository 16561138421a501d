"""Health and readiness over a real uvicorn server and HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.factories import graph_document


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(settings: Settings):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn offers no start-up event to await
        if server.started:
            break
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


async def wait_ready(client: httpx.AsyncClient, url: str) -> httpx.Response:
    for _ in range(600):
        response = await client.get(f"{url}/ready")
        if response.status_code == 200 or "Error" in response.text:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError("service never became ready")


async def test_health_is_immediate_and_ready_follows_graph_load(tmp_path: Path):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(graph_document([("a", "b", 1000, 1, 2), ("b", "c", 2000, 3, 4)])))
    server, task, url = await serve(Settings(graph_file=graph_file))
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/health")).json() == {"status": "ok"}
            ready = await wait_ready(client, url)
            assert ready.status_code == 200
            assert ready.json()["graph"]["nodes"] == 3
    finally:
        server.should_exit = True
        await task


async def test_ready_reports_a_broken_graph_file(tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    server, task, url = await serve(Settings(graph_file=broken))
    try:
        async with httpx.AsyncClient() as client:
            response = await wait_ready(client, url)
            assert response.status_code == 503
            assert "not valid JSON" in response.json()["reason"]
    finally:
        server.should_exit = True
        await task


def test_openapi_lists_probes():
    paths = create_app().openapi()["paths"]
    assert {"/health", "/ready"} <= set(paths)
