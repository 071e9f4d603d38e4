"""Integration: boot the tiny guest under TCG and drive it through the guest agent.

Needs the image built by scripts/build-guest-image.sh; skipped without it.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from operations_app.hypervisor import (
    AgentCommandFailed,
    BootSpec,
    DiskIoTune,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    DomainState,
    FirewallRule,
    Hypervisor,
    HypervisorError,
    InterfaceSpec,
    NetworkSpec,
    NWFilterSpec,
    Tunables,
    filter_name_for,
    retarget_disks,
)

from .conftest import Reaper, unique_name

pytestmark = [pytest.mark.integration, pytest.mark.dbfree]

IMAGE_DIR = Path(
    os.environ.get("VMPERSONA_GUEST_IMAGE_DIR", "/var/lib/vmpersona/images/tiny-linux")
)
AGENT_TIMEOUT = 180


@dataclass
class Guest:
    name: str
    mac: str
    network: str
    filter: str
    serial_log: Path
    disk_path: str


@pytest.fixture(scope="module")
def image() -> dict:
    manifest = IMAGE_DIR / "image.json"
    if not manifest.exists():
        pytest.skip(f"guest image not built ({manifest} missing): run scripts/build-guest-image.sh")
    data = json.loads(manifest.read_text())
    for key in ("kernel", "initrd", "root_disk"):
        if not os.path.exists(data[key]):
            pytest.skip(f"guest image incomplete: {data[key]} missing")
    return data


def boot_guest(
    hv: Hypervisor, reaper: Reaper, pool: str, workdir: Path, image: dict, *, network: bool = True
) -> Guest:
    """Network + filter + overlay disk + domain, each registered for cleanup, then start."""
    name = unique_name()
    mac = "52:54:00:" + ":".join(f"{b:02x}" for b in random.randbytes(3))
    interfaces = []
    network_name = filter_name = ""
    if network:
        octet = random.randint(1, 254)
        network_name = reaper.network(unique_name())
        hv.networks.define(
            NetworkSpec(
                name=network_name,
                bridge=f"pt{uuid.uuid4().hex[:8]}",
                ipv4_address=f"10.251.{octet}.1",
                dhcp_start=f"10.251.{octet}.100",
                dhcp_end=f"10.251.{octet}.199",
            )
        )
        filter_name = reaper.nwfilter(filter_name_for(name))
        hv.nwfilters.define(
            NWFilterSpec(
                name=filter_name,
                rules=[FirewallRule(direction="in", protocol="tcp", port=22, comment="ssh")],
            )
        )
        interfaces = [InterfaceSpec(network=network_name, mac=mac, filter=filter_name)]
    disk = reaper.volume(pool, f"{name}-root.qcow2")
    overlay = hv.storage.volume_create_linked_clone(
        pool, disk, base_path=image["root_disk"], base_format=image.get("root_disk_format", "qcow2")
    )
    serial_log = workdir / f"{name}.serial.log"
    spec = DomainSpec(
        name=reaper.domain(name),
        domain_type="qemu",
        machine=image.get("machine", "pc"),
        vcpus=1,
        memory_mib=image.get("recommended_memory_mib", 192),
        boot=BootSpec(kernel=image["kernel"], initrd=image["initrd"], cmdline=image["cmdline"]),
        disks=[DiskSpec(target="vda", path=overlay.path, serial="root0")],
        interfaces=interfaces,
        serial_log=str(serial_log),
        metadata=DomainMetadata(profile="tiny", profile_version=1, execution_flags=["Testing"]),
    )
    hv.domains.define(spec)
    hv.domains.start(name)
    return Guest(name, mac, network_name, filter_name, serial_log, overlay.path)


def wait_agent(hv: Hypervisor, guest: Guest) -> None:
    try:
        hv.agent.wait_for_agent(guest.name, timeout=AGENT_TIMEOUT)
    except HypervisorError:
        log = (
            guest.serial_log.read_text(errors="replace")[-3000:]
            if guest.serial_log.exists()
            else ""
        )
        pytest.fail(f"agent of {guest.name} never answered; serial console tail:\n{log}")


def test_tiny_guest_end_to_end(system_hv, system_reaper, system_pool, world_readable_dir, image):
    hv = system_hv
    guest = boot_guest(hv, system_reaper, system_pool, world_readable_dir, image)
    info = hv.domains.lookup(guest.name)
    assert info.state == DomainState.RUNNING and info.managed
    assert info.metadata.profile == "tiny"
    wait_agent(hv, guest)

    # exec: output, exit codes, stdin
    result = hv.agent.exec(guest.name, ["/bin/busybox", "uname", "-r"], timeout=60)
    assert result.ok and result.stdout_text.strip() == image["kernel_version"]
    failing = hv.agent.exec(guest.name, ["/bin/busybox", "sh", "-c", "echo oops >&2; exit 3"])
    assert failing.exit_code == 3 and failing.stderr_text.strip() == "oops"
    echoed = hv.agent.exec(guest.name, ["/bin/busybox", "cat"], input=b"from the host\n")
    assert echoed.stdout == b"from the host\n"

    # files
    payload = bytes(range(256)) * 40 + "ünïcødé <&>]]>".encode()
    assert hv.agent.file_write(guest.name, "/root/pt-file.bin", payload, permissions=0o600) == len(
        payload
    )
    assert hv.agent.file_read(guest.name, "/root/pt-file.bin") == payload
    mode = hv.agent.exec(guest.name, ["/bin/busybox", "stat", "-c", "%a", "/root/pt-file.bin"])
    assert mode.stdout_text.strip() == "600"
    with pytest.raises(AgentCommandFailed) as missing:
        hv.agent.file_read(guest.name, "/no/such/file")
    assert missing.value.description

    # inventory
    nics = hv.agent.network_interfaces(guest.name)
    assert guest.mac in {n.mac for n in nics}
    assert any(a.address == "127.0.0.1" for n in nics for a in n.addresses)
    osinfo = hv.agent.os_info(guest.name)
    assert osinfo.kernel_release == image["kernel_version"]
    assert osinfo.machine == "x86_64"
    assert isinstance(hv.agent.users(guest.name), list)

    # the filter is bound to the guest's port, the serial console reached the file
    assert any(f == guest.filter for _dev, f in hv.nwfilters.bindings())
    assert guest.serial_log.read_text(errors="replace").strip()  # (cmdline has "quiet")

    # metrics sample
    [stats] = hv.domains.stats([guest.name])
    assert stats.state == DomainState.RUNNING and stats.cpu_time_ns and stats.cpu_time_ns > 0
    assert stats.block and stats.block[0].name == "vda" and stats.block[0].rd_bytes > 0
    assert stats.net and stats.balloon_current_kib

    # live metadata change
    hv.domains.set_metadata(
        guest.name, DomainMetadata(profile="tiny", profile_version=2, job_id="j1")
    )
    assert hv.domains.get_metadata(guest.name).profile_version == 2
    assert hv.domains.spec(guest.name, inactive=True).metadata.job_id == "j1"

    # internal snapshot with memory, then revert: the guest's disk and RAM go back
    hv.agent.file_write(guest.name, "/root/state", b"before")
    hv.agent.exec(guest.name, ["/bin/busybox", "sync"])
    snap = hv.snapshots.create(guest.name, "before", labels={"job": "j1"})
    assert snap.kind == "internal" and snap.has_memory and snap.labels == {"job": "j1"}
    assert snap.domain_metadata.profile_version == 2
    hv.agent.file_write(guest.name, "/root/state", b"after")
    hv.snapshots.revert(guest.name, "before")
    assert hv.domains.state(guest.name) == DomainState.RUNNING
    wait_agent(hv, guest)
    assert hv.agent.file_read(guest.name, "/root/state") == b"before"
    hv.snapshots.delete(guest.name, "before")
    assert hv.snapshots.list(guest.name) == []

    # external disk-only snapshot while running: a new overlay on top of the disk
    ext = hv.snapshots.create(guest.name, "ext1", mode="external")
    assert ext.kind == "external" and not ext.has_memory
    top = hv.domains.spec(guest.name).disks[0].path
    assert top != guest.disk_path and os.path.exists(top)
    hv.agent.exec(guest.name, ["/bin/busybox", "sync"])

    # live resource limits. A memory hard limit goes in live only and only after the
    # snapshots: libvirt would raise QEMU's RLIMIT_MEMLOCK to it on the next start, which
    # hosts without CAP_SYS_RESOURCE refuse (see Capabilities.memory_hard_limit_max_mib)
    hv.domains.set_tunables(
        guest.name,
        Tunables(cpu_shares=512),
        disk_iotune={"vda": DiskIoTune(total_iops_sec=2000)},
    )
    hv.domains.set_tunables(guest.name, Tunables(memory_hard_limit_mib=1024), config=False)
    live = hv.domains.tunables(guest.name)
    assert live.cpu_shares == 512 and live.memory_hard_limit_mib == 1024
    assert hv.domains.disk_iotune(guest.name, "vda").total_iops_sec == 2000
    config = hv.domains.tunables(guest.name, inactive=True)
    assert config.cpu_shares == 512 and config.memory_hard_limit_mib is None

    # stop: agent/ACPI first, destroy after the deadline
    outcome = hv.domains.shutdown(guest.name, timeout=30)
    assert outcome in ("shutdown", "destroyed")
    assert hv.domains.state(guest.name) == DomainState.SHUTOFF
    hv.snapshots.delete(guest.name, "ext1", metadata_only=True)


def host_b_uri() -> str | None:
    uri = os.environ.get("VMPERSONA_HOST_B_URI")
    default = "/var/lib/vmpersona/testbed/host-b/run/libvirt-sock"
    if not uri and os.path.exists(default):
        uri = f"qemu+unix:///system?socket={default}"
    return uri


def test_live_migration_to_host_b_and_back(
    system_hv, system_reaper, system_pool, world_readable_dir, image
):
    """Live p2p migration with storage copy to a second daemon and back, each way with a
    destination XML whose disk lives in the destination's own pool."""
    uri_b = host_b_uri()
    if not uri_b:
        pytest.skip(
            "no second libvirt host (set VMPERSONA_HOST_B_URI or run scripts/testbed.sh up)"
        )
    try:
        hv_b = Hypervisor.connect(uri_b, timeout=10)
    except HypervisorError as exc:
        pytest.skip(f"host B not reachable: {exc}")
    uri_a_from_b = os.environ.get(
        "VMPERSONA_HOST_A_P2P_URI",
        "qemu+unix:///system?socket=/var/lib/vmpersona/testbed/host-a/run/libvirt-sock",
    )
    b_reaper = Reaper(hv_b)
    try:
        guest = boot_guest(
            system_hv, system_reaper, system_pool, world_readable_dir, image, network=False
        )
        # host B gets its own pool with a volume of the same name, backed by the same base
        pool_b = b_reaper.pool(unique_name())
        hv_b.storage.pool_ensure_dir(pool_b, str(world_readable_dir / "pool-b"))
        disk_name = Path(guest.disk_path).name
        b_reaper.volume(pool_b, disk_name)
        path_b = hv_b.storage.volume_create_linked_clone(
            pool_b, disk_name, base_path=image["root_disk"]
        ).path
        b_reaper.domain(guest.name)

        wait_agent(system_hv, guest)
        system_hv.agent.exec(guest.name, ["/bin/busybox", "sh", "-c", "echo in-ram > /tmp/marker"])
        dest_xml = retarget_disks(
            system_hv.domains.xml(guest.name, migratable=True), {guest.disk_path: path_b}
        )
        result = system_hv.domains.migrate(
            guest.name,
            dest_uri=uri_b,
            copy_storage_all=True,
            dest_xml=dest_xml,
            migrate_uri="tcp://127.0.0.1",
            bandwidth_mibps=1000,
            timeout=180,
        )
        assert result.elapsed_ms > 0 and result.downtime_ms is not None
        assert result.data_processed_bytes and result.disk_processed_bytes is not None
        assert not system_hv.domains.exists(guest.name)  # undefined on the source
        assert hv_b.domains.state(guest.name) == DomainState.RUNNING
        assert hv_b.domains.lookup(guest.name).persistent
        assert hv_b.domains.spec(guest.name).disks[0].path == path_b
        assert hv_b.agent.file_read(guest.name, "/tmp/marker") == b"in-ram\n"

        back_xml = retarget_disks(
            hv_b.domains.xml(guest.name, migratable=True), {path_b: guest.disk_path}
        )
        hv_b.domains.migrate(
            guest.name,
            dest_uri=uri_a_from_b,
            copy_storage_all=True,
            dest_xml=back_xml,
            migrate_uri="tcp://127.0.0.1",
            timeout=180,
        )
        assert not hv_b.domains.exists(guest.name)
        assert system_hv.domains.state(guest.name) == DomainState.RUNNING
        assert system_hv.domains.spec(guest.name).disks[0].path == guest.disk_path
        assert system_hv.agent.file_read(guest.name, "/tmp/marker") == b"in-ram\n"
    finally:
        problems = b_reaper.run()
        hv_b.close()
    assert not problems, problems
