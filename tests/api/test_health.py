"""Health, readiness and metrics over a real uvicorn server and HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from app.main import create_app
from tests.api.conftest import Service, serve, service_settings


async def wait_ready(client: httpx.AsyncClient) -> httpx.Response:
    for _ in range(600):
        response = await client.get("/ready")
        if response.status_code == 200 or "Error" in response.text:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError("service never became ready")


async def test_health_ready_and_metrics(service: Service):
    async with service.client() as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        ready = await wait_ready(client)
        assert ready.status_code == 200
        body = ready.json()
        assert body["mode"] == "full" and body["cache"] == "memory_only"
        assert body["graph"]["nodes"] == 400
        assert body["graph"]["source"] == "graph.json"  # its name; the open route shows no paths
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "mcp_service_mode" in metrics.text and "mcp_centrality_seconds" in metrics.text


async def test_ready_reports_a_broken_graph_file(tmp_path: Path, mongo_url: str):
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    server, task, url = await serve(create_app(service_settings(tmp_path, mongo_url, graph_file=broken)))
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await wait_ready(client)
            assert response.status_code == 503
            assert "not valid JSON" in response.json()["reason"]
    finally:
        server.should_exit = True
        await task


def test_openapi_lists_the_routes():
    paths = set(create_app().openapi()["paths"])
    assert {"/health", "/ready", "/api/v1/nodes", "/api/v1/nodes/{node_id}/channels"} <= paths
    assert "/api/v1/decisions/{decision_id}/approve" in paths
