"""The dashboard's router, mounted at /dashboard by create_app (kept out of the OpenAPI: these are pages)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.dashboard import ledger_routes, login_routes, read_routes
from app.dashboard.pages import PREFIX, redirect

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("")
async def home() -> Response:
    """The node list (or the login page, from there)."""
    return redirect("/nodes")


for part in (login_routes.router, read_routes.router, ledger_routes.router):
    router.include_router(part)
