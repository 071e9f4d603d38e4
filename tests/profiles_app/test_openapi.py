"""The OpenAPI description: complete, valid, warning-free, and browsable offline."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

from profiles_app.api.openapi import openapi_schema_from_json_schema
from profiles_app.vppd.validation import load_vppd_schema

EXPECTED_OPERATIONS = {
    ("/api/v1/auth/token/", "post"),
    ("/api/v1/profiles/", "get"),
    ("/api/v1/profiles/", "post"),
    ("/api/v1/profiles/{name}/", "get"),
    ("/api/v1/profiles/{name}/versions/", "get"),
    ("/api/v1/profiles/{name}/versions/", "post"),
    ("/api/v1/profiles/{name}/versions/{number}/", "get"),
    ("/api/v1/profiles/{name}/versions/{number}/", "patch"),
    ("/api/v1/profiles/{name}/versions/{number}/", "delete"),
    ("/api/v1/profiles/{name}/versions/{number}/submit/", "post"),
    ("/api/v1/profiles/{name}/versions/{number}/approve/", "post"),
    ("/api/v1/profiles/{name}/versions/{number}/reject/", "post"),
    ("/api/v1/profiles/{name}/versions/{number}/retire/", "post"),
    ("/api/v1/profiles/{name}/versions/{number}/diff/", "get"),
    ("/api/v1/profiles/{name}/versions/{number}/history/", "get"),
    ("/api/v1/schemas/vppd/", "get"),
    ("/api/v1/validate/", "post"),
}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory):
    """The schema as ``manage.py spectacular --validate --fail-on-warn`` writes it."""
    path = tmp_path_factory.mktemp("openapi") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_operation_is_documented(openapi):
    operations = {
        (path, method)
        for path, item in openapi["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
    }
    assert EXPECTED_OPERATIONS <= operations


def test_operations_declare_their_error_responses(openapi):
    for path, method in EXPECTED_OPERATIONS:
        operation = openapi["paths"][path][method]
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (path, method)
        if (
            method in ("post", "patch")
            and path != "/api/v1/profiles/{name}/versions/{number}/submit/"
        ):
            assert "400" in responses, (path, method)
        if "{number}" in path:
            assert "404" in responses, (path, method)
    for action in ("submit", "approve", "reject", "retire"):
        responses = openapi["paths"][f"/api/v1/profiles/{{name}}/versions/{{number}}/{action}/"][
            "post"
        ]["responses"]
        assert {"403", "409"} <= set(responses)
    error = openapi["components"]["schemas"]["ErrorResponse"]
    assert error["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/Error"}


def test_path_parameters_are_typed(openapi):
    params = openapi["paths"]["/api/v1/profiles/{name}/versions/{number}/"]["get"]["parameters"]
    types = {p["name"]: p["schema"]["type"] for p in params if p["in"] == "path"}
    assert types == {"name": "string", "number": "integer"}


def test_list_filters_and_pagination_are_documented(openapi):
    params = {p["name"] for p in openapi["paths"]["/api/v1/profiles/"]["get"]["parameters"]}
    assert {"search", "status", "flag", "page", "page_size"} <= params
    ok = openapi["paths"]["/api/v1/profiles/"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PaginatedProfileList"


def test_vppd_schema_is_a_component_matching_the_json_schema(openapi):
    schemas = openapi["components"]["schemas"]
    source = load_vppd_schema()
    vppd = schemas["VPPD"]
    assert vppd["type"] == "object"
    assert vppd["required"] == source["required"]
    assert set(vppd["properties"]) == set(source["properties"])
    for name in source.get("$defs", {}):
        assert f"VPPD_{name}" in schemas
    # Documents in requests and responses are described by it, or by the scheduling
    # policy's component: the store serves every kind.
    either = [
        {"$ref": "#/components/schemas/VPPD"},
        {"$ref": "#/components/schemas/SchedulingPolicy"},
    ]
    assert schemas["ProfileCreateRequest"]["properties"]["document"]["anyOf"] == either
    assert schemas["Version"]["properties"]["document"]["anyOf"] == either
    assert "SchedulingPolicy" in schemas
    # Every reference resolves.
    for ref in set(_refs(openapi)):
        kind, name = ref.split("/")[-2:]
        assert name in openapi["components"][kind], ref


def test_inline_keys_are_documented_write_only(openapi):
    key = openapi["components"]["schemas"]["VPPD_encryption"]["properties"]["key"]
    assert key["writeOnly"] is True


def test_schema_endpoint_serves_the_description(admin_client):
    response = admin_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "VPPD" in json.loads(response.content)["components"]["schemas"]


def test_api_docs_load_only_local_assets(admin_client):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), "the docs page must not reference a CDN"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads its scripts and styles from somewhere"
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a shipped static file"


def test_json_schema_translation_to_openapi():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"const": "x"},
            "b": {"type": ["string", "null"], "maxLength": 3},
            "c": {"type": "number", "exclusiveMinimum": 0, "maximum": 9},
            "d": {"$ref": "#/$defs/thing", "description": "see thing"},
            "e": {"type": ["string", "integer"]},
            "f": {"type": "array", "prefixItems": [{"type": "string"}]},
            "g": {"enum": ["p", "q"], "title": "G"},
        },
        "if": {"properties": {"a": {"const": "x"}}},
        "then": {"required": ["b"]},
        "allOf": [{"if": {"required": ["a"]}, "then": {"required": ["c"]}}],
    }
    out = openapi_schema_from_json_schema(schema)
    assert "$schema" not in out and "if" not in out and "allOf" not in out
    props = out["properties"]
    assert props["a"] == {"allOf": [{"enum": ["x"]}]}
    assert props["b"] == {"maxLength": 3, "nullable": True, "type": "string"}
    assert props["c"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 9}
    assert props["d"] == {
        "description": "see thing",
        "allOf": [{"$ref": "#/components/schemas/VPPD_thing"}],
    }
    assert props["e"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert props["f"] == {"type": "array", "items": {}}
    assert props["g"] == {"title": "G", "allOf": [{"enum": ["p", "q"]}]}
