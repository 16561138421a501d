"""Framework errors in the one error shape, and the error responses the OpenAPI documents."""

from __future__ import annotations

from tests.api.conftest import Service


async def test_wrong_method_names_every_method_of_the_path(service: Service):
    async with service.client() as http:
        response = await http.patch("/api/v1/nodes")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    async with service.client() as http:
        response = await http.delete("/api/v1/nodes/abc/settings")
    assert response.headers["allow"] == "GET, PUT"


async def test_openapi_declares_bearer_auth_and_the_error_shape_on_every_api_route(service: Service):
    async with service.client() as http:
        schema = (await http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    api_operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]
    assert len(api_operations) >= 19
    for path, method, operation in api_operations:
        assert operation["security"] == [{"HTTPBearer": []}], (method, path)
        for status in ("401", "404", "422", "429", "503"):
            content = operation["responses"][status]["content"]["application/json"]["schema"]
            assert content == error_ref, (method, path, status)
    for open_path in ("/health", "/ready"):
        assert "security" not in schema["paths"][open_path]["get"]
