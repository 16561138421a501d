"""One node's failure of any kind, a malformed answer included, never stops the scheduler's other nodes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.scheduler.runner import NODE_FAILURES, CycleScheduler
from tests.api.conftest import Service, tenant_with_key


@contextlib.asynccontextmanager
async def malformed_node() -> AsyncIterator[str]:
    """An HTTP server that answers every request with 200 and JSON of the wrong shape."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"identity_pubkey": 12, "block_height": 5, "channels": "none"}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)  # fmt: skip
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_malformed_node_and_a_crashing_one_fail_alone(service: Service, monkeypatch):
    _, key = await tenant_with_key(service, "mixed")
    async with malformed_node() as url, service.client(key) as api:
        good = (await api.post("/api/v1/nodes", json=service.lnd_registration("good"))).json()["node"]["id"]
        broken_body = {**service.lnd_registration("broken"), "url": url, "tls_cert_pem": None}
        broken = (await api.post("/api/v1/nodes", json=broken_body)).json()["node"]["id"]
        crashing = (await api.post("/api/v1/nodes", json=service.lnd_registration("crashing"))).json()[
            "node"
        ]["id"]
        scheduler = CycleScheduler(service.app.state.runtime, interval_s=3600, jitter_s=0, lease_s=60)
        real_optimize = scheduler.cycles.optimize

        async def optimize_with_a_bug(node, mode, actor):
            if node.id == crashing:
                raise KeyError("a bug that only this node's data triggers")
            return await real_optimize(node, mode, actor)

        monkeypatch.setattr(scheduler.cycles, "optimize", optimize_with_a_bug)
        bugs_before = NODE_FAILURES.labels("KeyError")._value.get()
        report = await scheduler.tick()
    assert report.ran == [good], report
    # the node's info and its graph are read at once: whichever wrong answer is decoded first is reported
    assert any(
        phrase in report.failed[broken]
        for phrase in (
            "answer to get_info that could not be read",
            "graph document: field 'nodes' must be a list",
        )
    ), report.failed[broken]
    assert report.failed[crashing] == "internal error (KeyError)"
    assert NODE_FAILURES.labels("KeyError")._value.get() - bugs_before == 1
