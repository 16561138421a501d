"""What the cache reports about itself: its mode (for /ready) and a stats snapshot."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class CacheMode(StrEnum):
    """Which store serves: Redis, memory by configuration, or memory because Redis is down."""

    REDIS = "redis"
    MEMORY_ONLY = "memory_only"
    CACHE_DEGRADED = "cache_degraded"


class CacheStats(BaseModel):
    """A snapshot of the cache for /ready and diagnostics; counts are this instance's since start."""

    model_config = ConfigDict(frozen=True)

    mode: CacheMode
    backend: str
    degraded: bool
    redis_configured: bool
    hits: dict[str, int]
    misses: dict[str, int]
    pending_erasures: int
