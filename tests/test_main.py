"""The application lifespan: what it starts, it stops."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import running_service
from tests.storage.conftest import mongo_url  # noqa: F401  (session fixture)


async def test_shutdown_leaves_no_worker_process_behind(tmp_path: Path, mongo_url: str):  # noqa: F811
    before = {child.pid for child in multiprocessing.active_children()}
    async with running_service(tmp_path, mongo_url) as service:
        ready = service.app.state.graph_state
        assert ready.graph is not None  # loaded in the worker process, so the pool has started one
        started = {child.pid for child in multiprocessing.active_children()} - before
        assert started, "the graph should have been loaded in a worker process"
    # Not waiting for the pool let the worker outlive the service and keep its semaphores.
    assert not started & {child.pid for child in multiprocessing.active_children()}


def test_the_graph_worker_stops_when_the_service_is_killed(tmp_path):
    # A service killed with SIGKILL runs no shutdown: its worker must notice on its own and stop.
    script = (
        "import os, sys\n"
        "from app.main import graph_workers\n"
        "pool = graph_workers()\n"
        "print(pool.submit(os.getpid).result(), flush=True)\n"
        "sys.stdin.read()\n"
    )
    service = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert service.stdout is not None
    worker = int(service.stdout.readline())
    assert alive(worker)
    service.kill()
    service.wait()
    deadline = time.monotonic() + 30
    while alive(worker):
        assert time.monotonic() < deadline, "the worker outlived the killed service"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
