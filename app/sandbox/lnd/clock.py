"""Simulated time: frozen for tests (advanced by hand), or flowing at a chosen speed for a live demo."""

from __future__ import annotations

import time
from collections.abc import Callable

NS = 1_000_000_000


class SimulatedClock:
    """Simulated now = start + manual advances + speed x wall time elapsed; listeners run on `advance`."""

    def __init__(self, start_s: int, speed: float = 0.0, wall: Callable[[], float] = time.monotonic) -> None:
        if speed < 0:
            raise ValueError(f"clock speed must not be negative, got {speed}")
        self._start_ns = start_s * NS
        self._offset_ns = 0
        self._speed = speed
        self._wall = wall
        self._wall_start = wall()
        self._listeners: list[Callable[[], None]] = []

    def now_ns(self) -> int:
        """The simulated time in nanoseconds since the epoch."""
        flowing = (self._wall() - self._wall_start) * self._speed if self._speed else 0.0
        return self._start_ns + self._offset_ns + int(flowing * NS)

    def now_s(self) -> int:
        """The simulated time in whole seconds since the epoch."""
        return self.now_ns() // NS

    def advance(self, seconds: float) -> int:
        """Move simulated time forward; listeners (the node's forwarding simulation) catch up at once."""
        if seconds < 0:
            raise ValueError(f"simulated time only moves forward, got {seconds} s")
        self._offset_ns += round(seconds * NS)
        for listener in self._listeners:
            listener()
        return self.now_s()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every advance."""
        self._listeners.append(listener)
