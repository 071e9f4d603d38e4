"""Validation of VPPD documents: JSON Schema plus the semantic rules a schema cannot express.

Every problem is a :class:`DocumentError` carrying the RFC 6901 JSON pointer of the
offending field and a human sentence. The functions here never raise on a bad document,
whatever its shape, and import nothing from Django so the CLI and tests can use them
anywhere.

The schema may mark a subschema with ``x-error-message`` (used instead of the generic
message for any failure of that subschema's own keywords) and a pattern with
``x-pattern-hint`` (what a valid value looks like).
"""

from __future__ import annotations

import base64
import binascii
import copy
import difflib
import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

__all__ = [
    "ENVIRONMENT_FLAGS",
    "SCHEMA_VERSION",
    "DocumentError",
    "load_vppd_schema",
    "parse_vppd_text",
    "vppd_errors",
]

SCHEMA_VERSION = "1.0"
ENVIRONMENT_FLAGS = ("Development", "Testing", "Production")

MAX_DEPTH = 64  # deepest nesting accepted anywhere, free-form maps included
MAX_JSON_DIGITS = 4000  # below Python's int/str conversion limit
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1

_SCHEMA_PATH = Path(__file__).with_name("schema.json")


@dataclass(frozen=True, order=True)
class DocumentError:
    path: str  # RFC 6901 JSON pointer of the offending field, "" for the document root
    message: str  # human sentence, no traceback

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# --------------------------------------------------------------------------- schema


@functools.cache
def _schema() -> dict:
    with _SCHEMA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_vppd_schema() -> dict:
    """The parsed ``schema.json`` (read once; each call returns a copy safe to change)."""
    return copy.deepcopy(_schema())


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262: "$" is the very end of the string. Python's "$"
    # also matches before a trailing newline, which would let "web\n" pass as a slug.
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


_VPPDValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@functools.cache
def _validator() -> Any:
    return _VPPDValidator(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


# --------------------------------------------------------------------------- helpers


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + _escape(part) for part in parts)


def _show(value: Any, limit: int = 60) -> str:
    """A short JSON-ish rendering of a value for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_TYPE_NAMES = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}

_FORMAT_NAMES = {
    "ipv4": "a valid IPv4 address such as 10.0.0.1",
    "regex": "a valid regular expression",
}


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


# --------------------------------------------------------------------------- sanitizing


def _sanitize(document: Any) -> tuple[Any, list[DocumentError]]:
    """A plain JSON copy of the document, and errors for whatever is not plain JSON.

    Values that are not JSON (sets, objects, non-finite floats, integers beyond 64 bits,
    nesting deeper than ``MAX_DEPTH``, cycles) become ``None`` in the copy.
    """
    errors: list[DocumentError] = []

    def convert(value: Any, parts: list[object], depth: int) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            if _INT_MIN <= value <= _INT_MAX:
                return int(value)
            errors.append(
                DocumentError(_pointer(parts), "number is too large: integers must fit in 64 bits")
            )
            return None
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            errors.append(DocumentError(_pointer(parts), "must be a finite number"))
            return None
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                errors.append(
                    DocumentError(
                        _pointer(parts), f"is nested too deeply (more than {MAX_DEPTH} levels)"
                    )
                )
                return None
            if isinstance(value, list):
                return [
                    convert(item, [*parts, index], depth + 1) for index, item in enumerate(value)
                ]
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    errors.append(
                        DocumentError(
                            _pointer(parts),
                            f"has a key that is not a string ({type(key).__name__}); JSON keys are strings",
                        )
                    )
                    continue
                out[str(key)] = convert(item, [*parts, key], depth + 1)
            return out
        errors.append(
            DocumentError(_pointer(parts), f"is not a JSON value ({type(value).__name__})")
        )
        return None

    return convert(document, [], 0), errors


# --------------------------------------------------------------------------- schema errors


def _translate(error: ValidationError) -> list[DocumentError]:
    """Turn one jsonschema error into clear messages with pointers."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    path = _pointer(error.absolute_path)
    instance = error.instance
    keyword = error.validator
    value = error.validator_value

    custom = schema.get("x-error-message")
    if isinstance(custom, str) and keyword is not None:
        return [DocumentError(path, custom)]

    if keyword in ("oneOf", "anyOf") and error.context:
        best = best_match(error.context)
        if best is not None:
            return _translate(best)

    secret = bool(schema.get("writeOnly"))
    shown = "the value" if secret else _show(instance)

    if keyword is None:
        return [DocumentError(path, "is not allowed here")]
    if keyword == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        names = [_TYPE_NAMES.get(str(t), str(t)) for t in wanted]
        return [DocumentError(path, f"must be {_or_list(names)}, not {_json_type(instance)}")]
    if keyword == "required":
        present = instance if isinstance(instance, dict) else {}
        return [
            DocumentError(path, f"missing required field '{name}'")
            for name in value
            if name not in present
        ]
    if keyword == "additionalProperties":
        return list(_unknown_fields(path, schema, instance))
    if keyword == "dependentRequired":
        present = instance if isinstance(instance, dict) else {}
        return [
            DocumentError(path, f"'{name}' requires '{needed}'")
            for name, deps in value.items()
            if name in present
            for needed in deps
            if needed not in present
        ]
    if keyword == "enum":
        return [
            DocumentError(path, f"must be one of {', '.join(_show(v) for v in value)}; got {shown}")
        ]
    if keyword == "const":
        return [DocumentError(path, f"must be {_show(value)}")]
    if keyword == "pattern":
        hint = schema.get("x-pattern-hint")
        expected = hint if isinstance(hint, str) else f"a value matching {value}"
        return [DocumentError(path, f"{shown} is not valid: expected {expected}")]
    if keyword == "format":
        return [DocumentError(path, _format_message(value, instance, shown))]
    if keyword == "minLength":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must be at least {value} characters long")]
    if keyword == "maxLength":
        return [DocumentError(path, f"must be at most {value} characters long")]
    if keyword == "minimum":
        return [DocumentError(path, f"must be at least {value}; got {shown}")]
    if keyword == "maximum":
        return [DocumentError(path, f"must be at most {value}; got {shown}")]
    if keyword == "exclusiveMinimum":
        return [DocumentError(path, f"must be greater than {value}; got {shown}")]
    if keyword == "exclusiveMaximum":
        return [DocumentError(path, f"must be less than {value}; got {shown}")]
    if keyword == "minItems":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must have at least {value} items")]
    if keyword == "maxItems":
        return [DocumentError(path, f"must have at most {value} items")]
    if keyword == "uniqueItems":
        return _duplicate_items(path, instance)
    if keyword == "minProperties":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must have at least {value} fields")]
    if keyword == "maxProperties":
        return [DocumentError(path, f"must have at most {value} fields")]
    if keyword == "not":
        return [DocumentError(path, "is not allowed here")]
    if keyword == "oneOf":
        return [DocumentError(path, "matches more than one of the allowed forms")]
    message = error.message
    return [DocumentError(path, message if len(message) <= 200 else message[:197] + "...")]


def _unknown_fields(path: str, schema: dict, instance: Any) -> Iterator[DocumentError]:
    if not isinstance(instance, dict):
        return
    known = schema.get("properties", {})
    known = sorted(known) if isinstance(known, dict) else []
    patterns = schema.get("patternProperties", {})
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        if close:
            hint = f"; did you mean '{close[0]}'?"
        elif known:
            hint = f"; expected one of {', '.join(known)}"
        else:
            hint = ""
        shown = key if len(key) <= 60 else key[:57] + "..."
        yield DocumentError(f"{path}/{_escape(key)}", f"unknown field '{shown}'{hint}")


def _duplicate_items(path: str, instance: Any) -> list[DocumentError]:
    seen: dict[str, int] = {}
    found = []
    for index, item in enumerate(instance if isinstance(instance, list) else []):
        key = _show(item, limit=10**6)
        if key in seen:
            found.append(
                DocumentError(f"{path}/{index}", f"duplicate of item {seen[key]} ({_show(item)})")
            )
        else:
            seen[key] = index
    return found or [DocumentError(path, "must not contain duplicate items")]


def _format_message(fmt: str, instance: Any, shown: str) -> str:
    if fmt == "regex" and isinstance(instance, str):
        try:
            re.compile(instance)
        except re.error as exc:
            return f"{shown} is not a valid regular expression: {exc}"
    return f"{shown} is not {_FORMAT_NAMES.get(fmt, f'a valid {fmt}')}"


def _schema_errors(document: Any) -> list[DocumentError]:
    errors: list[DocumentError] = []
    for error in _validator().iter_errors(document):
        errors.extend(_translate(error))
    return errors


# --------------------------------------------------------------------------- semantic checks


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unique(
    items: list,
    field: str,
    base: tuple[object, ...],
    what: str,
    *,
    normalize: Callable[[Any], Any] = lambda v: v,
) -> Iterator[DocumentError]:
    """One error for each item whose ``field`` repeats an earlier item's."""
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = _dict(item).get(field)
        if not isinstance(value, str) and not _is_int(value):
            continue
        key = normalize(value)
        if key in seen:
            first = _pointer((*base, seen[key], field))
            yield DocumentError(
                _pointer((*base, index, field)),
                f"duplicate {what} {_show(value)}; already used at {first}",
            )
        else:
            seen[key] = index


def _check_install(install: Any, base: tuple[object, ...]) -> Iterator[DocumentError]:
    install = _dict(install)
    if install.get("method") == "files":
        yield from _unique(_list(install.get("files")), "path", (*base, "files"), "file path")


def _check_components(items: list, base: tuple[object, ...], what: str) -> Iterator[DocumentError]:
    yield from _unique(items, "name", base, f"{what} name")
    for index, item in enumerate(items):
        item = _dict(item)
        yield from _check_install(item.get("install"), (*base, index, "install"))
        yield from _unique(
            _list(item.get("config")), "path", (*base, index, "config"), "config file path"
        )


def _check_applications(doc: dict, **_: Any) -> Iterator[DocumentError]:
    apps = _list(doc.get("application_manifest"))
    base = ("application_manifest",)
    yield from _check_components(apps, base, "application")
    names = {_dict(app).get("name") for app in apps}
    earlier: set[str] = set()
    for index, app in enumerate(apps):
        app = _dict(app)
        own = app.get("name")
        for position, dep in enumerate(_list(app.get("depends_on"))):
            if not isinstance(dep, str):
                continue
            at = _pointer((*base, index, "depends_on", position))
            if dep == own:
                yield DocumentError(at, f"application {_show(own)} cannot depend on itself")
            elif dep in earlier:
                continue
            elif dep in names:
                yield DocumentError(
                    at,
                    f"{_show(dep)} is listed after this application; applications are installed "
                    "in manifest order, so move it earlier",
                )
            else:
                yield DocumentError(
                    at, f"there is no application named {_show(dep)} in the manifest"
                )
        if isinstance(own, str):
            earlier.add(own)


def _check_volumes(
    doc: dict, *, key_ref_exists: Callable[[str], bool] | None = None, **_: Any
) -> Iterator[DocumentError]:
    volumes = _list(doc.get("data_volume_definitions"))
    base = ("data_volume_definitions",)
    yield from _unique(volumes, "name", base, "volume name")
    yield from _unique(volumes, "mount_point", base, "mount point")
    if key_ref_exists is None:
        return
    for index, volume in enumerate(volumes):
        encryption = _dict(_dict(volume).get("encryption"))
        key_ref = encryption.get("key_ref")
        if (
            encryption.get("enabled") is True
            and isinstance(key_ref, str)
            and not key_ref_exists(key_ref)
        ):
            yield DocumentError(
                _pointer((*base, index, "encryption", "key_ref")),
                f"no key named {_show(key_ref)} is held",
            )


def _check_ipv4(config: dict, base: tuple[object, ...]) -> Iterator[DocumentError]:
    address = config.get("address")
    if not isinstance(address, str):
        return
    try:
        interface = ipaddress.IPv4Interface(address)
    except ValueError as exc:
        yield DocumentError(
            _pointer((*base, "address")), f"{_show(address)} is not a valid IPv4 address: {exc}"
        )
        return
    ip, net = interface.ip, interface.network
    has_special = net.prefixlen <= 30  # /31 and /32 have no network or broadcast address
    if has_special and ip == net.network_address:
        yield DocumentError(
            _pointer((*base, "address")),
            f"{ip} is the network address of {net}; use a host address",
        )
    if has_special and ip == net.broadcast_address:
        yield DocumentError(
            _pointer((*base, "address")),
            f"{ip} is the broadcast address of {net}; use a host address",
        )
    gateway = config.get("gateway")
    if not isinstance(gateway, str):
        return
    try:
        gw = ipaddress.IPv4Address(gateway)
    except ValueError:
        return  # reported by the schema's format check
    at = _pointer((*base, "gateway"))
    if gw not in net:
        yield DocumentError(at, f"gateway {gw} is outside the interface's subnet {net}")
    elif gw == ip:
        yield DocumentError(at, f"gateway {gw} is the interface's own address")
    elif has_special and gw in (net.network_address, net.broadcast_address):
        kind = "network" if gw == net.network_address else "broadcast"
        yield DocumentError(at, f"gateway {gw} is the {kind} address of {net}")


def _check_cidr(value: Any, at: str) -> Iterator[DocumentError]:
    if not isinstance(value, str):
        return
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            yield DocumentError(at, f"{_show(value)} is not a valid IP address or network: {exc}")
        else:
            yield DocumentError(at, f"{_show(value)} has host bits set; did you mean {loose}?")


def _check_network(doc: dict, **_: Any) -> Iterator[DocumentError]:
    network = _dict(doc.get("network_configuration"))
    interfaces = _list(network.get("interfaces"))
    base = ("network_configuration", "interfaces")
    yield from _unique(interfaces, "name", base, "interface name")
    yield from _unique(interfaces, "mac", base, "MAC address", normalize=lambda v: str(v).lower())
    for index, interface in enumerate(interfaces):
        interface = _dict(interface)
        mac = interface.get("mac")
        if isinstance(mac, str) and re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", mac):
            at = _pointer((*base, index, "mac"))
            if int(mac[:2], 16) & 1:
                yield DocumentError(
                    at, f"{mac} is a multicast address; the lowest bit of the first octet must be 0"
                )
            elif int(mac.replace(":", ""), 16) == 0:
                yield DocumentError(at, "00:00:00:00:00:00 is not a usable MAC address")
        yield from _check_ipv4(_dict(interface.get("ipv4")), (*base, index, "ipv4"))

    rules_base = ("network_configuration", "firewall_rules")
    for index, rule in enumerate(_list(network.get("firewall_rules"))):
        rule = _dict(rule)
        for field in ("source", "destination"):
            yield from _check_cidr(rule.get(field), _pointer((*rules_base, index, field)))
        protocol = rule.get("protocol")
        for field in ("port", "port_range"):
            if field in rule and protocol in ("icmp", "all"):
                yield DocumentError(
                    _pointer((*rules_base, index, field)),
                    f"ports apply only to tcp and udp rules, not {_show(protocol)}",
                )
        port_range = _dict(rule.get("port_range"))
        low, high = port_range.get("from"), port_range.get("to")
        if _is_int(low) and _is_int(high) and low > high:
            yield DocumentError(
                _pointer((*rules_base, index, "port_range")),
                f"from ({low}) must not be greater than to ({high})",
            )


def _check_resources(doc: dict, **_: Any) -> Iterator[DocumentError]:
    resources = _dict(doc.get("resource_allocation"))
    limits = _dict(resources.get("limits"))
    base = ("resource_allocation", "limits")
    vcpus, memory = resources.get("vcpus"), resources.get("memory_mib")
    hard = limits.get("memory_hard_limit_mib")
    if _is_int(hard) and _is_int(memory) and hard < memory:
        yield DocumentError(
            _pointer((*base, "memory_hard_limit_mib")),
            f"must be at least memory_mib ({memory}); got {hard}",
        )
    percent = limits.get("cpu_quota_percent")
    if _is_int(percent) and _is_int(vcpus) and percent > 100 * vcpus:
        yield DocumentError(
            _pointer((*base, "cpu_quota_percent")),
            f"must be at most {100 * vcpus} (100 per vCPU, {vcpus} vCPUs); got {percent}",
        )
    period, quota = limits.get("cpu_period_us"), limits.get("cpu_quota_us")
    if _is_int(period) and _is_int(quota) and _is_int(vcpus) and quota > period * vcpus:
        yield DocumentError(
            _pointer((*base, "cpu_quota_us")),
            f"must be at most cpu_period_us x vcpus ({period * vcpus}); got {quota}",
        )
    storage = resources.get("storage_gib")
    if _is_number(storage) and not storage > 0:
        yield DocumentError(
            _pointer(("resource_allocation", "storage_gib")), "must be greater than 0"
        )


def _ssh_key_problem(line: str) -> str | None:
    parts = line.split(" ", 2)
    if len(parts) < 2:
        return "is not an SSH public key line (type, key data, optional comment)"
    kind, data = parts[0], parts[1]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"the key data of this {kind} key is not valid base64"
    length = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    embedded = raw[4 : 4 + length] if 0 <= length <= len(raw) - 4 else None
    if embedded is None or len(raw) < 4 + length + 4:
        return f"the key data of this {kind} key is truncated or not an SSH public key"
    if embedded != kind.encode():
        name = embedded.decode("ascii", "replace")
        return f"the key data is a {_show(name)} key but the line says {kind}"
    return None


def _check_security(doc: dict, **_: Any) -> Iterator[DocumentError]:
    security = _dict(doc.get("security_profile"))
    users = _list(security.get("users"))
    groups = _list(security.get("groups"))
    yield from _unique(users, "name", ("security_profile", "users"), "user name")
    yield from _unique(users, "uid", ("security_profile", "users"), "uid")
    yield from _unique(groups, "name", ("security_profile", "groups"), "group name")
    yield from _unique(groups, "gid", ("security_profile", "groups"), "gid")
    for index, user in enumerate(users):
        user = _dict(user)
        name, uid = user.get("name"), user.get("uid")
        at = _pointer(("security_profile", "users", index, "uid"))
        if uid == 0 and _is_int(uid) and name != "root":
            yield DocumentError(at, f"uid 0 is reserved for root; give {_show(name)} another uid")
        if name == "root" and _is_int(uid) and uid != 0:
            yield DocumentError(at, f"root must have uid 0; got {uid}")
        for position, key in enumerate(_list(user.get("ssh_authorized_keys"))):
            if isinstance(key, str):
                problem = _ssh_key_problem(key)
                if problem:
                    base = ("security_profile", "users", index, "ssh_authorized_keys", position)
                    yield DocumentError(_pointer(base), problem)
    yield from _unique(
        _list(security.get("permissions")),
        "path",
        ("security_profile", "permissions"),
        "permission path",
    )


def _check_runtimes(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _check_components(
        _list(doc.get("runtime_environment")), ("runtime_environment",), "runtime"
    )


def _check_agents(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _check_components(
        _list(doc.get("monitoring_agents")), ("monitoring_agents",), "agent"
    )


def _check_flags(doc: dict, **_: Any) -> Iterator[DocumentError]:
    if "execution_flags" not in doc:
        return
    flags = [flag for flag in _list(doc.get("execution_flags")) if isinstance(flag, str)]
    found = [flag for flag in flags if flag in ENVIRONMENT_FLAGS]
    wanted = "exactly one of Development, Testing or Production"
    if not found:
        lowered = {flag.lower(): flag for flag in ENVIRONMENT_FLAGS}
        near = [(flag, lowered[flag.lower()]) for flag in flags if flag.lower() in lowered]
        hint = f"; did you mean '{near[0][1]}' instead of '{near[0][0]}'?" if near else ""
        yield DocumentError("/execution_flags", f"must contain {wanted}{hint}")
    elif len(found) > 1:
        yield DocumentError("/execution_flags", f"must contain {wanted}, not {', '.join(found)}")


def _check_fixes(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _unique(_list(doc.get("fixes")), "id", ("fixes",), "fix id")


_SEMANTIC_CHECKS: tuple[tuple[str, Callable[..., Iterator[DocumentError]]], ...] = (
    ("application_manifest", _check_applications),
    ("data_volume_definitions", _check_volumes),
    ("network_configuration", _check_network),
    ("resource_allocation", _check_resources),
    ("security_profile", _check_security),
    ("runtime_environment", _check_runtimes),
    ("monitoring_agents", _check_agents),
    ("execution_flags", _check_flags),
    ("fixes", _check_fixes),
)


# --------------------------------------------------------------------------- public API


def vppd_errors(
    document: object, *, key_ref_exists: Callable[[str], bool] | None = None
) -> list[DocumentError]:
    """Every problem of a VPPD document, sorted by path, without duplicates.

    Schema errors come first in spirit: a section's semantic rules only run when that
    section passed the schema. ``key_ref_exists`` (optional) tells whether a named
    volume key is held; exceptions it raises propagate.
    """
    if not isinstance(document, dict):
        return [
            DocumentError("", f"the document must be a JSON object, not {_json_type(document)}")
        ]
    clean, errors = _sanitize(document)
    bad_paths = {error.path for error in errors}
    try:
        schema_errors = _schema_errors(clean)
    except RecursionError:  # pragma: no cover - nesting is capped by _sanitize
        schema_errors = [DocumentError("", "the document is nested too deeply")]
    errors.extend(error for error in schema_errors if error.path not in bad_paths)

    for section, check in _SEMANTIC_CHECKS:
        prefix = "/" + section
        if any(e.path == prefix or e.path.startswith(prefix + "/") for e in errors):
            continue
        errors.extend(check(clean, key_ref_exists=key_ref_exists))
    return sorted(set(errors))


_CONSTANT = re.compile(
    r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)'
    rf"|((?<![.0-9eE+-])-?[0-9]{{{MAX_JSON_DIGITS + 1},}}(?![.0-9eE]))"
)


class _NonStandardNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonStandardNumber(name)


def _parse_int(text: str) -> int:
    if len(text) > MAX_JSON_DIGITS:
        raise _NonStandardNumber(text)
    return int(text)


class _DuplicateKeys(dict):
    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    duplicates = []
    for key, value in pairs:
        if key in result and key not in duplicates:
            duplicates.append(key)
        result[key] = value
    if not duplicates:
        return result
    marked = _DuplicateKeys(result)
    marked.duplicates = duplicates
    return marked


def _duplicate_key_errors(value: Any, parts: list[object]) -> Iterator[DocumentError]:
    stack = [(value, parts)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, _DuplicateKeys):
            for key in current.duplicates:
                yield DocumentError(
                    _pointer([*where, key]),
                    "appears more than once in its object; JSON keys must be unique",
                )
        if isinstance(current, dict):
            stack.extend((item, [*where, key]) for key, item in current.items())
        elif isinstance(current, list):
            stack.extend((item, [*where, index]) for index, item in enumerate(current))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def parse_vppd_text(text: str) -> tuple[object | None, list[DocumentError]]:
    """Parse JSON text. Returns ``(document, [])`` or ``(None, errors)``.

    Errors point at the line and column of the problem. ``NaN``, ``Infinity``, numbers of
    more than 4000 digits and repeated keys in one object are rejected.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [DocumentError("", f"Invalid JSON: the text is not UTF-8 ({exc.reason})")]
    if not isinstance(text, str):
        return None, [DocumentError("", f"Invalid JSON: expected text, not {type(text).__name__}")]
    text = text.removeprefix("\ufeff")
    try:
        document = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            object_pairs_hook=_object_pairs,
        )
    except json.JSONDecodeError as exc:
        return None, [
            DocumentError("", f"Invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        ]
    except _NonStandardNumber:
        for match in _CONSTANT.finditer(text):
            if match.group(1) or match.group(2):
                line, column = _line_column(text, match.start())
                what = (
                    f"{match.group(1)} is not a JSON number"
                    if match.group(1)
                    else f"number has more than {MAX_JSON_DIGITS} digits"
                )
                return None, [
                    DocumentError("", f"Invalid JSON at line {line} column {column}: {what}")
                ]
        return None, [DocumentError("", "Invalid JSON: non-standard number")]
    except RecursionError:
        return None, [DocumentError("", "Invalid JSON: the text is nested too deeply")]
    except ValueError as exc:
        return None, [DocumentError("", f"Invalid JSON: {exc}")]
    duplicates = sorted(set(_duplicate_key_errors(document, [])))
    if duplicates:
        return None, duplicates
    return document, []
