"""Platforms for the adaptation tests: the testbed's two hosts, with capabilities
assembled from documents captured on a real QEMU host (tests/.../hypervisor/data)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from operations_app.hypervisor.capabilities import (
    assemble_capabilities,
    parse_domain_capabilities,
    parse_host_capabilities,
)
from operations_app.hypervisor.types import (
    BootSpec,
    Capabilities,
    DiskSpec,
    DomainSpec,
    InterfaceSpec,
    NetworkInfo,
    PoolInfo,
    PortGroup,
)

DATA = Path(__file__).resolve().parents[1] / "hypervisor" / "data"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# operations_app.testbed.HOST_B_CONSTRAINTS, copied because importing the testbed module
# needs Django; test_testbed_constraints_copy checks the copy when Django is configured.
HOST_B_CONSTRAINTS = {
    "machine_types": ["q35"],
    "disk_buses": ["virtio", "scsi"],
    "nic_models": ["virtio"],
    "notes": "Refreshed hardware: q35 only, no IDE/SATA disks, virtio NICs only.",
}
POOLS = "/var/lib/vmpersona/pools"
MAC = "52:54:00:12:34:56"


def capabilities(
    host: str,
    *,
    kvm_usable: bool = False,
    networks: list[NetworkInfo] | None = None,
    pool_path: str | None = None,
) -> Capabilities:
    """Capabilities of a host like the one the documents were captured on. A remote URI
    keeps the result independent of this machine (no /dev/kvm or rlimit probing)."""
    doc = parse_host_capabilities((DATA / "capabilities-x86_64.xml").read_text())
    domcaps = {
        t: parse_domain_capabilities((DATA / f"domcaps-x86_64-{t}.xml").read_text())
        for t in ("qemu", "kvm")
    }
    pools = []
    if pool_path:
        pools.append(PoolInfo(name="persona", type="dir", path=pool_path, active=True))
    if networks is None:
        networks = [
            NetworkInfo(name="persona-isolated", active=True),
            NetworkInfo(name="persona-vlan-100", active=True),
        ]
    return assemble_capabilities(
        uri=f"qemu+ssh://{host}/system",
        hostname=host,
        driver="QEMU",
        lib_version=9000000,
        hypervisor_version=7002022,
        host=doc,
        domcaps=domcaps,
        node_info=["x86_64", 5722, 2, 2596, 1, 1, 2, 1],
        free_memory_bytes=4 * 1024**3,
        pools=pools,
        networks=networks,
        kvm_usable=kvm_usable,
        environ={},
    )


def platform(name: str, *, constraints: dict | None = None, **caps_kwargs) -> dict:
    """A platform as the adaptation layer reads a ``Platform`` row."""
    caps_kwargs.setdefault("pool_path", f"{POOLS}/{name}")
    return {
        "name": name,
        "capabilities": capabilities(name, **caps_kwargs).to_dict(),
        "constraints": copy.deepcopy(constraints or {}),
        "storage_pool": "persona",
        "networks": ["persona-isolated", "persona-vlan-100"],
        "vlan_networks": {"100": "persona-vlan-100"},
    }


@pytest.fixture
def host_a() -> dict:
    return platform("host-a")


@pytest.fixture
def host_b() -> dict:
    return platform("host-b", constraints=HOST_B_CONSTRAINTS)


def legacy_domain(**overrides) -> DomainSpec:
    """A VM as host A runs it: an i440fx machine, a SATA data disk, an e1000 NIC."""
    spec = DomainSpec(
        name="web1",
        uuid="6f1c1b52-35a5-4b57-9c65-9b7d2b7b7a10",
        domain_type="qemu",
        machine="pc-i440fx-7.2",
        vcpus=2,
        memory_mib=512,
        cpu_mode="host-model",
        boot=BootSpec(devices=["hd"]),
        disks=[
            DiskSpec(target="vda", path=f"{POOLS}/host-a/web1-root.qcow2", bus="virtio"),
            DiskSpec(
                target="sdb", path=f"{POOLS}/host-a/web1-data.qcow2", bus="sata", serial="data1"
            ),
        ],
        interfaces=[InterfaceSpec(network="persona-isolated", mac=MAC, model="e1000")],
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec


def example_fixes(name: str = "web-server") -> list[dict]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())["fixes"]


__all__ = [
    "HOST_B_CONSTRAINTS",
    "MAC",
    "POOLS",
    "NetworkInfo",
    "PortGroup",
    "capabilities",
    "example_fixes",
    "legacy_domain",
    "platform",
]
