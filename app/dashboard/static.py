"""The dashboard's static files, read once at import and served from memory with their own type."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import Response

from app.errors import NotFoundError

STATIC = Path(__file__).parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
# Only the files present at start-up, by exact name: nothing outside this folder can be asked for.
_FILES = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.suffix in _TYPES}
VERSIONS = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in _FILES.items()}


def static_response(name: str) -> Response:
    """One static file, cacheable for a day (links carry its content hash, so a change is fetched anew)."""
    body = _FILES.get(name)
    if body is None:
        raise NotFoundError("no such dashboard file")
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=_TYPES[Path(name).suffix], headers=headers)
