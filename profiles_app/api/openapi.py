"""A policy kind's JSON Schema as OpenAPI 3.0 components, for the API docs.

OpenAPI 3.0 schema objects accept a subset of JSON Schema: the keywords below are kept
as they are; a few others are translated and the rest (conditionals, dependent schemas,
...) are dropped from the API docs. The full contract is the JSON Schema the API serves
at the kind's ``schema_path`` (``/api/v1/schemas/vppd/`` for the VPPD).
"""

from __future__ import annotations

import re
from typing import Any

from profiles_app.kinds import get_kind

_OAS_KEYWORDS = {
    "title",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "multipleOf",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "readOnly",
    "writeOnly",
    "deprecated",
}


_OAS_TYPES = {"array", "boolean", "integer", "number", "object", "string"}


def _component_name(root: str, def_name: str) -> str:
    return f"{root}_" + re.sub(r"[^A-Za-z0-9._-]", "_", def_name)


def _ref(ref: str, root: str) -> dict:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            name = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
            return {"$ref": f"#/components/schemas/{_component_name(root, name)}"}
    if ref == "#":
        return {"$ref": f"#/components/schemas/{root}"}
    return {}  # an external or unusual reference: document it as "any value"


def _keep_enum_inline(schema: dict) -> dict:
    """Wrap a property's ``enum`` in ``allOf`` so it stays where the VPPD defines it.

    drf-spectacular lifts enums of component properties into shared ``<Name>Enum``
    components named after the property; the VPPD reuses property names (``type``,
    ``method``, ``kind``) with different choices, and mixes value types in some enums.
    """
    target = schema.get("items") if schema.get("type") == "array" else schema
    if isinstance(target, dict) and "enum" in target:
        inner = {k: target.pop(k) for k in ("type", "enum") if k in target}
        target["allOf"] = [inner, *target.get("allOf", [])]
    return schema


def openapi_schema_from_json_schema(schema: Any, root: str = "VPPD") -> dict:
    """Translate a JSON Schema (draft 2020-12 / 7) node into an OpenAPI 3.0 schema object.

    ``root`` is the component name of the schema the node belongs to: references to its
    root and its ``$defs`` become references to that component and ``<root>_<def>``.
    """
    if schema is True or not isinstance(schema, dict):
        return {}
    if schema is False:  # pragma: no cover - "nothing allowed"; isinstance above catches bools
        return {"not": {}}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OAS_KEYWORDS or key.startswith("x-"):
            out[key] = value
    if "required" in out and not out["required"]:
        del out["required"]
    if "$ref" in schema:
        ref = _ref(schema["$ref"], root)
        if not out:
            return ref
        if ref:
            out["allOf"] = [ref, *out.get("allOf", [])]
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
        out["example"] = schema["examples"][0]
    elif "example" in schema:
        out["example"] = schema["example"]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[inclusive] = value
            out[bound] = True
        elif value is True and inclusive in schema:
            out[bound] = True
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if isinstance(types, list):
        nullable = "null" in types
        real = [t for t in types if t in _OAS_TYPES]
        if nullable:
            out["nullable"] = True
        if len(real) == 1:
            out["type"] = real[0]
        elif len(real) > 1:
            out.setdefault("anyOf", []).extend({"type": t} for t in real)
    if "properties" in schema and isinstance(schema["properties"], dict):
        out["properties"] = {
            name: _keep_enum_inline(openapi_schema_from_json_schema(sub, root))
            for name, sub in schema["properties"].items()
        }
    additional = schema.get("additionalProperties")
    if isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif isinstance(additional, dict):
        out["additionalProperties"] = openapi_schema_from_json_schema(additional, root)
    elif (
        isinstance(schema.get("patternProperties"), dict) and len(schema["patternProperties"]) == 1
    ):
        (pattern_schema,) = schema["patternProperties"].values()
        out["additionalProperties"] = openapi_schema_from_json_schema(pattern_schema, root)
    items = schema.get("items")
    if isinstance(items, dict | bool):
        out["items"] = openapi_schema_from_json_schema(items, root)
    elif out.get("type") == "array":
        out["items"] = {}
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list):
            subs = [openapi_schema_from_json_schema(sub, root) for sub in schema[combinator]]
            if combinator == "allOf":
                subs = [sub for sub in subs if sub]  # conditionals that translate to nothing
            elif not all(subs):
                continue  # an alternative we cannot express: document no restriction
            if subs or out.get(combinator):
                out[combinator] = [*out.get(combinator, []), *subs]
    if isinstance(schema.get("not"), dict):
        negated = openapi_schema_from_json_schema(schema["not"], root)
        if negated:
            out["not"] = negated
    return out


def kind_openapi_components(kind: str) -> dict[str, dict]:
    """A kind's JSON Schema as OpenAPI components: ``<component>`` plus one per ``$defs``
    entry (``VPPD`` and ``VPPD_<def>`` for the VPPD)."""
    spec = get_kind(kind)
    root = spec.openapi_component
    schema = spec.schema()  # a copy: never share objects with the cached schema
    components = {}
    for section in ("$defs", "definitions"):
        for name, sub in (schema.get(section) or {}).items():
            components[_component_name(root, name)] = openapi_schema_from_json_schema(sub, root)
    root_schema = openapi_schema_from_json_schema(schema, root)
    root_schema["description"] = (
        (root_schema.get("description", "") + "\n\n").lstrip()
        + "The authoritative JSON Schema (draft 2020-12), including the conditional rules "
        f"OpenAPI 3.0 cannot express, is served at `{spec.schema_path}`."
    )
    components[root] = root_schema
    return components
