"""Framework errors in the one error shape, and the error responses the OpenAPI documents."""

from __future__ import annotations

import base64

from tests.api.conftest import Service, tenant_with_key


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


async def test_a_credential_that_cannot_be_opened_is_a_server_error_that_names_no_secret(service: Service):
    _, key = await tenant_with_key(service, "broken-vault")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        secrets = service.app.state.runtime.storage.database["secrets"]
        stored = await secrets.find_one({"node_id": node_id})
        tampered = base64.b64encode(bytes(len(base64.b64decode(stored["ciphertext"])))).decode()
        await secrets.update_one({"_id": stored["_id"]}, {"$set": {"ciphertext": tampered}})
        response = await api.post(f"/api/v1/nodes/{node_id}/sync")
    assert response.status_code == 500 and response.json()["error"]["code"] == "vault_error", response.text
    assert service.simulator.fees_macaroon_hex not in response.text and tampered not in response.text
