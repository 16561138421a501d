"""The embedded nx-27017: start, ping, stop, restart on its files, clear failures, and never an orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from app.errors import ConfigError, StorageUnavailableError
from app.settings import PROJECT_ROOT, Settings
from app.storage.database import connect, open_storage
from app.storage.embedded import EmbeddedMongo
from app.storage.records import TenantRecord
from tests.storage.processes import alive, nx_children, wait_gone


async def ping(url: str) -> bool:
    """The server at `url` answers ping (with a client of our own)."""
    client: AsyncMongoClient[dict[str, object]] = connect(url, 2000)
    try:
        answer = await client.admin.command("ping")
        return bool(answer["ok"] == 1)
    finally:
        await client.close()


async def test_in_memory_server_starts_answers_and_leaves_nothing_behind():
    server = EmbeddedMongo()
    url = await server.start()
    pid = server.pid
    assert pid is not None and server.running and server.in_memory
    assert url.startswith("mongodb://127.0.0.1:")
    assert await ping(url)
    assert server.log_file is not None
    work_dir = server.log_file.parent
    assert work_dir.is_dir()
    await server.stop()
    assert not alive(pid) and server.pid is None and not server.running
    assert not work_dir.exists() and server.log_file is None  # the temporary directory is removed
    await server.stop()  # idempotent


async def test_file_backed_server_keeps_data_across_a_restart_on_the_same_port(tmp_path: Path):
    async with EmbeddedMongo(tmp_path) as server:
        settings = Settings(mongodb_url=SecretStr(server.url), mongodb_database="mcp")
        storage = await open_storage(settings)
        tenant = await storage.tenants.add(TenantRecord(name="acme"))
        await storage.close()
        port = server.port
        assert (tmp_path / "mongo").is_dir() and any((tmp_path / "mongo").iterdir())
        assert (tmp_path / "mongo.pid").is_file() and (tmp_path / "mongo.log").is_file()
        await server.stop()
        assert not (tmp_path / "mongo.pid").exists()
        await server.start()
        assert server.port == port
        storage = await open_storage(settings)
        assert await storage.tenants.get(tenant.id) == tenant
        await storage.close()


async def test_a_server_that_dies_at_start_up_raises_with_its_output():
    server = EmbeddedMongo(
        command=[sys.executable, "-c", "import sys; print('boom: no sqlite'); sys.exit(3)"]
    )
    with pytest.raises(StorageUnavailableError) as caught:
        await server.start()
    assert "boom: no sqlite" in caught.value.message
    assert server.pid is None


async def test_a_port_held_by_another_server_is_refused_not_mistaken_for_ours():
    async with EmbeddedMongo() as first:
        before = nx_children()
        with pytest.raises(StorageUnavailableError, match="did not start"):
            await EmbeddedMongo(port=first.port).start()
        assert nx_children() == before and await ping(first.url)


async def test_a_server_that_never_answers_is_killed_after_the_timeout(tmp_path: Path):
    pid_file = tmp_path / "fake.pid"
    # The fake server leaves its pid behind, so the test can see that the process itself is gone.
    write_pid = f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))"
    hang = f"import os, pathlib, time; {write_pid}; time.sleep(60)"
    server = EmbeddedMongo(command=[sys.executable, "-c", hang], startup_timeout_s=1.0)
    with pytest.raises(StorageUnavailableError, match="did not answer ping"):
        await server.start()
    assert server.pid is None
    assert not alive(int(pid_file.read_text()))


async def test_a_missing_server_program_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot run the embedded database"):
        await EmbeddedMongo(command=["/nonexistent/nx-27017"]).start()


async def test_an_unusable_data_dir_is_a_config_error(tmp_path: Path):
    not_a_directory = tmp_path / "data"
    not_a_directory.write_text("")
    with pytest.raises(ConfigError, match="cannot prepare"):
        await EmbeddedMongo(not_a_directory).start()


async def test_open_storage_without_url_owns_its_server_and_stops_it(tmp_path: Path):
    storage = await open_storage(Settings(mongodb_url=None, data_dir=tmp_path), in_memory=True)
    assert storage.embedded is not None
    pid = storage.embedded.pid
    assert pid is not None and await storage.ping()
    await storage.close()
    assert not alive(pid) and not await storage.ping()
    await storage.close()  # idempotent


async def test_open_storage_on_the_data_dir_by_default(tmp_path: Path):
    storage = await open_storage(Settings(mongodb_url=None, data_dir=tmp_path))
    try:
        await storage.tenants.add(TenantRecord(name="acme"))
        assert (tmp_path / "mongo" / "mcp.db").is_file()
    finally:
        await storage.close()


async def test_failed_open_storage_stops_the_server_it_started(tmp_path: Path):
    before = nx_children()
    with pytest.raises(ConfigError, match="MCP_MONGODB_DATABASE"):
        await open_storage(
            Settings(mongodb_url=None, data_dir=tmp_path, mongodb_database="bad.name"), in_memory=True
        )
    assert nx_children() == before


def test_the_server_stops_itself_when_the_service_is_killed(tmp_path: Path):
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from app.storage.embedded import EmbeddedMongo

        async def main():
            server = EmbeddedMongo(Path({str(tmp_path)!r}))
            await server.start()
            print(server.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    service = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=PROJECT_ROOT)
    try:
        assert service.stdout is not None
        server_pid = int(service.stdout.readline())
        assert alive(server_pid)
        os.kill(service.pid, signal.SIGKILL)  # no shutdown handler runs
        service.wait(timeout=5)
        assert wait_gone(server_pid, timeout_s=10), "the database outlived the service"
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
