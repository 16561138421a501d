"""Cache on Redis with an in-process fallback: TTL classes, tenant/node keys, failover and hand-back."""

from app.cache.facade import Cache
from app.cache.keys import CacheKey, cache_key, node_scope, tenant_scope
from app.cache.memory import MemoryBackend
from app.cache.status import CacheMode, CacheStats
from app.cache.ttl import TtlClass

__all__ = [
    "Cache",
    "CacheKey",
    "CacheMode",
    "CacheStats",
    "MemoryBackend",
    "TtlClass",
    "cache_key",
    "node_scope",
    "tenant_scope",
]
