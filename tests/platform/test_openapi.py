"""The live OpenAPI 3.1 document and the /api/docs page (local assets only)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema

# API.md's platform paths (relative to /api/v1) with the methods each must document
CONTRACT_PATHS = {
    "/apps": {"get", "post"},
    "/apps/{app}/entities": {"get", "post"},
    "/apps/{app}/entities/{entity}": {"get", "put", "delete"},
    "/apps/{app}/entities/{entity}/records": {"get", "post"},
    "/apps/{app}/entities/{entity}/records/{id}": {"get", "patch", "delete"},
    "/apps/{app}/audit": {"get"},
    "/users": {"get", "post"},
    "/roles": {"get", "post"},
    "/tokens": {"post"},
    "/auth/login": {"post"},
    "/templates": {"get"},
    "/templates/{key}/install": {"post"},
    "/apps/import": {"post"},
    "/apps/{app}/export": {"get"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


def check_document(spec: dict[str, Any]) -> None:
    """Structural checks of an OpenAPI 3.1 document (no validator package is installed)."""
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"]), spec["openapi"]
    assert spec["info"]["title"] and spec["info"]["version"]
    for ref in all_refs(spec):
        resolve(spec, ref)
    for name, schema in spec["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:  # pragma: no cover - reported by the assert
            raise AssertionError(f"components.schemas[{name}]: {exc.message}") from None
    operation_ids = []
    for path, item in spec["paths"].items():
        assert path.startswith("/"), path
        template_params = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert operation["responses"], (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d|default", status), (path, method, status)
            declared = {p["name"] for p in operation.get("parameters", []) + item.get(
                "parameters", []) if p.get("in") == "path"}
            assert template_params <= declared, (path, method, template_params, declared)
            if "operationId" in operation:
                operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_anonymous_document_lists_the_contract(client):
    response = client.get("/api/v1/openapi.json")
    spec = expect(response, 200)
    assert response.mimetype == "application/json"
    check_document(spec)
    for path, methods in CONTRACT_PATHS.items():
        assert path in spec["paths"], f"{path} is missing"
        assert methods <= set(spec["paths"][path]), (path, set(spec["paths"][path]))
    login = spec["paths"]["/auth/login"]["post"]
    assert "security" not in login or login["security"] == []
    assert spec["paths"]["/apps"]["get"]["security"] == [{"bearer": []}]
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]["error"]["required"]) >= {"code", "message"}
    # no entity of any app leaks to an anonymous reader
    assert not any(p.startswith("/apps/crm/") for p in spec["paths"])


def test_authenticated_document_has_each_entity(crm, client, login):
    spec = expect(crm.get("/openapi.json"), 200)
    check_document(spec)
    base = "/apps/crm/entities/customer/records"
    assert {"get", "post"} <= set(spec["paths"][base])
    assert "get" in spec["paths"][base + "/{id}"]
    out = spec["components"]["schemas"]["crm.customer"]
    assert {"id", "version", "created_at", "created_by", "updated_at", "updated_by", "name",
            "limit", "level", "owner_customer"} <= set(out["properties"])
    body_ref = spec["paths"][base]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["$ref"]
    schema = resolve(spec, body_ref)
    assert schema["required"] == ["name"]
    assert set(schema["properties"]) == {"name", "limit", "level", "owner_customer"}
    assert schema["additionalProperties"] is False
    # the published schema says what the API enforces
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"name": "甲", "limit": "1234.50", "level": "A"})
    for bad in ({"limit": "1.00"}, {"name": "甲", "limit": 12.5}, {"name": "甲", "level": "Z"},
                {"name": "甲", "ghost": 1}, {"name": "甲", "limit": "1.234"}):
        assert not validator.is_valid(bad), bad
    listing = spec["paths"][base]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"]
    assert {"items", "total", "next_cursor"} <= set(listing["properties"])

    expect(crm.post("/apps/crm/entities", {"key": "contact", "fields": [
        {"key": "phone", "type": "phone"}]}), 201)
    spec = expect(crm.get("/openapi.json"), 200)
    assert "/apps/crm/entities/contact/records" in spec["paths"]
    assert "crm.contact" in spec["components"]["schemas"]
    outsider = expect(login("outsider").get("/openapi.json"), 200)
    assert not any(p.startswith("/apps/crm/") for p in outsider["paths"])
    assert "crm.customer" not in outsider["components"]["schemas"]


def test_document_hides_hidden_fields(crm, login):
    expect(crm.put("/apps/crm/entities/customer", {"key": "customer", "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "salary", "type": "money", "permissions": {"member": "hidden"}}]}), 200)
    member = expect(login("member").get("/openapi.json"), 200)
    assert "salary" not in member["components"]["schemas"]["crm.customer"]["properties"]
    assert "salary" not in member["components"]["schemas"]["crm.customer.input"]["properties"]
    admin = expect(crm.get("/openapi.json"), 200)
    assert "salary" in admin["components"]["schemas"]["crm.customer"]["properties"]


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    refs = re.findall(r"""(?:src|href|data-spec)\s*=\s*["']([^"']+)["']""", html)
    assert refs, html
    assert any(r.endswith(".js") for r in refs)
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"non-local asset {ref}"
        with client.get(ref) as asset:  # static files stream: close them
            assert asset.status_code == 200, ref
            if ref.endswith("api_docs.js"):
                assert "http://" not in asset.get_data(as_text=True)
                assert "https://" not in asset.get_data(as_text=True)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
