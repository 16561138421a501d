"""Unknown query parameters are refused (422), so `optimize?mode=live` is never silently run as shadow."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.errors import InvalidInputError

_declared: dict[int, frozenset[str]] = {}  # per route: its query parameters, flattened once


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameter names the route and its dependencies declare (aliases as sent on the wire)."""
    names = _declared.get(id(route))
    if names is None:
        names = frozenset(query_names(route.dependant))
        _declared[id(route)] = names
    return names


def query_names(dependant: Dependant) -> set[str]:
    """Query parameter names of a dependant and of every dependency below it."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """A 422 naming each query parameter the route does not take."""
    if not request.url.query:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - declared_query(route))
    if unknown:
        raise InvalidInputError(
            f"unknown query parameter {', '.join(unknown)}",
            {"unknown": unknown, "accepted": sorted(declared_query(route))},
        )
