"""Integration: provision the tiny guest on the real testbed (host A) with the example
profiles, verify item by item, reboot, verify again.

One guest serves the module (each boot costs ~10 s under TCG): two NICs on the isolated
network "persona-isolated" (10.231.0.0/24, DHCP .100-.199), three 64 MiB data disks.
The example documents are adapted to it: static addresses moved into 10.231.0.0/24,
volume sizes set to the disks' 64 MiB. Everything the module creates (domain, volumes,
serial log) is removed afterwards, also when a test fails.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from operations_app.guest import GuestProvisioner, GuestStepError
from operations_app.hypervisor import (
    BootSpec,
    DiskSpec,
    DomainSpec,
    Hypervisor,
    HypervisorError,
    InterfaceSpec,
)

pytestmark = [pytest.mark.integration, pytest.mark.dbfree]

URI = os.environ.get("VMPERSONA_TEST_LIBVIRT_URI", "qemu:///system")
POOL = "persona"
NETWORK = "persona-isolated"
IMAGE_DIR = Path(
    os.environ.get("VMPERSONA_GUEST_IMAGE_DIR", "/var/lib/vmpersona/images/tiny-linux")
)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DISK_BYTES = 64 * 1024 * 1024
DISK_GIB = DISK_BYTES / 1024**3
GATEWAY = "10.231.0.1"


class Guest:
    def __init__(self, hv: Hypervisor, name: str, macs: list[str], serial_log: Path) -> None:
        self.hv = hv
        self.name = name
        self.macs = macs
        self.serial_log = serial_log
        self.log: list[str] = []
        self.provisioned: set[str] = set()
        self.address = f"10.231.0.{random.randint(20, 90)}"

    def provisioner(self) -> GuestProvisioner:
        return GuestProvisioner(self.hv, self.name, log=self.log.append)

    def devices(self) -> dict[str, str]:
        """Guest device of each data disk, by the serial libvirt gave it."""
        r = self.hv.agent.exec(
            self.name,
            [
                "/bin/sh",
                "-c",
                'for d in /sys/block/*; do [ -r "$d/serial" ] && echo "${d##*/} $(cat "$d/serial")"; done; true',
            ],
        )
        return {
            serial: f"/dev/{dev}"
            for dev, serial in (
                ln.split() for ln in r.stdout_text.splitlines() if len(ln.split()) == 2
            )
        }

    def sh(self, script: str, *args: str) -> str:
        r = self.hv.agent.exec(self.name, ["/bin/sh", "-c", script, "sh", *args], timeout=60)
        assert r.exit_code == 0, r.stderr_text
        return r.stdout_text

    def console(self) -> str:
        return (
            self.serial_log.read_text(errors="replace")[-3000:] if self.serial_log.exists() else ""
        )


@pytest.fixture(scope="module")
def image() -> dict:
    manifest = IMAGE_DIR / "image.json"
    if not manifest.exists():
        pytest.skip(f"guest image not built ({manifest}): run scripts/build-guest-image.sh")
    return json.loads(manifest.read_text())


@pytest.fixture(scope="module")
def guest(image):
    try:
        hv = Hypervisor.connect(URI, timeout=30)
    except HypervisorError as exc:
        pytest.skip(f"no libvirt at {URI}: {exc}")
    name = f"gt-{uuid.uuid4().hex[:10]}"
    workdir = Path(tempfile.mkdtemp(prefix="gt-", dir="/var/tmp"))
    workdir.chmod(0o755)
    undo = []
    try:
        root = f"{name}-root.qcow2"
        undo.append(lambda: hv.storage.volume_delete(POOL, root, missing_ok=True))
        root_info = hv.storage.volume_create_linked_clone(
            POOL,
            root,
            base_path=image["root_disk"],
            base_format=image.get("root_disk_format", "qcow2"),
            capacity_bytes=256 * 1024 * 1024,
        )
        disks = [DiskSpec(target="vda", path=root_info.path, serial="gtroot")]
        for i in range(3):
            vol = f"{name}-data{i}.qcow2"
            undo.append(lambda vol=vol: hv.storage.volume_delete(POOL, vol, missing_ok=True))
            info = hv.storage.volume_create(POOL, vol, capacity_bytes=DISK_BYTES)
            disks.append(DiskSpec(target=f"vd{'bcd'[i]}", path=info.path, serial=f"gtdata{i}"))
        macs = ["52:54:00:" + ":".join(f"{b:02x}" for b in random.randbytes(3)) for _ in range(2)]
        serial_log = workdir / "console.log"
        spec = DomainSpec(
            name=name,
            domain_type="qemu",
            machine=image.get("machine", "pc"),
            vcpus=1,
            memory_mib=image.get("recommended_memory_mib", 192),
            boot=BootSpec(
                kernel=image["kernel"],
                initrd=image["initrd"],
                cmdline=f"{image['cmdline']} hostname={name}",
            ),
            disks=disks,
            interfaces=[InterfaceSpec(network=NETWORK, mac=mac) for mac in macs],
            serial_log=str(serial_log),
        )
        undo.append(lambda: hv.domains.delete(name))
        hv.domains.define(spec)
        hv.domains.start(name)
        g = Guest(hv, name, macs, serial_log)
        started = time.monotonic()
        try:
            g.provisioner().wait_ready(timeout=180)
        except GuestStepError as exc:
            pytest.fail(f"guest {name} never answered: {exc}\nconsole:\n{g.console()}")
        print(f"\n{name}: agent ready {time.monotonic() - started:.1f} s after start")
        yield g
    finally:
        problems = []
        for step in reversed(undo):
            try:
                step()
            except HypervisorError as exc:
                problems.append(str(exc))
        shutil.rmtree(workdir, ignore_errors=True)
        hv.close()
        assert not problems, f"cleanup failed: {problems}"


# ---------------------------------------------------------------------- documents


def load(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def web_server(guest: Guest) -> dict:
    doc = load("web-server")
    doc["network_configuration"]["interfaces"][0]["ipv4"] = {
        "address": f"{guest.address}/24",
        "gateway": GATEWAY,
        "dns": [GATEWAY],
    }
    return doc


def database(guest: Guest) -> dict:
    doc = load("database")
    doc["network_configuration"]["interfaces"][0]["ipv4"] = {
        "address": f"{guest.address}/24",
        "gateway": GATEWAY,
        "dns": [GATEWAY],
    }
    for vol in doc["data_volume_definitions"]:
        vol["size_gib"] = DISK_GIB
    return doc


def dev_workstation(guest: Guest) -> dict:
    doc = load("dev-workstation")
    for vol in doc["data_volume_definitions"]:
        vol["size_gib"] = DISK_GIB
    return doc


def devices_for(guest: Guest, doc: dict, serials: list[str]) -> dict[str, str]:
    by_serial = guest.devices()
    return {
        vol["name"]: by_serial[s]
        for vol, s in zip(doc.get("data_volume_definitions", []), serials, strict=True)
    }


def provision(guest: Guest, doc: dict, devices: dict[str, str]) -> float:
    """The clone's in-guest steps in the runner's order; returns the seconds taken."""
    p = guest.provisioner()
    started = time.monotonic()
    p.set_hostname(guest.name)
    p.install_runtime(doc.get("runtime_environment", []))
    p.install_applications(doc.get("application_manifest", []))
    p.setup_volumes(doc.get("data_volume_definitions", []), devices)
    p.configure_network(doc["network_configuration"]["interfaces"], guest.macs)
    p.apply_security(doc.get("security_profile", {}))
    p.deploy_monitoring(doc.get("monitoring_agents", []))
    guest.provisioned.add(doc["name"])
    return time.monotonic() - started


def assert_all_passed(checks):
    failed = [str(c) for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    assert checks


# ---------------------------------------------------------------------- tests


def test_web_server_provisions_and_verifies_item_by_item(guest):
    doc = web_server(guest)
    seconds = provision(guest, doc, {})
    print(f"\nweb-server provisioned in {seconds:.1f} s")
    p = guest.provisioner()
    started = time.monotonic()
    checks = p.verify(doc, devices={}, macs=guest.macs, hostname=guest.name)
    print(f"web-server verified ({len(checks)} checks) in {time.monotonic() - started:.1f} s")
    assert_all_passed(checks)
    sections = {c.section for c in checks}
    assert sections >= {"base_image", "applications", "network", "security", "monitoring"}

    # idempotent: a second run changes nothing that verify can see, duplicates nothing
    seconds = provision(guest, doc, {})
    print(f"web-server provisioned again in {seconds:.1f} s")
    assert_all_passed(p.verify(doc, devices={}, macs=guest.macs, hostname=guest.name))
    passwd = guest.sh("cat /etc/passwd")
    assert [ln.split(":")[0] for ln in passwd.splitlines()].count("www-data") == 1
    assert (
        guest.sh("grep -c 'VM Persona intrusion' /var/spool/cron/crontabs/root").strip() == "2"
    )  # BEGIN + END


def test_wrong_expected_version_is_a_failing_check(guest):
    doc = web_server(guest)
    if "web-server" not in guest.provisioned:
        provision(guest, doc, {})
    wrong = copy.deepcopy(doc)
    wrong["application_manifest"][0]["verify"]["expect_output_contains"] = "nginx/1.25.0"
    checks = guest.provisioner().verify(wrong, devices={}, macs=guest.macs)
    nginx = next(c for c in checks if c.pointer == "/application_manifest/0/verify")
    assert not nginx.passed
    assert "nginx/1.24.0" in nginx.actual and "lacks 'nginx/1.25.0'" in nginx.detail
    assert all(c.passed for c in checks if c is not nginx), [str(c) for c in checks if not c.passed]


def test_database_volumes_and_an_engine_the_image_lacks(guest):
    doc = database(guest)
    # As on a real distribution: aide, which the tiny image does not have.
    doc["security_profile"]["intrusion_detection"]["engine"] = "aide"
    devices = devices_for(guest, doc, ["gtdata0", "gtdata1"])
    with pytest.raises(GuestStepError) as err:
        provision(guest, doc, devices)
    assert err.value.pointer == "/security_profile/intrusion_detection/engine"
    assert "aide is not installed" in str(err.value)

    # the same profile with VM Persona's own engine watching the same paths
    doc["security_profile"]["intrusion_detection"]["engine"] = "builtin"
    provision(guest, doc, devices)
    checks = guest.provisioner().verify(doc, devices=devices, macs=guest.macs)
    assert_all_passed(checks)
    # what the application put in the mount point was carried onto the new volume
    assert (
        guest.sh(
            "test -d /var/lib/postgresql/15/main && stat -c %U /var/lib/postgresql/15/main"
        ).strip()
        == "postgres"
    )
    # formatted once: provisioning again keeps the file system (and its data)
    uuid_before = guest.sh('blkid -o value -s UUID "$1"', devices["pgdata"])
    guest.sh("echo keep >/var/lib/postgresql/marker")
    guest.provisioner().setup_volumes(doc["data_volume_definitions"], devices)
    assert guest.sh('blkid -o value -s UUID "$1"', devices["pgdata"]) == uuid_before
    assert guest.sh("cat /var/lib/postgresql/marker").strip() == "keep"
    guest.sh("rm /var/lib/postgresql/marker")


def test_dev_workstation_runtimes_users_and_dhcp(guest):
    doc = dev_workstation(guest)
    devices = devices_for(guest, doc, ["gtdata2"])
    provision(guest, doc, devices)
    checks = guest.provisioner().verify(doc, devices=devices, macs=guest.macs)
    assert_all_passed(checks)
    lease = next(c for c in checks if c.pointer == "/network_configuration/interfaces/0/ipv4/dhcp")
    assert lease.actual.startswith("10.231.0.1")  # from the network's DHCP range .100-.199
    assert guest.sh("stat -c '%U %a' /home/alice/.ssh/authorized_keys").strip() == "alice 600"
    assert guest.sh("cat /etc/sudoers.d/alice") == "alice ALL=(ALL:ALL) NOPASSWD: ALL\n"


def test_hostile_names_and_contents_stay_literal(guest):
    hostile = "a b'\"$(touch /tmp/pwned)`touch /tmp/pwned2`;touch /tmp/pwned3 #"
    apps = [
        {
            "name": "hostile",
            "version": "1.0",
            "install": {
                "method": "files",
                "files": [{"path": f"/opt/hostile/{hostile}", "content": hostile, "mode": "0600"}],
            },
            "verify": {
                "command": ["/bin/cat", f"/opt/hostile/{hostile}"],
                "expect_output_contains": hostile,
            },
        }
    ]
    p = guest.provisioner()
    p.install_applications(apps)
    data = guest.hv.agent.file_read(guest.name, f"/opt/hostile/{hostile}")
    assert data.decode() == hostile
    assert guest.sh("ls /tmp/pwned /tmp/pwned2 /tmp/pwned3 2>/dev/null | wc -l").strip() == "0"
    check = p.components.verify(
        apps[0]["verify"],
        pointer="/application_manifest/0/verify",
        name="hostile",
        section="applications",
    )
    assert check.passed, str(check)
    with pytest.raises(GuestStepError):
        p.set_hostname("x;touch /tmp/pwned")


def test_everything_persists_across_a_reboot(guest):
    web, db, dev = web_server(guest), database(guest), dev_workstation(guest)
    db["security_profile"]["intrusion_detection"]["engine"] = "builtin"
    db_devices = devices_for(guest, db, ["gtdata0", "gtdata1"])
    dev_devices = devices_for(guest, dev, ["gtdata2"])
    for doc, devices in ((db, db_devices), (dev, dev_devices)):
        if doc["name"] not in guest.provisioned:
            provision(guest, doc, devices)
    # the web server last, with a second NIC renamed lan1 on DHCP, and its integrity
    # check every minute so the reboot shows cron really runs it
    web["network_configuration"]["interfaces"].append(
        {"name": "lan1", "network": NETWORK, "ipv4": {"dhcp": True}}
    )
    web["security_profile"]["intrusion_detection"]["settings"]["schedule"] = "* * * * *"
    provision(guest, web, {})
    p = guest.provisioner()
    assert_all_passed(p.verify(web, devices={}, macs=guest.macs))

    started = time.monotonic()
    p.reboot(timeout=180)
    print(f"\nrebooted and ready in {time.monotonic() - started:.1f} s")
    booted_at = int(guest.sh("date +%s"))
    assert_all_passed(p.verify(web, devices={}, macs=guest.macs, hostname=guest.name))
    for doc, devices in ((db, db_devices), (dev, dev_devices)):
        doc = copy.deepcopy(doc)
        doc["network_configuration"]["interfaces"] = []  # the NICs now follow the web server
        doc["security_profile"].pop("intrusion_detection", None)
        assert_all_passed(p.verify(doc, devices=devices, macs=[]))

    # cron runs the integrity check within a minute of the boot
    deadline = time.monotonic() + 90
    while True:
        text = guest.sh("cat /var/lib/vmpersona/ids/last-check 2>/dev/null; true").split()
        if text and int(text[0]) >= booted_at:
            assert text[1] == "ok", text
            break
        assert time.monotonic() < deadline, "cron did not run the integrity check after the reboot"
        time.sleep(5)

    # and the check sees tampering
    guest.sh("echo '# changed' >>/etc/nginx/nginx.conf")
    checks = p.verify(web, devices={}, macs=guest.macs)
    ids = next(c for c in checks if c.pointer == "/security_profile/intrusion_detection")
    assert not ids.passed and "changed (content) /etc/nginx/nginx.conf" in ids.detail
