"""TTL classes of the cache: how long each kind of data may be served before it is fetched again."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class TtlClass(StrEnum):
    """Freshness class of a cached value; `seconds` is its time to live."""

    NODE = "node"  # node info, balances: 5 min
    CHANNELS = "channels"  # channel list and policies: 10 min
    METRICS = "metrics"  # forwarding metrics move quickly: 1 min
    SCORES = "scores"  # heuristic scores: 15 min
    HEAVY = "heavy"  # expensive computations such as centrality: 30 min

    @property
    def seconds(self) -> int:
        """Time to live of this class in seconds."""
        return _SECONDS[self]


_SECONDS: Final = MappingProxyType(
    {
        TtlClass.NODE: 300,
        TtlClass.CHANNELS: 600,
        TtlClass.METRICS: 60,
        TtlClass.SCORES: 900,
        TtlClass.HEAVY: 1800,
    }
)

# The per-node key index must outlive every key it lists (app/cache/redis_backend.py).
MAX_TTL_S: Final = max(_SECONDS.values())
