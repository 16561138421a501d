"""Jinja2 templates (autoescaped) and the headers every dashboard page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.dashboard.static import VERSIONS
from app.domain.policy import ChannelPolicy

TEMPLATES = Path(__file__).parent / "templates"

# Nothing but our own files: no script at all, styles only from /dashboard/static, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # forms carry their Origin; no other site learns our URLs
    "Cache-Control": "no-store",
}


def _sat(value: int | float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _changes(before: ChannelPolicy, after: ChannelPolicy) -> list[str]:
    """Each policy field that differs, as "field before → after" (what a write or decision moves)."""
    return [
        f"{name} {getattr(before, name)!s:s} → {getattr(after, name)!s:s}".replace("None", "unknown")
        for name in ChannelPolicy.model_fields
        if getattr(before, name) != getattr(after, name)
    ]


def _readback(observed: ChannelPolicy | None, before: ChannelPolicy, target: ChannelPolicy) -> str:
    """What the last read-back found: the target, the backup, something else, or nothing yet."""
    if observed is None:
        return "–"
    if observed == target:
        return "target"
    return "backup" if observed == before else "other"


def _short_id(value: str) -> str:
    """The random tail of a record id (ids begin with their time, so their heads look alike)."""
    return f"…{value[-8:]}"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(sat=_sat, pct=_pct, score=_score, when=_when, short_id=_short_id)
    environment.globals.update(changes=_changes, readback=_readback)
    environment.globals["static_versions"] = VERSIONS
    return environment


ENVIRONMENT = _environment()


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered into a page with the dashboard's security headers."""
    body = ENVIRONMENT.get_template(name).render(**context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
