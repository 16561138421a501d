"""Background loops that survive their own bugs: a crashed loop is logged, counted and started again."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from app.errors import DomainError
from app.observability.request_context import background_pass

log = logging.getLogger(__name__)
LOOP_RESTARTS = Counter("mcp_background_restarts_total", "Background loops restarted after a crash", ["loop"])
LOOP_FAILURES = Counter("mcp_background_failures_total", "Passes of a background loop that failed", ["loop"])


async def supervise(
    name: str, run: Callable[[], Awaitable[None]], first_delay_s: float = 1.0, max_delay_s: float = 300.0
) -> None:
    """Run `run` for ever: after a crash, log it, count it and start again with a growing pause."""
    delay = first_delay_s
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            LOOP_RESTARTS.labels(name).inc()
            log.exception("background loop %s crashed; restarting in %.0f s", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)


async def every(
    name: str,
    interval_s: float,
    body: Callable[[], Awaitable[object]],
    *,
    jitter_s: float = 0.0,
    run_first: bool = False,
) -> None:
    """Run `body` every `interval_s` (plus random jitter); a pass that fails on a domain error is skipped."""
    if not run_first:
        await asyncio.sleep(interval_s + random.uniform(0, jitter_s))
    while True:
        with background_pass(name):
            try:
                await body()
            except DomainError as exc:  # storage down, a node unreachable: try again next time
                LOOP_FAILURES.labels(name).inc()
                log.warning("%s pass skipped: %s", name, exc.message)
        await asyncio.sleep(interval_s + random.uniform(0, jitter_s))
