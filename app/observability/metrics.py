"""Prometheus metrics of the decision core (the default registry is the one /metrics will export)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HEURISTIC_FAILURES = Counter(
    "mcp_heuristic_failures_total",
    "Heuristic evaluations that raised and were excluded from the total",
    ["heuristic"],
)
HEURISTIC_UNKNOWN = Counter(
    "mcp_heuristic_unknown_total",
    "Heuristic evaluations without the input they need (excluded, renormalised)",
    ["heuristic"],
)
CENTRALITY_SECONDS = Histogram(
    "mcp_centrality_seconds",
    "Wall time of a full centrality computation",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
CACHE_HITS = Counter("mcp_cache_hits_total", "Cache lookups answered from the cache", ["backend"])
CACHE_MISSES = Counter("mcp_cache_misses_total", "Cache lookups the cache could not answer", ["backend"])
CACHE_DEGRADED = Gauge(
    "mcp_cache_degraded",
    "1 while Redis is configured but unreachable and the in-process cache serves instead",
)
CACHE_BACKEND_ERRORS = Counter(
    "mcp_cache_backend_errors_total",
    "Redis operations that failed and sent the cache to its in-process fallback",
)
