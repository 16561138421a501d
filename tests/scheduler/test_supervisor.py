"""Supervised background loops: a crash is counted and the loop starts again; a domain error skips one pass."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from app.errors import StorageUnavailableError
from app.observability.request_context import current_request_id
from app.scheduler.supervisor import LOOP_FAILURES, LOOP_RESTARTS, every, supervise


async def test_a_crashed_loop_is_restarted_and_counted():
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("a bug in the loop")

    before = LOOP_RESTARTS.labels("flaky")._value.get()
    await asyncio.wait_for(supervise("flaky", flaky, first_delay_s=0.001), timeout=5)
    assert runs == 3
    assert LOOP_RESTARTS.labels("flaky")._value.get() - before == 2


async def test_cancelling_a_supervised_loop_stops_it():
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(supervise("forever", forever))
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_pass_failing_on_a_domain_error_is_skipped_and_the_loop_goes_on():
    passes = 0
    done = asyncio.Event()

    async def body() -> None:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise StorageUnavailableError("database unavailable")
        if passes == 3:
            done.set()

    before = LOOP_FAILURES.labels("skipping")._value.get()
    task = asyncio.create_task(every("skipping", 0.001, body, run_first=True))
    await asyncio.wait_for(done.wait(), timeout=5)
    task.cancel()
    assert LOOP_FAILURES.labels("skipping")._value.get() - before == 1


async def test_each_pass_logs_under_its_own_id_named_after_the_job():
    seen: list[str] = []
    done = asyncio.Event()

    async def body() -> None:
        seen.append(current_request_id.get())
        if len(seen) == 2:
            done.set()

    task = asyncio.create_task(every("digest", 0.001, body, run_first=True))
    await asyncio.wait_for(done.wait(), timeout=5)
    task.cancel()
    assert all(re.fullmatch(r"digest-[0-9a-f]{8}", pass_id) for pass_id in seen), seen
    assert seen[0] != seen[1]  # one id per pass, so a pass's lines can be told from the next one's


async def test_a_skipped_pass_is_logged_under_its_pass_id():
    done = asyncio.Event()
    ids: list[str] = []

    async def body() -> None:
        ids.append(current_request_id.get())
        if len(ids) == 2:
            done.set()
        raise StorageUnavailableError("database unavailable")

    class PassIds(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            """Keep the pass id in force where the warning was logged."""
            logged.append(current_request_id.get())

    logged: list[str] = []
    handler = PassIds(logging.WARNING)
    logging.getLogger("app.scheduler.supervisor").addHandler(handler)
    try:
        task = asyncio.create_task(every("skipper", 0.001, body, run_first=True))
        await asyncio.wait_for(done.wait(), timeout=5)
        task.cancel()
    finally:
        logging.getLogger("app.scheduler.supervisor").removeHandler(handler)
    assert logged[:1] == ids[:1]  # the "pass skipped" warning names the pass it skipped
