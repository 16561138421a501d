"""A per-node circuit breaker with a readable state.

Written here because the maintained breakers do not fit: pybreaker's async support needs Tornado,
circuitbreaker has no failure-ratio trigger and no readable half-open state, and purgatory has had no
release for two years. This one opens on consecutive failures or on a failure ratio over a sliding
window, lets one probe through after a cool-down (half-open), and exposes its state for metrics and /ready.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.errors import UpstreamUnavailableError


class CircuitState(StrEnum):
    """Closed: calls flow. Open: calls are refused. Half-open: one probe decides."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitSettings(BaseModel):
    """When the breaker opens and how long it stays open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consecutive_failures: int = Field(default=5, ge=1)
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window: int = Field(default=20, ge=2, description="recent calls the ratio is computed over")
    min_calls_for_ratio: int = Field(default=10, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class CircuitBreaker:
    """Tracks one node's call outcomes; `before_call` refuses calls while open."""

    def __init__(
        self, name: str, settings: CircuitSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.settings = settings or CircuitSettings()
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._consecutive = 0
        self._recent: deque[bool] = deque(maxlen=self.settings.window)
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.transitions: list[tuple[CircuitState, CircuitState]] = []

    @property
    def state(self) -> CircuitState:
        """Current state; an open circuit whose cool-down passed reads as half-open."""
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.settings.cooldown_s:
            self._move(CircuitState.HALF_OPEN)
        return self._state

    def before_call(self) -> None:
        """Raise UpstreamUnavailableError unless a call may go out now."""
        state = self.state
        if state is CircuitState.OPEN:
            remaining = self.settings.cooldown_s - (self._clock() - self._opened_at)
            raise UpstreamUnavailableError(
                f"circuit for node {self.name} is open after repeated failures; next probe in {remaining:.0f} s",
                {"node": self.name, "circuit": state.value},
            )
        if state is CircuitState.HALF_OPEN:
            if self._probe_in_flight:
                raise UpstreamUnavailableError(
                    f"circuit for node {self.name} is half-open and its probe is in flight",
                    {"node": self.name, "circuit": state.value},
                )
            self._probe_in_flight = True

    def record_success(self) -> None:
        """A call succeeded: a half-open probe closes the circuit."""
        self._probe_in_flight = False
        self._consecutive = 0
        self._recent.append(True)
        if self._state is not CircuitState.CLOSED:
            self._recent.clear()
            self._move(CircuitState.CLOSED)

    def record_failure(self) -> None:
        """A call failed in a way that says the node is unhealthy."""
        self._probe_in_flight = False
        self._consecutive += 1
        self._recent.append(False)
        if self._state is CircuitState.HALF_OPEN or self._should_open():
            self._opened_at = self._clock()
            self._move(CircuitState.OPEN)

    def _should_open(self) -> bool:
        settings = self.settings
        if self._consecutive >= settings.consecutive_failures:
            return True
        if len(self._recent) < settings.min_calls_for_ratio:
            return False
        failures = sum(1 for ok in self._recent if not ok)
        return failures / len(self._recent) >= settings.failure_ratio

    def _move(self, new: CircuitState) -> None:
        if new is not self._state:
            self.transitions.append((self._state, new))
            self._state = new
