"""Smoke test of the real testbed: scripts/build-guest-image.sh and scripts/testbed.sh.

Builds (or reuses) the tiny guest image, brings the two-host testbed up, boots the guest on
host A from a qcow2 overlay, talks to its QEMU guest agent, live-migrates it to host B with
incremental storage copy and checks that RAM and disk state survived. Needs root and the
Debian packages of scripts/install-system.sh; drives everything through virsh.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "build-guest-image.sh"
TESTBED = REPO / "scripts" / "testbed.sh"
EXAMPLE_XML = REPO / "scripts" / "guest" / "tiny-domain.example.xml"
IMAGE_DIR = Path(os.environ.get("VMPERSONA_IMAGE_DIR", "/var/lib/vmpersona/images")) / "tiny-linux"
POOL_DIR = Path(os.environ.get("VMPERSONA_POOL_DIR", "/var/lib/vmpersona/pools"))
AGENT_TIMEOUT = 120.0


def _missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "needs root (libvirt qemu:///system, mount namespaces)"
    for tool in ("virsh", "libvirtd", "qemu-system-x86_64", "qemu-img", "busybox", "mkfs.ext4"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (scripts/install-system.sh)"
    if not list(Path("/boot").glob("vmlinuz-*-cloud-amd64")):
        return "linux-image-cloud-amd64 is not installed"
    return None


_reason = _missing_requirements()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(_reason is not None, reason=_reason or ""),
]


def run(
    *args: str | Path, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def read_testbed_env() -> dict[str, str]:
    out = run("bash", TESTBED, "env").stdout
    env = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        env[key] = value.strip("'")
    return env


class Guest:
    """A tiny guest defined from the example XML, with an overlay in the host's pool."""

    def __init__(self, uri: str, host_dir: str) -> None:
        self.uri = uri
        self.name = f"tbsmoke-{uuid.uuid4().hex[:8]}"
        self.host_dir = host_dir
        self.volumes: list[tuple[str, str]] = []  # (uri, volume name)

    def virsh(self, *args: str, uri: str | None = None, check: bool = True, timeout: float = 120):
        return run("virsh", "-q", "-c", uri or self.uri, *args, check=check, timeout=timeout)

    def create_overlay(self, uri: str) -> None:
        xml = f"""<volume>
  <name>{self.name}-root.qcow2</name>
  <capacity unit='MiB'>64</capacity>
  <target><format type='qcow2'/><compat>1.1</compat></target>
  <backingStore><path>{IMAGE_DIR / "root.qcow2"}</path><format type='qcow2'/></backingStore>
</volume>"""
        path = Path(f"/tmp/{self.name}-vol.xml")
        path.write_text(xml)
        try:
            self.virsh("vol-create", "persona", str(path), uri=uri)
        finally:
            path.unlink()
        self.volumes.append((uri, f"{self.name}-root.qcow2"))

    def define_and_start(self) -> float:
        xml = EXAMPLE_XML.read_text().replace("NAME", self.name)
        xml = xml.replace("/pools/host-a/", f"/pools/{self.host_dir}/")
        path = Path(f"/tmp/{self.name}.xml")
        path.write_text(xml)
        try:
            self.virsh("define", str(path))
        finally:
            path.unlink()
        started = time.monotonic()
        self.virsh("start", self.name)
        return started

    def agent(self, command: str, arguments: dict | None = None, uri: str | None = None) -> Any:
        payload: dict[str, Any] = {"execute": command}
        if arguments is not None:
            payload["arguments"] = arguments
        out = self.virsh(
            "qemu-agent-command", self.name, json.dumps(payload), "--timeout", "30", uri=uri
        ).stdout
        return json.loads(out)["return"]

    def wait_for_agent(self, started: float) -> float:
        while time.monotonic() - started < AGENT_TIMEOUT:
            proc = self.virsh(
                "qemu-agent-command",
                self.name,
                '{"execute":"guest-ping"}',
                "--timeout",
                "1",
                check=False,
            )
            if proc.returncode == 0:
                return time.monotonic() - started
            time.sleep(0.2)
        console = Path(f"/var/log/vmpersona/{self.name}.console.log")
        text = console.read_text() if console.exists() else "(no console log)"
        raise AssertionError(f"agent did not answer in {AGENT_TIMEOUT}s; console:\n{text}")

    def sh(self, script: str, uri: str | None = None) -> tuple[int, str]:
        pid = self.agent(
            "guest-exec",
            {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True},
            uri=uri,
        )["pid"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = self.agent("guest-exec-status", {"pid": pid}, uri=uri)
            if status["exited"]:
                out = base64.b64decode(status.get("out-data", "")).decode()
                return status["exitcode"], out
            time.sleep(0.2)
        raise AssertionError(f"guest-exec of {script!r} did not finish")

    def cleanup(self, uris: list[str]) -> None:
        for uri in uris:
            self.virsh("destroy", self.name, uri=uri, check=False)
            self.virsh("undefine", self.name, uri=uri, check=False)
        for uri, vol in self.volumes:
            self.virsh("pool-refresh", "persona", uri=uri, check=False)
            self.virsh("vol-delete", "--pool", "persona", vol, uri=uri, check=False)
        Path(f"/var/log/vmpersona/{self.name}.console.log").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def image() -> dict:
    run("bash", BUILD, "--quiet", timeout=900)
    meta = json.loads((IMAGE_DIR / "image.json").read_text())
    return meta


@pytest.fixture(scope="module")
def testbed(image: dict) -> dict[str, str]:
    run("bash", TESTBED, "up", timeout=300)
    Path("/var/log/vmpersona").mkdir(parents=True, exist_ok=True)
    return read_testbed_env()


def test_image_is_complete_and_build_is_idempotent(image: dict) -> None:
    assert image["id"] == "tiny-linux"
    assert image["os"] == "busybox-linux"
    assert image["min_memory_mib"] == 128 and image["min_vcpus"] == 1
    assert image["checksum"].startswith("sha256:")
    assert "virtio_blk" in image["virtio_modules"] and "virtio_console" in image["virtio_modules"]
    for name in ("vmlinuz", "initrd.img", "root.qcow2", "image.json"):
        path = IMAGE_DIR / name
        assert path.is_file(), path
        assert path.stat().st_mode & 0o004, f"{path} must be readable by the qemu user"
    info = json.loads(
        run("qemu-img", "info", "-U", "--output=json", IMAGE_DIR / "root.qcow2").stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == image["virtual_size"]
    second = run("bash", BUILD)
    assert "up to date" in second.stdout
    assert run("bash", BUILD, "--check", check=False).returncode == 0


def test_testbed_up_is_idempotent_and_status_reports_up(testbed: dict[str, str]) -> None:
    again = run("bash", TESTBED, "up", timeout=300)
    assert testbed["VMPERSONA_HOST_B_URI"] in again.stdout
    status = run("bash", TESTBED, "status", check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    for uri in (testbed["VMPERSONA_HOST_A_URI"], testbed["VMPERSONA_HOST_B_URI"]):
        nets = run("virsh", "-q", "-c", uri, "net-list", "--name").stdout.split()
        assert {"persona-isolated", "persona-vlan-100"} <= set(nets)
        pools = run("virsh", "-q", "-c", uri, "pool-list", "--name").stdout.split()
        assert "persona" in pools
    uuids = {
        run("virsh", "-q", "-c", uri, "capabilities").stdout.split("<uuid>")[1].split("<")[0]
        for uri in (testbed["VMPERSONA_HOST_A_URI"], testbed["VMPERSONA_HOST_B_URI"])
    }
    assert len(uuids) == 2, "host A and host B must have different host UUIDs"


@pytest.fixture
def guest(testbed: dict[str, str]) -> Iterator[Guest]:
    g = Guest(testbed["VMPERSONA_HOST_A_URI"], "host-a")
    try:
        yield g
    finally:
        g.cleanup([testbed["VMPERSONA_HOST_A_URI"], testbed["VMPERSONA_HOST_B_URI"]])


def test_tiny_guest_boots_answers_agent_and_live_migrates(
    guest: Guest, testbed: dict[str, str]
) -> None:
    uri_a, uri_b = testbed["VMPERSONA_HOST_A_URI"], testbed["VMPERSONA_HOST_B_URI"]
    guest.create_overlay(uri_a)
    started = guest.define_and_start()
    boot_seconds = guest.wait_for_agent(started)
    print(f"boot to agent: {boot_seconds:.1f} s")

    osinfo = guest.agent("guest-get-osinfo")
    assert osinfo["id"] == "tiny-linux" and osinfo["version-id"] == "1.0"
    code, out = guest.sh(
        "id -u; hostname; echo ram-state > /tmp/marker; echo disk > /root/marker; sync"
    )
    assert code == 0 and out.split()[:2] == ["0", guest.name]
    ifaces = {i["name"]: i for i in guest.agent("guest-network-get-interfaces")}
    assert "eth0" in ifaces

    # host B needs the overlay at its own pool path, backed by the shared base
    guest.create_overlay(uri_b)
    xml = guest.virsh("dumpxml", "--migratable", guest.name).stdout.replace(
        "/pools/host-a/", "/pools/host-b/"
    )
    persistent = guest.virsh("dumpxml", "--inactive", "--migratable", guest.name).stdout.replace(
        "/pools/host-a/", "/pools/host-b/"
    )
    xml_path, persistent_path = Path(f"/tmp/{guest.name}-b.xml"), Path(f"/tmp/{guest.name}-bp.xml")
    xml_path.write_text(xml)
    persistent_path.write_text(persistent)
    try:
        guest.virsh(
            "migrate",
            "--live",
            "--p2p",
            "--persistent",
            "--undefinesource",
            "--copy-storage-inc",
            "--xml",
            str(xml_path),
            "--persistent-xml",
            str(persistent_path),
            guest.name,
            uri_b,
            "tcp://127.0.0.1",
            timeout=300,
        )
    finally:
        xml_path.unlink()
        persistent_path.unlink()
    assert guest.name in guest.virsh("list", "--name", uri=uri_b).stdout.split()
    assert guest.name not in guest.virsh("list", "--all", "--name", uri=uri_a).stdout.split()
    code, out = guest.sh("cat /tmp/marker /root/marker", uri=uri_b)
    assert code == 0 and out.split() == ["ram-state", "disk"]
