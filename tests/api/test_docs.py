"""/docs works offline: Swagger UI and its assets come from the service itself, open like /openapi.json."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.api.docs import ASSETS, ASSETS_PATH
from tests.api.conftest import Service

# Every URL the page names: in attributes (src=, href=) and in its script (url: '...').
URL_IN_PAGE = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")
CONTENT_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


async def test_docs_page_loads_only_assets_of_this_service_without_a_key(service: Service):
    async with service.client() as anonymous:
        page = await anonymous.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = URL_IN_PAGE.findall(page.text)
        assert {url for url in urls if url.startswith(ASSETS_PATH)} == {f"{ASSETS_PATH}/{a}" for a in ASSETS}
        assert "/openapi.json" in urls
        # No URL to another host anywhere in the page, linked or not (FastAPI's default names a CDN).
        assert not re.findall(r"(?:https?:)?//[^\s'\"]+", page.text), page.text
        assert all(not urlsplit(url).netloc for url in urls)
        assert '"validatorUrl": null' in page.text  # Swagger UI would otherwise ask an outside validator
        for asset in ASSETS:
            response = await anonymous.get(f"{ASSETS_PATH}/{asset}")
            assert response.status_code == 200, asset
            assert response.headers["content-type"].startswith(CONTENT_TYPES[asset]), response.headers
            assert len(response.content) > 1_000
        assert (await anonymous.get("/openapi.json")).status_code == 200
        assert (await anonymous.get("/redoc")).status_code == 404  # it would load from a CDN
        assert (await anonymous.get("/api/v1/nodes")).status_code == 401  # the rest still needs a key


async def test_docs_assets_serve_only_the_listed_files(service: Service):
    async with service.client() as anonymous:
        for name in ("index.html", "redoc.standalone.js", "..%2F..%2Fconsts.py", "%2Fetc%2Fpasswd"):
            response = await anonymous.get(f"{ASSETS_PATH}/{name}")
            assert response.status_code == 404, name
            assert response.json()["error"]["code"] == "not_found"


async def test_the_openapi_document_leaves_the_docs_routes_out(service: Service):
    async with service.client() as anonymous:
        paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]
