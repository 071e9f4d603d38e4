"""The VPPD format: schema, semantic rules, parsing and the shipped examples."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from profiles_app.vppd import (
    SCHEMA_VERSION,
    DocumentError,
    load_vppd_schema,
    parse_vppd_text,
    vppd_errors,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = ["web-server", "database", "dev-workstation"]

ED25519_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEq25MHU198w82ePd78hJZJMBk79nmTsDlpJ/v+nW8Q4 alice@laptop"
)


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def minimal() -> dict:
    return {
        "schema_version": "1.0",
        "name": "minimal",
        "base_image_id": "tiny-linux",
        "resource_allocation": {"vcpus": 1, "memory_mib": 64, "storage_gib": 0.0625},
        "execution_flags": ["Testing"],
    }


def app(name: str, **extra: Any) -> dict:
    return {
        "name": name,
        "version": "1.0.0",
        "install": {"method": "script", "script": f"mkdir -p /opt/{name}"},
        "verify": {"command": ["/bin/sh", "-c", "true"]},
        **extra,
    }


def interface(**extra: Any) -> dict:
    return {"network": "default", **extra}


def with_network(**network: Any) -> dict:
    doc = minimal()
    doc["network_configuration"] = network
    return doc


def with_security(**security: Any) -> dict:
    doc = minimal()
    doc["security_profile"] = security
    return doc


def rule(**extra: Any) -> dict:
    return {"direction": "in", "protocol": "tcp", "action": "accept", **extra}


def volume(name: str, mount_point: str, **extra: Any) -> dict:
    return {"name": name, "size_gib": 0.0625, "mount_point": mount_point, **extra}


def messages_at(errors: list[DocumentError], path: str) -> list[str]:
    return [e.message for e in errors if e.path == path]


def assert_error(document: Any, path: str, fragment: str, **kwargs: Any) -> list[DocumentError]:
    errors = vppd_errors(document, **kwargs)
    found = messages_at(errors, path)
    assert any(fragment in message for message in found), (
        f"no error at {path!r} containing {fragment!r}; got {errors}"
    )
    return errors


# --------------------------------------------------------------------------- the schema


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_vppd_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://vmpersona.dev/schemas/vppd/1.0.json"
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION == "1.0"
    assert set(schema["required"]) == {
        "schema_version",
        "name",
        "base_image_id",
        "resource_allocation",
        "execution_flags",
    }


def _walk_properties(node: Any, where: str = "#") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found.extend((f"{where}/properties/{name}", sub) for name, sub in value.items())
            found.extend(_walk_properties(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_walk_properties(value, f"{where}/{index}"))
    return found


def test_every_property_has_a_title_and_a_description() -> None:
    missing = [
        where
        for where, sub in _walk_properties(load_vppd_schema())
        if "/if/" not in where
        and "/not/" not in where
        and not (sub.get("title") and sub.get("description"))
    ]
    assert missing == []


def test_objects_reject_unknown_fields_except_free_form_maps() -> None:
    schema = load_vppd_schema()
    open_objects = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
            ):
                # discriminated unions: the branches they $ref close the object
                if "allOf" not in node:
                    open_objects.append(where)
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}/{index}")

    visit(schema, "#")
    assert open_objects == []
    agent_config = schema["$defs"]["monitoring_agent"]["properties"]["config"]
    ids_settings = schema["$defs"]["intrusion_detection"]["properties"]["settings"]
    assert "additionalProperties" not in agent_config and "additionalProperties" not in ids_settings


def test_load_vppd_schema_returns_a_copy_callers_may_change() -> None:
    first = load_vppd_schema()
    first["properties"].clear()
    assert "name" in load_vppd_schema()["properties"]
    assert vppd_errors(minimal()) == []


# --------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_parse_and_validate(name: str) -> None:
    text = (EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8")
    document, parse_errors = parse_vppd_text(text)
    assert parse_errors == []
    assert vppd_errors(document) == []
    assert vppd_errors(document, key_ref_exists=lambda name: False) == []
    assert document["name"] == name


@pytest.mark.parametrize(
    ("name", "flag"),
    [("web-server", "Production"), ("database", "Testing"), ("dev-workstation", "Development")],
)
def test_examples_run_on_the_tiny_guest(name: str, flag: str) -> None:
    document = load_example(name)
    assert document["base_image_id"] == "tiny-linux"
    assert flag in document["execution_flags"]
    components = (
        document.get("application_manifest", [])
        + document.get("runtime_environment", [])
        + document.get("monitoring_agents", [])
    )
    assert components
    for component in components:
        if "install" in component:
            assert component["install"]["method"] in ("script", "files")
        assert component["verify"]


def test_examples_cover_the_promised_features() -> None:
    web, database, dev = (load_example(n) for n in EXAMPLE_NAMES)
    web_rules = web["network_configuration"]["firewall_rules"]
    assert {
        r["port"] for r in web_rules if r["direction"] == "in" and r.get("port") in (80, 443)
    } == {80, 443}
    assert web["network_configuration"]["interfaces"][0]["ipv4"]["address"]
    assert web["monitoring_agents"]
    assert any(v.get("encryption", {}).get("generate") for v in database["data_volume_definitions"])
    limits = database["resource_allocation"]["limits"]
    assert limits["memory_hard_limit_mib"] and limits["disk_iops"]
    assert dev["network_configuration"]["interfaces"][0]["ipv4"] == {"dhcp": True}
    assert {r["name"] for r in dev["runtime_environment"]} == {"python", "openjdk"}
    assert all(u["ssh_authorized_keys"] and u["sudo"] for u in dev["security_profile"]["users"])


# --------------------------------------------------------------------------- schema errors


def test_minimal_document_is_valid_and_fractional_sizes_are_allowed() -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [volume("scratch", "/scratch")]
    assert vppd_errors(doc) == []


def test_missing_required_fields_are_named_at_the_root() -> None:
    errors = vppd_errors({"schema_version": "1.0"})
    assert DocumentError("", "missing required field 'base_image_id'") in errors
    assert DocumentError("", "missing required field 'resource_allocation'") in errors


def test_wrong_schema_version() -> None:
    doc = minimal()
    doc["schema_version"] = "2.0"
    assert_error(doc, "/schema_version", 'must be "1.0"')


def test_gateway_format_error_points_at_the_gateway() -> None:
    doc = with_network(
        interfaces=[interface(ipv4={"address": "10.0.0.5/24", "gateway": "10.0.0.300"})]
    )
    assert_error(
        doc, "/network_configuration/interfaces/0/ipv4/gateway", "not a valid IPv4 address"
    )


def test_unknown_field_is_reported_at_its_own_pointer_with_a_suggestion() -> None:
    doc = minimal()
    doc["resource_allocation"]["memroy_mib"] = 64
    assert_error(doc, "/resource_allocation/memroy_mib", "did you mean 'memory_mib'?")


def test_wrong_type_says_what_was_expected() -> None:
    doc = minimal()
    doc["resource_allocation"]["vcpus"] = "two"
    assert_error(doc, "/resource_allocation/vcpus", "must be an integer, not a string")


@pytest.mark.parametrize(
    "name", ["Web-Server", "web_server", "-web", "web-", "web\n", "a" * 64, ""]
)
def test_profile_name_must_be_a_lowercase_slug(name: str) -> None:
    doc = minimal()
    doc["name"] = name
    assert_error(doc, "/name", "lowercase slug")


@pytest.mark.parametrize(
    ("encryption", "fragment"),
    [
        ({"enabled": True}, "give exactly one of key, key_ref or generate"),
        (
            {"enabled": True, "generate": True, "key_ref": "vault"},
            "give exactly one of key, key_ref or generate",
        ),
        ({"enabled": False, "key_ref": "vault"}, "encryption is disabled"),
    ],
)
def test_encryption_takes_exactly_one_key_source(encryption: dict, fragment: str) -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [volume("data", "/data", encryption=encryption)]
    assert_error(doc, "/data_volume_definitions/0/encryption", fragment)


@pytest.mark.parametrize(
    "encryption",
    [
        {"enabled": True, "generate": True},
        {"enabled": True, "key_ref": "vault-key-1"},
        {"enabled": True, "key": "correct horse battery"},
        {"enabled": False},
    ],
)
def test_valid_encryption_forms(encryption: dict) -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [volume("data", "/data", encryption=encryption)]
    assert vppd_errors(doc) == []


def test_inline_key_must_be_long_enough_and_is_never_echoed() -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [
        volume("data", "/data", encryption={"enabled": True, "key": "s3cret-pass"})
    ]
    errors = assert_error(
        doc, "/data_volume_definitions/0/encryption/key", "at least 16 characters"
    )
    assert not any("s3cret-pass" in e.message for e in errors)


@pytest.mark.parametrize("size", [0, -1, "1"])
def test_volume_size_must_be_a_positive_number(size: Any) -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [volume("data", "/data", size_gib=size)]
    errors = vppd_errors(doc)
    assert messages_at(errors, "/data_volume_definitions/0/size_gib")


def test_storage_must_be_positive() -> None:
    doc = minimal()
    doc["resource_allocation"]["storage_gib"] = 0
    assert_error(doc, "/resource_allocation/storage_gib", "must be greater than 0")


@pytest.mark.parametrize("port", [0, 65536, -5])
def test_ports_are_1_to_65535(port: int) -> None:
    doc = with_network(firewall_rules=[rule(port=port)])
    errors = vppd_errors(doc)
    assert messages_at(errors, "/network_configuration/firewall_rules/0/port")


def test_port_and_port_range_are_exclusive() -> None:
    doc = with_network(firewall_rules=[rule(port=80, port_range={"from": 80, "to": 90})])
    assert_error(doc, "/network_configuration/firewall_rules/0", "either port or port_range")


def test_install_method_is_checked_and_each_method_has_its_fields() -> None:
    doc = minimal()
    doc["application_manifest"] = [
        app("a", install={"method": "pip", "package": "x"}),
        app("b", install={"method": "script"}),
        app(
            "c", install={"method": "package", "manager": "apt", "package": "nginx", "verison": "1"}
        ),
        app("d", install={"method": "files", "files": []}),
        app("e", install={"method": "package", "manager": "pacman", "package": "nginx"}),
    ]
    errors = vppd_errors(doc)
    assert any(
        "must be one of" in m for m in messages_at(errors, "/application_manifest/0/install/method")
    )
    assert "missing required field 'script'" in messages_at(
        errors, "/application_manifest/1/install"
    )
    assert any(
        "did you mean 'version'" in m
        for m in messages_at(errors, "/application_manifest/2/install/verison")
    )
    assert "must not be empty" in messages_at(errors, "/application_manifest/3/install/files")
    assert messages_at(errors, "/application_manifest/4/install/manager")


def test_all_install_methods_validate() -> None:
    doc = minimal()
    doc["application_manifest"] = [
        app(
            "a", install={"method": "script", "script": "echo hi", "shell": "/bin/sh", "timeout": 5}
        ),
        app(
            "b",
            install={
                "method": "package",
                "manager": "dnf",
                "package": "nginx",
                "version": "1.22.*",
            },
        ),
        app(
            "c",
            install={
                "method": "files",
                "files": [
                    {
                        "path": "/opt/c/c.sh",
                        "content": "#!/bin/sh\necho 1\n",
                        "mode": "0755",
                        "owner": "root",
                    }
                ],
                "then": "/opt/c/c.sh",
            },
            config=[{"path": "/etc/c.conf", "content": "x=1\n"}],
            depends_on=["a", "b"],
        ),
    ]
    assert vppd_errors(doc) == []


@pytest.mark.parametrize(
    ("verify", "path", "fragment"),
    [
        ({"expect_exit_code": 0}, "", "give exactly one of command or process"),
        ({"command": ["x"], "process": "x"}, "", "give exactly one of command or process"),
        ({"process": "x", "expect_output_contains": "1"}, "", "apply only to a command"),
        (
            {"command": ["x"], "expect_output_regex": "("},
            "/expect_output_regex",
            "not a valid regular expression",
        ),
        ({"command": []}, "/command", "must not be empty"),
        ({"command": ["x"], "timeout": 0}, "/timeout", "must be greater than 0"),
    ],
)
def test_verify_forms(verify: dict, path: str, fragment: str) -> None:
    doc = minimal()
    doc["application_manifest"] = [app("a", verify=verify)]
    assert_error(doc, "/application_manifest/0/verify" + path, fragment)


@pytest.mark.parametrize(
    ("ipv4", "path", "fragment"),
    [
        ({"address": "10.0.0.5/24", "dhcp": True}, "", "either address (static) or dhcp: true"),
        ({"gateway": "10.0.0.1"}, "", "either address (static) or dhcp: true"),
        ({"dhcp": True, "dns": ["10.0.0.1"]}, "", "come from DHCP"),
        ({"dhcp": False}, "/dhcp", "must be true"),
        ({"address": "10.0.0.5"}, "/address", "with prefix length"),
    ],
)
def test_ipv4_forms(ipv4: dict, path: str, fragment: str) -> None:
    doc = with_network(interfaces=[interface(ipv4=ipv4)])
    assert_error(doc, "/network_configuration/interfaces/0/ipv4" + path, fragment)


def test_interface_fields() -> None:
    doc = with_network(
        interfaces=[interface(vlan=4095, mac="52:54:00:12:34", model="ne2k", name="Eth0")]
    )
    errors = vppd_errors(doc)
    base = "/network_configuration/interfaces/0/"
    for field in ("vlan", "mac", "model", "name"):
        assert messages_at(errors, base + field), field


def test_ssh_key_shape_is_checked_by_the_schema() -> None:
    doc = with_security(users=[{"name": "alice", "ssh_authorized_keys": ["not a key"]}])
    assert_error(doc, "/security_profile/users/0/ssh_authorized_keys/0", "SSH public key")


def test_sudo_accepts_booleans_and_nopasswd_only() -> None:
    doc = with_security(
        users=[
            {"name": "a", "sudo": "nopasswd"},
            {"name": "b", "sudo": True},
            {"name": "c", "sudo": "yes"},
        ]
    )
    errors = vppd_errors(doc)
    assert [e.path for e in errors] == ["/security_profile/users/2/sudo"]


def test_permission_needs_something_to_enforce_and_an_octal_mode() -> None:
    doc = with_security(permissions=[{"path": "/srv"}, {"path": "/srv/x", "mode": "0999"}])
    assert_error(doc, "/security_profile/permissions/0", "at least one of owner, group or mode")
    assert_error(doc, "/security_profile/permissions/1/mode", "octal")


def test_paths_must_be_absolute_and_clean() -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [
        volume("a", "data"),
        volume("b", "/data/"),
        volume("c", "/data/../etc"),
        volume("d", "/"),
    ]
    errors = vppd_errors(doc)
    for index in range(4):
        assert messages_at(errors, f"/data_volume_definitions/{index}/mount_point"), index


def test_intrusion_detection_engine_required_when_enabled() -> None:
    doc = with_security(intrusion_detection={"enabled": True, "settings": {"watch": ["/etc"]}})
    assert_error(doc, "/security_profile/intrusion_detection", "engine is required")


def test_fix_formats() -> None:
    doc = minimal()
    doc["fixes"] = [
        {
            "id": "a",
            "applies_to": {"kind": "disk_bus"},
            "action": {"type": "domain", "set": {"disk_bus": "virtio"}},
        },
        {
            "id": "b",
            "applies_to": {
                "kind": "machine_type",
                "match": {"target": {"regex": "pc-q35-.*"}, "source": "pc"},
            },
            "action": {"type": "domain", "set": {"machine_type": "q35", "cpu_mode": "host-model"}},
            "priority": 5,
        },
        {
            "id": "c",
            "applies_to": {"kind": "any"},
            "action": {
                "type": "guest_command",
                "command": ["/bin/sh", "-c", "sync"],
                "when": "before_cutover",
                "timeout": 60,
            },
        },
    ]
    assert vppd_errors(doc) == []
    doc["fixes"][0]["action"]["set"] = {"disk_bus": "floppy"}
    doc["fixes"][1]["applies_to"]["kind"] = "cpu"
    doc["fixes"][1]["applies_to"]["match"]["target"] = {"regex": "["}
    doc["fixes"][2]["action"]["when"] = "later"
    doc["fixes"].append({"id": "d", "applies_to": {"kind": "any"}, "action": {"type": "reboot"}})
    errors = vppd_errors(doc)
    assert messages_at(errors, "/fixes/0/action/set/disk_bus")
    assert messages_at(errors, "/fixes/1/applies_to/kind")
    assert any(
        "regular expression" in m
        for m in messages_at(errors, "/fixes/1/applies_to/match/target/regex")
    )
    assert messages_at(errors, "/fixes/2/action/when")
    assert messages_at(errors, "/fixes/3/action/type")


def test_domain_action_needs_a_change() -> None:
    doc = minimal()
    doc["fixes"] = [
        {"id": "a", "applies_to": {"kind": "any"}, "action": {"type": "domain", "set": {}}}
    ]
    assert_error(doc, "/fixes/0/action/set", "must not be empty")


def test_cpu_limits_forms() -> None:
    doc = minimal()
    doc["resource_allocation"]["limits"] = {"cpu_period_us": 100000}
    assert_error(doc, "/resource_allocation/limits", "'cpu_period_us' requires 'cpu_quota_us'")
    doc["resource_allocation"]["limits"] = {
        "cpu_quota_percent": 50,
        "cpu_period_us": 100000,
        "cpu_quota_us": 50000,
    }
    assert_error(doc, "/resource_allocation/limits", "not both")


def test_throughput_total_excludes_read_and_write() -> None:
    doc = minimal()
    doc["resource_allocation"]["limits"] = {"disk_iops": {"total": 100, "read": 50}}
    assert_error(doc, "/resource_allocation/limits/disk_iops", "either total, or read and/or write")


def test_execution_flag_labels_must_be_slugs() -> None:
    doc = minimal()
    doc["execution_flags"] = ["Testing", "Has Spaces"]
    assert_error(doc, "/execution_flags/1", "lowercase label")


# --------------------------------------------------------------------------- semantic rules


@pytest.mark.parametrize(
    ("section", "items", "path", "fragment"),
    [
        (
            "application_manifest",
            [app("a"), app("a")],
            "/application_manifest/1/name",
            "duplicate application name",
        ),
        (
            "data_volume_definitions",
            [volume("a", "/a"), volume("a", "/b")],
            "/data_volume_definitions/1/name",
            "duplicate volume name",
        ),
        (
            "data_volume_definitions",
            [volume("a", "/data"), volume("b", "/data")],
            "/data_volume_definitions/1/mount_point",
            "duplicate mount point",
        ),
        (
            "runtime_environment",
            [{"name": "python", "version": "3.11"}, {"name": "python", "version": "3.12"}],
            "/runtime_environment/1/name",
            "duplicate runtime name",
        ),
        (
            "monitoring_agents",
            [{"name": "n", "version": "1", "verify": {"process": "n"}}] * 2,
            "/monitoring_agents/1/name",
            "duplicate agent name",
        ),
        (
            "fixes",
            [
                {
                    "id": "f",
                    "applies_to": {"kind": "any"},
                    "action": {"type": "domain", "set": {"firmware": "efi"}},
                }
            ]
            * 2,
            "/fixes/1/id",
            "duplicate fix id",
        ),
    ],
)
def test_names_are_unique(section: str, items: list, path: str, fragment: str) -> None:
    doc = minimal()
    doc[section] = copy.deepcopy(items)
    errors = assert_error(doc, path, fragment)
    assert len(errors) == 1
    assert "already used at" in errors[0].message


@pytest.mark.parametrize(
    ("security", "path", "fragment"),
    [
        (
            {"users": [{"name": "a"}, {"name": "a"}]},
            "/security_profile/users/1/name",
            "duplicate user name",
        ),
        (
            {"users": [{"name": "a", "uid": 1000}, {"name": "b", "uid": 1000}]},
            "/security_profile/users/1/uid",
            "duplicate uid",
        ),
        (
            {"groups": [{"name": "g"}, {"name": "g"}]},
            "/security_profile/groups/1/name",
            "duplicate group name",
        ),
        (
            {"groups": [{"name": "g", "gid": 5}, {"name": "h", "gid": 5}]},
            "/security_profile/groups/1/gid",
            "duplicate gid",
        ),
        (
            {"permissions": [{"path": "/srv", "mode": "0755"}, {"path": "/srv", "owner": "root"}]},
            "/security_profile/permissions/1/path",
            "duplicate permission path",
        ),
    ],
)
def test_security_names_and_ids_are_unique(security: dict, path: str, fragment: str) -> None:
    assert_error(with_security(**security), path, fragment)


def test_interface_names_and_macs_are_unique_ignoring_case() -> None:
    doc = with_network(
        interfaces=[
            interface(name="eth0", mac="52:54:00:aa:bb:cc"),
            interface(name="eth0", mac="52:54:00:AA:BB:CC"),
        ]
    )
    errors = vppd_errors(doc)
    assert any(
        "duplicate interface name" in m
        for m in messages_at(errors, "/network_configuration/interfaces/1/name")
    )
    assert any(
        "duplicate MAC address" in m
        for m in messages_at(errors, "/network_configuration/interfaces/1/mac")
    )


def test_mac_must_be_unicast() -> None:
    doc = with_network(interfaces=[interface(mac="01:00:5e:00:00:01")])
    assert_error(doc, "/network_configuration/interfaces/0/mac", "multicast")


@pytest.mark.parametrize(
    ("depends_on", "fragment"),
    [
        (["missing"], 'there is no application named "missing"'),
        (["c"], "listed after this application"),
        (["b"], "cannot depend on itself"),
    ],
)
def test_depends_on_refers_to_earlier_applications(depends_on: list, fragment: str) -> None:
    doc = minimal()
    doc["application_manifest"] = [app("a"), app("b", depends_on=depends_on), app("c")]
    assert_error(doc, "/application_manifest/1/depends_on/0", fragment)


def test_depends_on_an_earlier_application_is_fine() -> None:
    doc = minimal()
    doc["application_manifest"] = [app("a"), app("b", depends_on=["a"])]
    assert vppd_errors(doc) == []


def test_file_paths_are_unique_within_one_install() -> None:
    doc = minimal()
    files = [{"path": "/opt/a/x", "content": "1"}, {"path": "/opt/a/x", "content": "2"}]
    doc["application_manifest"] = [app("a", install={"method": "files", "files": files})]
    assert_error(doc, "/application_manifest/0/install/files/1/path", "duplicate file path")


@pytest.mark.parametrize(
    ("ipv4", "path", "fragment"),
    [
        (
            {"address": "10.0.0.5/24", "gateway": "10.0.1.1"},
            "/gateway",
            "outside the interface's subnet 10.0.0.0/24",
        ),
        ({"address": "10.0.0.5/24", "gateway": "10.0.0.5"}, "/gateway", "interface's own address"),
        ({"address": "10.0.0.5/24", "gateway": "10.0.0.255"}, "/gateway", "broadcast address"),
        ({"address": "10.0.0.5/24", "gateway": "10.0.0.0"}, "/gateway", "network address"),
        ({"address": "10.0.0.0/24"}, "/address", "network address of 10.0.0.0/24"),
        ({"address": "10.0.0.255/24"}, "/address", "broadcast address of 10.0.0.0/24"),
        ({"address": "10.0.0.256/24"}, "/address", "not a valid IPv4 address"),
        ({"address": "10.0.0.5/33"}, "/address", "not a valid IPv4 address"),
    ],
)
def test_static_addresses_and_gateways(ipv4: dict, path: str, fragment: str) -> None:
    doc = with_network(interfaces=[interface(ipv4=ipv4)])
    assert_error(doc, "/network_configuration/interfaces/0/ipv4" + path, fragment)


@pytest.mark.parametrize(
    "ipv4",
    [
        {"address": "10.0.0.5/24", "gateway": "10.0.0.1", "dns": ["10.0.0.1", "1.1.1.1"]},
        {"address": "10.0.0.0/31", "gateway": "10.0.0.1"},
        {"address": "192.0.2.7/32"},
        {"dhcp": True},
    ],
)
def test_valid_ipv4_configurations(ipv4: dict) -> None:
    assert vppd_errors(with_network(interfaces=[interface(ipv4=ipv4)])) == []


@pytest.mark.parametrize(
    ("cidr", "fragment"),
    [
        ("10.0.0.1/8", "host bits set; did you mean 10.0.0.0/8?"),
        ("300.0.0.0/8", "not a valid IP address or network"),
        ("10.0.0.0/33", "not a valid IP address or network"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
    ],
)
def test_firewall_cidrs_are_valid(cidr: str, fragment: str) -> None:
    doc = with_network(firewall_rules=[rule(port=22, source=cidr), rule(port=22, destination=cidr)])
    assert_error(doc, "/network_configuration/firewall_rules/0/source", fragment)
    assert_error(doc, "/network_configuration/firewall_rules/1/destination", fragment)


def test_valid_firewall_rules() -> None:
    doc = with_network(
        firewall_rules=[
            rule(port=443, source="0.0.0.0/0", priority=10, comment="https"),
            rule(protocol="udp", port_range={"from": 5000, "to": 5000}, source="2001:db8::/32"),
            rule(direction="out", protocol="all", action="drop", destination="192.0.2.7"),
            rule(protocol="icmp"),
        ],
        default_policy="drop",
    )
    assert vppd_errors(doc) == []


def test_port_range_from_must_not_exceed_to() -> None:
    doc = with_network(firewall_rules=[rule(port_range={"from": 9000, "to": 8000})])
    assert_error(
        doc,
        "/network_configuration/firewall_rules/0/port_range",
        "from (9000) must not be greater than to (8000)",
    )


def test_ports_only_for_tcp_and_udp() -> None:
    doc = with_network(firewall_rules=[rule(protocol="icmp", port=8)])
    assert_error(doc, "/network_configuration/firewall_rules/0/port", "only to tcp and udp")


def test_memory_hard_limit_not_below_memory() -> None:
    doc = minimal()
    doc["resource_allocation"]["limits"] = {"memory_hard_limit_mib": 32}
    assert_error(
        doc, "/resource_allocation/limits/memory_hard_limit_mib", "at least memory_mib (64)"
    )
    doc["resource_allocation"]["limits"] = {"memory_hard_limit_mib": 64}
    assert vppd_errors(doc) == []


def test_cpu_quota_at_most_100_percent_per_vcpu() -> None:
    doc = minimal()
    doc["resource_allocation"]["vcpus"] = 2
    doc["resource_allocation"]["limits"] = {"cpu_quota_percent": 201}
    assert_error(doc, "/resource_allocation/limits/cpu_quota_percent", "at most 200")
    doc["resource_allocation"]["limits"] = {"cpu_quota_percent": 200}
    assert vppd_errors(doc) == []
    doc["resource_allocation"]["limits"] = {"cpu_period_us": 100000, "cpu_quota_us": 200001}
    assert_error(
        doc, "/resource_allocation/limits/cpu_quota_us", "at most cpu_period_us x vcpus (200000)"
    )


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ([], "exactly one of Development, Testing or Production"),
        (["web"], "exactly one of Development, Testing or Production"),
        (["Testing", "Production"], "not Testing, Production"),
        (["production", "web"], "did you mean 'Production' instead of 'production'?"),
    ],
)
def test_exactly_one_environment_flag(flags: list, fragment: str) -> None:
    doc = minimal()
    doc["execution_flags"] = flags
    assert_error(doc, "/execution_flags", fragment)


def test_uid_0_is_reserved_for_root() -> None:
    doc = with_security(users=[{"name": "admin", "uid": 0}])
    assert_error(doc, "/security_profile/users/0/uid", "reserved for root")
    doc = with_security(users=[{"name": "root", "uid": 1}])
    assert_error(doc, "/security_profile/users/0/uid", "root must have uid 0")
    assert vppd_errors(with_security(users=[{"name": "root", "uid": 0}])) == []


def test_ssh_key_data_must_match_its_type() -> None:
    kind, data, comment = ED25519_KEY.split(" ")
    users = [
        {"name": "a", "ssh_authorized_keys": [ED25519_KEY]},
        {"name": "b", "ssh_authorized_keys": [f"ssh-rsa {data} {comment}"]},
        {"name": "c", "ssh_authorized_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5A"]},
        {"name": "d", "ssh_authorized_keys": ["ssh-ed25519 AAAA"]},
    ]
    errors = vppd_errors(with_security(users=users))
    base = "/security_profile/users/{}/ssh_authorized_keys/0"
    assert messages_at(errors, base.format(0)) == []
    assert any(
        'is a "ssh-ed25519" key but the line says ssh-rsa' in m
        for m in messages_at(errors, base.format(1))
    )
    assert any("not valid base64" in m for m in messages_at(errors, base.format(2)))
    assert any("truncated" in m for m in messages_at(errors, base.format(3)))


def test_key_ref_must_exist_when_a_lookup_is_given() -> None:
    doc = minimal()
    doc["data_volume_definitions"] = [
        volume("data", "/data", encryption={"enabled": True, "key_ref": "vault-1"})
    ]
    assert vppd_errors(doc) == []
    assert_error(
        doc,
        "/data_volume_definitions/0/encryption/key_ref",
        'no key named "vault-1"',
        key_ref_exists=lambda n: False,
    )
    asked: list[str] = []
    assert vppd_errors(doc, key_ref_exists=lambda n: asked.append(n) or True) == []
    assert asked == ["vault-1"]


def test_semantic_checks_skip_malformed_sections_but_run_on_the_others() -> None:
    doc = minimal()
    doc["application_manifest"] = [app("a"), app("a")]
    doc["network_configuration"] = {
        "interfaces": [
            interface(ipv4={"address": "10.0.0.5/24", "gateway": "10.0.1.1"}),
            interface(vlan="ten"),
        ]
    }
    errors = vppd_errors(doc)
    assert [e.path for e in errors] == [
        "/application_manifest/1/name",
        "/network_configuration/interfaces/1/vlan",
    ]
    doc["network_configuration"]["interfaces"][1]["vlan"] = 10
    assert_error(
        doc, "/network_configuration/interfaces/0/ipv4/gateway", "outside the interface's subnet"
    )


def test_errors_are_sorted_and_unique() -> None:
    doc = minimal()
    doc["name"] = "Bad Name"
    doc["execution_flags"] = []
    doc["application_manifest"] = [app("a"), app("a"), app("a")]
    doc["bogus"] = 1
    errors = vppd_errors(doc)
    assert errors == sorted(set(errors))
    assert len(errors) >= 3


# --------------------------------------------------------------------------- odd input


@pytest.mark.parametrize("document", [None, [], ["x"], "text", 1, 1.5, True, b"{}"])
def test_a_document_that_is_not_an_object(document: Any) -> None:
    errors = vppd_errors(document)
    assert len(errors) == 1
    assert errors[0].path == ""
    assert "must be a JSON object" in errors[0].message


def test_values_that_are_not_json() -> None:
    doc = minimal()
    doc["monitoring_agents"] = [
        {
            "name": "n",
            "version": "1",
            "verify": {"process": "n"},
            "config": {"nan": math.nan, "set": {1}, "huge": 10**5000, 7: "int key"},
        }
    ]
    doc["resource_allocation"]["vcpus"] = 10**5000
    errors = vppd_errors(doc)
    assert messages_at(errors, "/monitoring_agents/0/config/nan") == ["must be a finite number"]
    assert "not a JSON value" in messages_at(errors, "/monitoring_agents/0/config/set")[0]
    assert "too large" in messages_at(errors, "/monitoring_agents/0/config/huge")[0]
    assert "not a string" in messages_at(errors, "/monitoring_agents/0/config")[0]
    assert messages_at(errors, "/resource_allocation/vcpus") == [
        "number is too large: integers must fit in 64 bits"
    ]


def test_deep_nesting_and_cycles() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = {"x": [deep]}
    doc = minimal()
    doc["monitoring_agents"] = [
        {"name": "n", "version": "1", "verify": {"process": "n"}, "config": deep}
    ]
    errors = vppd_errors(doc)
    assert any("nested too deeply" in e.message for e in errors)

    cyclic = minimal()
    cyclic["security_profile"] = {"intrusion_detection": {"enabled": False, "settings": {}}}
    cyclic["security_profile"]["intrusion_detection"]["settings"]["self"] = cyclic
    assert any("nested too deeply" in e.message for e in vppd_errors(cyclic))


def test_pointers_escape_slashes_and_tildes() -> None:
    doc = minimal()
    doc["resource_allocation"]["a/b~c"] = 1
    assert_error(doc, "/resource_allocation/a~1b~0c", "unknown field")


# --------------------------------------------------------------------------- parsing


def test_parse_returns_the_document() -> None:
    document, errors = parse_vppd_text(json.dumps(minimal()))
    assert errors == [] and document == minimal()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "name": "x",\n  "vcpus": ,\n}', "Invalid JSON at line 3 column 12: Expecting value"),
        ("", "Invalid JSON at line 1 column 1: Expecting value"),
        ('{"a": 1} trailing', "Invalid JSON at line 1 column 10: Extra data"),
        ('{"a": "NaN",\n "b": NaN}', "Invalid JSON at line 2 column 7: NaN is not a JSON number"),
        ('{"a": -Infinity}', "Invalid JSON at line 1 column 7: -Infinity is not a JSON number"),
        (
            '{"a": ' + "9" * 5000 + "}",
            "Invalid JSON at line 1 column 7: number has more than 4000 digits",
        ),
    ],
)
def test_invalid_json_reports_line_and_column(text: str, expected: str) -> None:
    document, errors = parse_vppd_text(text)
    assert document is None
    assert errors == [DocumentError("", expected)]


def test_repeated_keys_are_rejected_with_their_pointer() -> None:
    document, errors = parse_vppd_text('{"a": {"b": 1, "b": 2}, "c": [{"d": 1, "d": 1}]}')
    assert document is None
    assert [e.path for e in errors] == ["/a/b", "/c/0/d"]
    assert "more than once" in errors[0].message


def test_parse_odd_inputs() -> None:
    assert parse_vppd_text("[" * 100000)[1][0].message.startswith("Invalid JSON")
    assert parse_vppd_text(None)[1][0].message.startswith("Invalid JSON")  # type: ignore[arg-type]
    assert parse_vppd_text(b'\xef\xbb\xbf{"a": 1}') == ({"a": 1}, [])  # type: ignore[arg-type]
    assert parse_vppd_text(b"\xff")[1][0].message.startswith("Invalid JSON")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- never raises

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**63, 2**64, -(2**70), 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["1.0", "Production", "tiny-linux", "10.0.0.1", "10.0.0.1/24", "/opt/x", "script", "files"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _containers(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                found.extend(_containers(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                found.extend(_containers(item, (*path, index)))
    return found


def _check_result(errors: Any) -> None:
    assert isinstance(errors, list)
    assert errors == sorted(set(errors))
    for error in errors:
        assert isinstance(error, DocumentError)
        assert error.path == "" or error.path.startswith("/")
        assert isinstance(error.message, str) and error.message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_values_never_raise(value: Any) -> None:
    _check_result(vppd_errors(value))
    if isinstance(value, dict):
        _check_result(vppd_errors({**minimal(), **value}))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLE_NAMES), st.data())
def test_random_changes_to_examples_never_raise(name: str, data: st.DataObject) -> None:
    document = load_example(name)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_containers(document)))
        target = document
        for part in path:
            target = target[part]
        new_value = data.draw(json_values)
        if isinstance(target, dict):
            key = (
                data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8)) if target else "x"
            )
            target[key] = new_value
        elif target:
            target[data.draw(st.integers(min_value=0, max_value=len(target) - 1))] = new_value
        else:
            target.append(new_value)
    _check_result(vppd_errors(document, key_ref_exists=lambda ref: len(ref) % 2 == 0))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | json_values.map(lambda v: json.dumps(v, allow_nan=True)))
def test_random_text_never_raises(text: str) -> None:
    document, errors = parse_vppd_text(text)
    if errors:
        assert document is None
    _check_result(errors)
    if not errors:
        _check_result(vppd_errors(document))


# --- Text that no page, response or database can hold --------------------------------


def test_lone_surrogates_and_nul_are_errors_at_their_pointer_and_never_echoed(make_document):
    doc = make_document("web", description="a\ud800b", base_image_id="x\udfff")
    doc["resource_allocation"]["k\udc00"] = 1
    doc["execution_flags"] = ["Testing", "nul\x00"]
    errors = vppd_errors(doc)
    by_path = {e.path: e.message for e in errors}
    assert set(by_path) == {
        "/description",
        "/base_image_id",
        "/resource_allocation/k\\udc00",
        "/execution_flags/1",
    }
    assert "surrogate (\\ud800)" in by_path["/description"]
    assert "NUL" in by_path["/execution_flags/1"]
    for error in errors:  # every error can be encoded, so shown and stored
        str(error).encode("utf-8")


# --- What validates can be cloned: the hypervisor's and the guest's guards, up front ---


def _rule(**extra: Any) -> dict:
    return {"direction": "in", "protocol": "tcp", "port": 22, "action": "accept", **extra}


def _errors_at(doc: dict) -> dict[str, str]:
    return {e.path: e.message for e in vppd_errors(doc)}


@pytest.mark.parametrize(
    "description, ok",
    [
        ("Two lines,\nthe Unix way.\tTabbed.", True),
        ("Windows line\r\nends", False),
        ("old Mac\rend", False),
        ("form feed \x0c here", False),
        ("non-character \ufffe", False),
    ],
)
def test_description_holds_only_what_the_domain_xml_keeps(description, ok):
    doc = minimal()
    doc["description"] = description
    errors = _errors_at(doc)
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == ["/description"]


@pytest.mark.parametrize(
    "comment, problem",
    [
        ("ssh from the bastion", None),
        ("é" * 128, None),  # 256 bytes in UTF-8
        ("é" * 128 + "x", "at most 256 bytes"),  # 129 characters, 257 bytes
        ("x" * 257, "at most 256"),
        ("two\nlines", "single line"),
        ("carriage\rreturn", "single line"),
        ("tab\there", "single line"),
        ("persona:dhcp", "reserved"),
        ("persona: mine", "reserved"),
    ],
)
def test_firewall_comment_rules_match_the_nwfilter_guard(comment, problem):
    doc = with_network(firewall_rules=[_rule(), _rule(port=80, comment=comment)])
    errors = _errors_at(doc)
    if problem is None:
        assert errors == {}
    else:
        assert list(errors) == ["/network_configuration/firewall_rules/1/comment"]
        assert problem in errors["/network_configuration/firewall_rules/1/comment"]


@pytest.mark.parametrize(
    "schedule, ok",
    [
        ("0 3 * * *", True),
        ("*/15 0-6 1,15 JAN-DEC mon-fri", True),
        ("  0 3 * * *  ", True),  # the guest splits on whitespace
        ("0 3 * * * root", False),  # six fields: a system crontab line, not a schedule
        ("0 0 3 * * * *", False),
        ("@daily", False),
        ("0 3 * *", False),
        ("0 3 * * ;reboot", False),
        (15, False),
    ],
)
def test_intrusion_detection_schedule_is_five_cron_fields(schedule, ok):
    ids = {"enabled": True, "engine": "aide", "settings": {"schedule": schedule}}
    errors = _errors_at(with_security(intrusion_detection=ids))
    at = "/security_profile/intrusion_detection/settings/schedule"
    assert errors == ({} if ok else {at: errors.get(at)}), errors
    # Disabled intrusion detection ignores its settings, as the guest does.
    ids["enabled"] = False
    assert _errors_at(with_security(intrusion_detection=ids)) == {}


def test_file_owned_by_a_user_the_profile_creates_is_valid():
    doc = minimal()
    doc["application_manifest"] = [
        app(
            "svc",
            install={
                "method": "files",
                "files": [
                    {"path": "/opt/svc/run.sh", "content": "#!/bin/sh\n", "owner": "svc"},
                ],
            },
        )
    ]
    doc["security_profile"] = {"users": [{"name": "svc"}]}
    assert vppd_errors(doc) == []
