"""Helpers of the cache tests: polling with a deadline and a hand-driven clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import REGISTRY


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll `predicate` every 20 ms until it holds; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def sample(name: str, **labels: str) -> float:
    """Current value of a Prometheus sample of the default registry (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
