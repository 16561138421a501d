"""Cache keys namespaced by tenant and node, escaped so no id can reach into another namespace.

Layout: `mcp:{tenant}:{node}:{kind}[:{part}...]`, with `-` as the node of tenant-wide keys. Every
component is percent-encoded (`urllib.parse.quote` with no safe characters), so it never contains `:`,
`%` stays unambiguous, and the glob characters `*?[]` and the backslash cannot appear: a tenant prefix is therefore
exact both for string matching and for Redis `SCAN MATCH`. A node id that is literally `-` is encoded
as `%2D` so it cannot alias the tenant-wide scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from app.errors import InvalidInputError

ROOT: Final = "mcp"
GLOBAL_NODE: Final = "-"
MAX_COMPONENT_CHARS: Final = 512
# "#" is always percent-encoded in a kind, so this suffix can never collide with a data key.
INDEX_SUFFIX: Final = "#idx"
# Outside the `mcp:` namespace, so a tenant flush or a whole-namespace erasure never resets a counter.
GENERATION_ROOT: Final = "mcp-gen"


def _escape(component: str, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(component, str):
        raise InvalidInputError(f"cache {what} must be a string", {"field": what})
    if not component and not allow_empty:
        raise InvalidInputError(f"cache {what} must not be empty", {"field": what})
    if len(component) > MAX_COMPONENT_CHARS:
        raise InvalidInputError(
            f"cache {what} is longer than {MAX_COMPONENT_CHARS} characters", {"field": what}
        )
    return quote(component, safe="")


def tenant_scope(tenant_id: str) -> str:
    """Prefix (without the trailing `:`) of every key of one tenant."""
    return f"{ROOT}:{_escape(tenant_id, 'tenant id')}"


def node_scope(tenant_id: str, node_id: str | None) -> str:
    """Prefix (without the trailing `:`) of every key of one node; `None` is the tenant-wide scope."""
    if node_id is None:
        node = GLOBAL_NODE
    else:
        node = _escape(node_id, "node id")
        if node == GLOBAL_NODE:
            node = "%2D"
    return f"{tenant_scope(tenant_id)}:{node}"


def generation_key(tenant_id: str | None) -> str:
    """Redis counter bumped when a tenant's data changes (None: the global counter, bumped after outages)."""
    if tenant_id is None:
        return GENERATION_ROOT
    return f"{GENERATION_ROOT}:{_escape(tenant_id, 'tenant id')}"


def index_key(scope: str) -> str:
    """Redis set listing the keys written under one node scope."""
    return f"{scope}:{INDEX_SUFFIX}"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """A fully escaped cache key together with the node scope it belongs to."""

    key: str
    scope: str

    def __str__(self) -> str:
        """The key as stored in Redis."""
        return self.key


def cache_key(tenant_id: str, node_id: str | None, kind: str, *parts: str | int) -> CacheKey:
    """Build the key of `kind` (plus optional parts) for a node, or tenant-wide when `node_id` is None."""
    scope = node_scope(tenant_id, node_id)
    pieces = [_escape(kind, "kind")]
    pieces.extend(_escape(str(part), "key part", allow_empty=True) for part in parts)
    return CacheKey(key=f"{scope}:{':'.join(pieces)}", scope=scope)
