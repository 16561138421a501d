"""Retries with exponential backoff and jitter, for transient failures only (tenacity)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from app.errors import UpstreamTemporaryError

T = TypeVar("T")


class RetrySettings(BaseModel):
    """How often and how patiently to retry a transient failure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=4, ge=1, le=10)
    initial_s: float = Field(default=0.2, ge=0)
    max_s: float = Field(default=5.0, gt=0)
    jitter_s: float = Field(default=0.2, ge=0)
    max_retry_after_s: float = Field(default=30.0, gt=0, description="longest Retry-After we honour")


def backoff(settings: RetrySettings) -> Callable[[RetryCallState], float]:
    """Wait honouring a 429's Retry-After (capped), else exponential backoff with jitter."""
    exponential = wait_exponential_jitter(
        multiplier=settings.initial_s, max=settings.max_s, jitter=settings.jitter_s
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, UpstreamTemporaryError) and error.retry_after_s is not None:
            return min(error.retry_after_s, settings.max_retry_after_s)
        return float(exponential(state))

    return wait


async def with_retries(call: Callable[[], Awaitable[T]], settings: RetrySettings) -> T:
    """Run `call`, retrying only UpstreamTemporaryError; anything else (4xx, auth) fails at once."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(UpstreamTemporaryError),
        stop=stop_after_attempt(settings.attempts),
        wait=backoff(settings),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or reraises")
