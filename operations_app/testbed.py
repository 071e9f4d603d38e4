"""The local two-host testbed: host A (this machine's libvirtd) and host B (a second
libvirtd in its own mount namespace), started by ``scripts/testbed.sh``, registered here
as the platforms ``host-a`` and ``host-b`` with the base image ``tiny-linux``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from operations_app.models import KvmPolicy, Platform
from operations_app.services import platforms as platform_services
from vmpersona.errors import DomainError

SCRIPTS = Path(settings.BASE_DIR) / "scripts"
IMAGE_DIR = Path(os.environ.get("VMPERSONA_IMAGE_DIR", "/var/lib/vmpersona/images"))
TINY_IMAGE_MANIFEST = IMAGE_DIR / "tiny-linux" / "image.json"

# Host B stands for a stricter estate: q35 machines, virtio or SCSI disks, virtio NICs
# only, and it is cheaper, so cost-driven policies have a reason to move VMs there.
HOST_B_CONSTRAINTS = {
    "machine_types": ["q35"],
    "disk_buses": ["virtio", "scsi"],
    "nic_models": ["virtio"],
    "notes": "Refreshed hardware: q35 only, no IDE/SATA disks, virtio NICs only.",
}


class TestbedError(DomainError):
    pass


@dataclass
class TestbedEnv:
    host_a_uri: str
    host_a_p2p_uri: str
    host_b_uri: str
    pool: str
    network: str
    vlan_networks: dict[str, str]


def _run(args: list[str], *, stream: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, text=True, capture_output=not stream, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip() if not stream else ""
        raise TestbedError(f"{' '.join(args)} failed (exit {proc.returncode}). {detail}".strip())
    return proc


def read_env() -> TestbedEnv:
    proc = _run(["bash", str(SCRIPTS / "testbed.sh"), "env"], stream=False)
    values: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if "=" in line:
            key, _, raw = line.partition("=")
            parts = shlex.split(raw)
            values[key.strip()] = parts[0] if parts else ""
    vlans = {}
    for item in values.get("VMPERSONA_VLAN_NETWORKS", "100=persona-vlan-100").split():
        vlan, _, network = item.partition("=")
        if vlan and network:
            vlans[vlan] = network
    return TestbedEnv(
        host_a_uri=values.get("VMPERSONA_HOST_A_URI", "qemu:///system"),
        host_a_p2p_uri=values.get("VMPERSONA_HOST_A_P2P_URI", ""),
        host_b_uri=values["VMPERSONA_HOST_B_URI"],
        pool=values.get("VMPERSONA_POOL_NAME", "persona"),
        network=values.get("VMPERSONA_NETWORK", "persona-isolated"),
        vlan_networks=vlans,
    )


def ensure_image(*, force: bool = False) -> Path:
    if force or not TINY_IMAGE_MANIFEST.exists():
        args = ["bash", str(SCRIPTS / "build-guest-image.sh")]
        if force:
            args.append("--force")
        _run(args)
    return TINY_IMAGE_MANIFEST


def daemons_up() -> TestbedEnv:
    _run(["bash", str(SCRIPTS / "testbed.sh"), "up"])
    return read_env()


def daemons_down() -> None:
    _run(["bash", str(SCRIPTS / "testbed.sh"), "down"])


@transaction.atomic
def register(env: TestbedEnv, *, user=None) -> list[Platform]:
    """Create or update the platforms host-a and host-b and the tiny-linux image."""
    networks = [env.network, *env.vlan_networks.values()]
    common = {
        "storage_pool": env.pool,
        "networks": networks,
        "vlan_networks": env.vlan_networks,
        "kvm": KvmPolicy.AVOID,
        "site": "local testbed",
        "currency": "EUR",
    }
    specs = {
        "host-a": {
            "uri": env.host_a_uri,
            "migration_uri": env.host_a_p2p_uri,
            "region": "lab-a",
            "description": "This machine's libvirtd.",
            "constraints": {},
            "cost_vcpu_hour": Decimal("0.0400"),
            "cost_ram_gib_hour": Decimal("0.0050"),
            "cost_storage_gib_month": Decimal("0.1000"),
        },
        "host-b": {
            "uri": env.host_b_uri,
            "migration_uri": "",
            "region": "lab-b",
            "description": "A second libvirtd on this machine, standing for newer hardware.",
            "constraints": HOST_B_CONSTRAINTS,
            "cost_vcpu_hour": Decimal("0.0250"),
            "cost_ram_gib_hour": Decimal("0.0035"),
            "cost_storage_gib_month": Decimal("0.0800"),
        },
    }
    platforms = []
    for name, spec in specs.items():
        fields: dict[str, Any] = {**common, **spec}
        existing = Platform.objects.filter(name=name).first()
        if existing is None:
            platform = platform_services.platform_create(user=user, name=name, **fields)
        else:
            platform = platform_services.platform_update(user=user, platform=existing, **fields)
        platforms.append(platform)
    if TINY_IMAGE_MANIFEST.exists():
        platform_services.base_image_register_from_manifest(
            user=user, manifest_path=TINY_IMAGE_MANIFEST, platforms=platforms
        )
    return platforms


def up(*, user=None, build_image: bool = True) -> list[Platform]:
    if build_image:
        ensure_image()
    env = daemons_up()
    platforms = register(env, user=user)
    return [platform_services.platform_refresh(platform=p) for p in platforms]
