"""Swagger UI at /docs with its assets served by the app itself, so the page works without a CDN.

The assets come from the `fastapi-offline` package, which ships a current Swagger UI 5 build (FastAPI
emits OpenAPI 3.1, which older bundles cannot render). Like /openapi.json, the page and its assets are
open: they describe the API and hold no tenant data.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from app.errors import NotFoundError

DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = f"{DOCS_PATH}/assets"
ASSET_PACKAGE: Final = "fastapi_offline"
SWAGGER_JS: Final = "swagger-ui-bundle.js"
SWAGGER_CSS: Final = "swagger-ui.css"
FAVICON: Final = "favicon.png"
ASSETS: Final = (SWAGGER_JS, SWAGGER_CSS, FAVICON)
# Swagger UI asks an outside validator for a badge by default: that is a request to another host.
SWAGGER_UI_PARAMETERS: Final[dict[str, Any]] = {"validatorUrl": None}

router = APIRouter(include_in_schema=False)


def asset_file(name: str) -> Path:
    """The packaged file of one of the assets the page loads."""
    return Path(str(files(ASSET_PACKAGE) / "static" / name))


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page for this API's OpenAPI document."""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{root}{ASSETS_PATH}/{SWAGGER_JS}",
        swagger_css_url=f"{root}{ASSETS_PATH}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/{FAVICON}",
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )


@router.get(f"{ASSETS_PATH}/{{name}}")
async def swagger_ui_asset(name: str) -> FileResponse:
    """One of the page's assets; only the listed names are served, anything else is not found."""
    if name not in ASSETS:
        raise NotFoundError(f"no docs asset {name!r}", {"name": name})
    return FileResponse(asset_file(name))
