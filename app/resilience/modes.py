"""The service's degraded modes, derived from its dependencies' health."""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Gauge


class ServiceMode(StrEnum):
    """From healthiest to most restricted."""

    FULL = "full"
    CACHE_DEGRADED = "cache_degraded"  # Redis down: in-process cache serves
    READ_ONLY = "read_only"  # storage down: reads from cache, every write refused with 503


MODE_GAUGE = Gauge("mcp_service_mode", "1 for the current service mode, 0 for the others", ["mode"])


def current_mode(storage_up: bool, cache_degraded: bool) -> ServiceMode:
    """The most restrictive mode that applies.

    Only the service's own dependencies count: one tenant's unreachable node is that node's state
    (GET /api/v1/nodes/{id}/health), never a mode the open /ready shows everyone.
    """
    if not storage_up:
        mode = ServiceMode.READ_ONLY
    elif cache_degraded:
        mode = ServiceMode.CACHE_DEGRADED
    else:
        mode = ServiceMode.FULL
    for each in ServiceMode:
        MODE_GAUGE.labels(mode=each.value).set(1.0 if each is mode else 0.0)
    return mode
