"""The application lifespan: what it starts, it stops."""

from __future__ import annotations

import multiprocessing
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
