"""The VPPD as a policy kind: what the generic policy store needs to know about it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from profiles_app.kinds import DocumentKind, InlineSecret, register
from profiles_app.vppd.checks import SEMANTIC_CHECKS
from profiles_app.vppd.checks.flags import ENVIRONMENT_FLAGS
from profiles_app.vppd.schema import SCHEMA_VERSION, vppd_schema

KIND = "vppd"  # PolicyKind.VPPD (this package stays free of Django)

# The order people read a VPPD in; databases that store JSON as jsonb forget key order.
TOP_LEVEL_ORDER = (
    "$schema",
    "schema_version",
    "name",
    "description",
    "base_image_id",
    "execution_flags",
    "resource_allocation",
    "application_manifest",
    "runtime_environment",
    "data_volume_definitions",
    "network_configuration",
    "security_profile",
    "monitoring_agents",
    "fixes",
    "health_watch",
)


# The document a new profile starts from in the editor: valid, and showing the shape of
# the sections most profiles use.
STARTER_DOCUMENT: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "name": "new-profile",
    "description": "What this VM is for.",
    "base_image_id": "debian-12",
    "application_manifest": [
        {
            "name": "nginx",
            "version": "1.22",
            "install": {"method": "package", "manager": "apt", "package": "nginx"},
            "verify": {"process": "nginx"},
        }
    ],
    "data_volume_definitions": [
        {
            "name": "data",
            "size_gib": 10,
            "mount_point": "/srv/data",
            "filesystem": "ext4",
            "encryption": {"enabled": True, "generate": True},
        }
    ],
    "network_configuration": {
        "interfaces": [{"name": "eth0", "network": "default", "ipv4": {"dhcp": True}}],
        "firewall_rules": [
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 22,
                "action": "accept",
                "comment": "ssh",
            },
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 80,
                "action": "accept",
                "comment": "http",
            },
        ],
        "default_policy": "drop",
    },
    "resource_allocation": {"vcpus": 2, "memory_mib": 2048, "storage_gib": 20},
    "security_profile": {
        "users": [{"name": "deploy", "groups": ["adm"], "shell": "/bin/bash", "sudo": "nopasswd"}],
        "intrusion_detection": {"enabled": False},
    },
    "runtime_environment": [],
    "monitoring_agents": [],
    "execution_flags": ["Development"],
    "fixes": [],
}


def inline_keys(document: Any) -> Iterator[InlineSecret]:
    """Every inline volume ``key`` (``/data_volume_definitions/N/encryption/key``)."""
    if not isinstance(document, dict):
        return
    volumes = document.get("data_volume_definitions")
    if not isinstance(volumes, list):
        return
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        encryption = volume.get("encryption")
        if isinstance(encryption, dict) and "key" in encryption:
            label = str(volume.get("name", index))
            yield InlineSecret(holder=encryption, label=label, what=f"data volume '{label}'")


VPPD = register(
    DocumentKind(
        kind=KIND,
        schema_loader=vppd_schema,
        checks=SEMANTIC_CHECKS,
        schema_path="/api/v1/schemas/vppd/",
        openapi_component="VPPD",
        top_level_order=TOP_LEVEL_ORDER,
        starter_document=STARTER_DOCUMENT,
        inline_secrets=inline_keys,
        flag_choices=ENVIRONMENT_FLAGS,
    )
)
