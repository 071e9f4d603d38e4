"""The full clone: a verified clone job through the product versus the same provisioning
by hand with virsh and guest-agent commands, then clone throughput with 1, 2 and 4
concurrent jobs.

    .venv/bin/python bench/bench_clone.py [--repeat N] [--concurrency 1,2,4] [--json OUT]

1. N product clones (``job_request_clone`` + ``run_job``, synchronously) alternating with
   N clones by hand: virsh for the host side (overlay, define, start, secret, encrypted
   volume, attach, nwfilter, NIC, CPU shares) and ``virsh qemu-agent-command`` guest-exec
   plus guest-exec-status polling for the guest side (hostname, app install script,
   mkfs and mount, ip addr, adduser, monitoring agent). The by-hand path verifies
   nothing. Each step's share of the total comes from the job's JobStep rows.
2. Throughput: rounds of 1, 2 and 4 clone jobs at once, one thread per job, each with
   its own VM name and static IP; everything is decommissioned after each round.

The database is a throwaway SQLite file in a temporary instance folder.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

EXAMPLE = c.ROOT / "examples" / "web-server.json"
GIB = 1024**3
STEPS = (
    "retrieve",
    "provision",
    "base_image",
    "applications",
    "volumes",
    "network",
    "resources",
    "security",
    "monitoring",
    "verify",
)
SUBNET = "10.231.0"
GATEWAY = f"{SUBNET}.1"
FIRST_HOST = 200  # static addresses from 10.231.0.200 up, clear of the tests' .50/.51
AGENT_POLL = 1.0  # seconds between guest-ping attempts while the guest boots (by hand)
EXEC_POLL = 0.1  # seconds between guest-exec-status polls (by hand)
ROUND_NOTE_S = 15 * 60


# --------------------------------------------------------------------------- the profile


def clone_document(name: str, address: str, *, memory_mib: int) -> dict:
    """examples/web-server.json for the tiny guest: its two applications, a 64 MiB
    LUKS-encrypted volume, one NIC with a static address on the isolated network, one
    firewall rule, a group and a user, CPU shares and the node_exporter agent."""
    doc = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    doc["name"] = name
    doc["description"] = "Benchmark clone of the web server profile on the tiny test guest."
    doc["execution_flags"] = ["Testing"]
    doc.pop("fixes", None)
    # the clone is timed to its verification, not through a health watch after it
    doc["health_watch"] = {"period_s": 0}
    doc["resource_allocation"] = {
        "vcpus": 1,
        "memory_mib": memory_mib,
        "storage_gib": 0.25,
        "limits": {"cpu_shares": 512},
    }
    doc["data_volume_definitions"] = [
        {
            "name": "data",
            "size_gib": 0.0625,
            "mount_point": "/srv/data",
            "filesystem": "ext4",
            "format": "qcow2",
            "encryption": {"enabled": True, "key": secrets.token_urlsafe(24)},
        }
    ]
    doc["network_configuration"] = {
        "interfaces": [
            {
                "name": "eth0",
                "network": "persona-isolated",
                "ipv4": {"address": f"{address}/24", "gateway": GATEWAY, "dns": [GATEWAY]},
            }
        ],
        "firewall_rules": [
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 80,
                "action": "accept",
                "comment": "http",
            }
        ],
        "default_policy": "drop",
    }
    security = doc["security_profile"]
    security["permissions"] = security["permissions"][:1]  # /var/www/html to www-data
    security.pop("intrusion_detection", None)
    return doc


# --------------------------------------------------------------------------- by hand


class HandAgent:
    """Guest-agent commands through ``virsh qemu-agent-command``, counted."""

    def __init__(self, uri: str, domain: str, record=lambda what, seconds: None) -> None:
        self.uri = uri
        self.domain = domain
        self.calls: Counter[str] = Counter()
        self.record = record
        self.exec_times: list[float] = []

    def command(self, execute: str, arguments: dict | None = None, *, timeout: int = 30):
        request: dict = {"execute": execute}
        if arguments:
            request["arguments"] = arguments
        self.calls[execute] += 1
        proc = c.virsh(
            self.uri,
            "qemu-agent-command",
            self.domain,
            "--timeout",
            str(timeout),
            json.dumps(request),
        )
        return json.loads(proc.stdout).get("return")

    def wait(self, timeout: float = 300) -> None:
        with c.Timer() as t:
            self._wait(timeout)
        self.record("wait for the agent", t.s)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ping = json.dumps({"execute": "guest-ping"})
        while True:
            self.calls["guest-ping"] += 1
            args = ("qemu-agent-command", self.domain, "--timeout", "5", ping)
            proc = c.virsh(self.uri, *args, check=False)
            if proc.returncode == 0:
                return
            if time.monotonic() + AGENT_POLL > deadline:
                raise c.BenchError(f"the agent of {self.domain} did not answer: {proc.stderr}")
            time.sleep(AGENT_POLL)

    def run(self, argv: list[str], *, what: str, timeout: float = 120) -> str:
        """guest-exec with captured output, then guest-exec-status until it exits."""
        with c.Timer() as t:
            out = self._run(argv, what=what, timeout=timeout)
        self.record(what, t.s)
        self.exec_times.append(t.s)
        return out

    def _run(self, argv: list[str], *, what: str, timeout: float) -> str:
        started = self.command(
            "guest-exec", {"path": argv[0], "arg": argv[1:], "capture-output": True}
        )
        deadline = time.monotonic() + timeout
        while True:
            status = self.command("guest-exec-status", {"pid": started["pid"]})
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                raise c.BenchError(f"{what} in {self.domain} timed out after {timeout:g} s")
            time.sleep(EXEC_POLL)
        out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        if status.get("exitcode") != 0:
            raise c.BenchError(
                f"{what} in {self.domain} exited {status.get('exitcode')}: {(err or out)[-800:]}"
            )
        return out

    def sh(self, script: str, *args: str, what: str) -> str:
        return self.run(["/bin/sh", "-c", script, "sh", *args], what=what)

    def write(self, path: str, data: bytes) -> None:
        with c.Timer() as t:
            handle = self.command("guest-file-open", {"path": path, "mode": "w"})
            try:
                self.command(
                    "guest-file-write",
                    {"handle": handle, "buf-b64": base64.b64encode(data).decode()},
                )
            finally:
                self.command("guest-file-close", {"handle": handle})
        self.record(f"write {path}", t.s)


def heredoc_files(files: list[dict]) -> list[str]:
    """Shell lines that write each file (path, content, mode) with a quoted here-document."""
    lines = []
    for i, spec in enumerate(files):
        content = spec["content"] if spec["content"].endswith("\n") else spec["content"] + "\n"
        marker = f"VMP_EOF_{i}"
        lines += [
            f"mkdir -p '{Path(spec['path']).parent}'",
            f"cat > '{spec['path']}' <<'{marker}'",
            content + marker,
            f"chmod {spec.get('mode', '0644')} '{spec['path']}'",
        ]
    return lines


def component_script(component: dict) -> list[str]:
    """Install one application or agent of the document: its files, config, then-script."""
    install = component["install"]
    lines = [f"# {component['name']} {component.get('version', '')}"]
    config = component.get("config", [])
    if isinstance(config, dict):  # an agent's settings: kept as JSON next to it
        path = f"/etc/{component['name']}/config.json"
        config = [{"path": path, "content": json.dumps(config, sort_keys=True)}]
    if install["method"] == "files":
        lines += heredoc_files(install.get("files", []))
        lines += heredoc_files(config)
        if install.get("then"):
            lines.append(install["then"].rstrip("\n"))
    elif install["method"] == "script":
        lines += heredoc_files(config)
        lines += ["(", install["script"].rstrip("\n"), ")"]
    else:
        raise c.BenchError(f"install method {install['method']} has no by-hand equivalent here")
    return lines


FIND_DISK = r"""
serial=$1 mnt=$2 dev=
i=0
while [ -z "$dev" ] && [ $i -lt 300 ]; do
	for d in /sys/block/*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$serial" ] && dev=/dev/${d##*/}
	done
	[ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$dev" ] || { echo "no disk with serial $serial" >&2; exit 1; }
mkfs.ext4 -q -F "$dev"
mkdir -p "$mnt"
mount -t ext4 "$dev" "$mnt"
echo "$dev $mnt ext4 defaults 0 2" >> /etc/fstab
"""

SET_ADDRESS = r"""
mac=$1 addr=$2 gw=$3 dns=$4 dev=
i=0
while [ -z "$dev" ] && [ $i -lt 300 ]; do
	for n in /sys/class/net/*; do
		[ "$(cat "$n/address" 2>/dev/null)" = "$mac" ] && dev=${n##*/}
	done
	[ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$dev" ] || { echo "no NIC with MAC $mac" >&2; exit 1; }
ip link set "$dev" up
ip addr add "$addr" dev "$dev"
ip route add default via "$gw" dev "$dev"
echo "nameserver $dns" > /etc/resolv.conf
"""

ADD_USER = r"""
group=$1 gid=$2 user=$3 uid=$4 home=$5 shell=$6 dir=$7 mode=$8
grep -q "^$group:" /etc/group || addgroup -g "$gid" "$group"
grep -q "^$user:" /etc/passwd || adduser -D -H -u "$uid" -G "$group" -s "$shell" -h "$home" "$user"
mkdir -p "$dir"
chown -R "$user:$group" "$dir"
chmod "$mode" "$dir"
"""


class ByHand:
    """The clone's provisioning done by hand; times per phase named like the job's steps."""

    def __init__(self, ctx: Context, name: str, doc: dict, workdir: Path) -> None:
        self.ctx = ctx
        self.uri = ctx.uri
        self.name = name
        self.doc = doc
        self.dir = workdir / name
        self.dir.mkdir()
        self.agent = HandAgent(ctx.uri, name, record=self.record)
        self.virsh_calls = 0
        self.times: dict[str, float] = {}
        self.detail: list[tuple[str, str, float]] = []  # (phase, action, seconds)
        self.current = ""
        self.root = f"{name}-root.qcow2"
        self.data = f"{name}-data.qcow2"
        self.filter = f"persona-{name}"
        digest = hashlib.sha256(name.encode()).digest()
        self.mac = f"52:54:00:{digest[0]:02x}:{digest[1]:02x}:{digest[2]:02x}"
        self.serial = digest.hex()[:16]

    def record(self, what: str, seconds: float) -> None:
        self.detail.append((self.current, what, seconds))

    def virsh(self, *args: str, quiet: bool = True) -> str:
        self.virsh_calls += 1
        with c.Timer() as t:
            out = c.virsh(self.uri, *args, quiet=quiet).stdout
        self.record(f"virsh {args[0]}", t.s)
        return out

    def phase(self, name: str):
        hand = self
        self.current = name

        class _Phase(c.Timer):
            def __exit__(self, *exc: object) -> None:
                super().__exit__(*exc)
                hand.times[name] = hand.times.get(name, 0.0) + self.s

        return _Phase()

    # -- documents ---------------------------------------------------------------

    def domain_xml(self) -> ET.Element:
        image = self.ctx.image
        res = self.doc["resource_allocation"]
        dom = ET.Element("domain", type=image["domain_type"])
        c.sub(dom, "name", self.name)
        c.sub(dom, "memory", str(res["memory_mib"]), unit="MiB")
        c.sub(dom, "currentMemory", str(res["memory_mib"]), unit="MiB")
        c.sub(dom, "vcpu", str(res["vcpus"]), placement="static")
        os_ = c.sub(dom, "os")
        c.sub(os_, "type", "hvm", arch=image["arch"], machine=image["machine"])
        c.sub(os_, "kernel", image["kernel"])
        c.sub(os_, "initrd", image["initrd"])
        c.sub(os_, "cmdline", f"{image['cmdline']} hostname={self.name}")
        features = c.sub(dom, "features")
        c.sub(features, "acpi")
        c.sub(features, "apic")
        c.sub(dom, "clock", offset="utc")
        c.sub(dom, "on_poweroff", "destroy")
        c.sub(dom, "on_reboot", "restart")
        c.sub(dom, "on_crash", "destroy")
        devices = c.sub(dom, "devices")
        disk = c.sub(devices, "disk", type="file", device="disk")
        c.sub(disk, "driver", name="qemu", type="qcow2")
        c.sub(disk, "source", file=f"{self.ctx.pool_path}/{self.root}")
        c.sub(disk, "target", dev="vda", bus="virtio")
        channel = c.sub(devices, "channel", type="unix")
        c.sub(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
        balloon = c.sub(devices, "memballoon", model="virtio")
        c.sub(balloon, "stats", period="5")
        rng = c.sub(devices, "rng", model="virtio")
        c.sub(rng, "backend", "/dev/urandom", model="random")
        return dom

    def overlay_xml(self) -> ET.Element:
        image = self.ctx.image
        capacity = max(
            int(float(self.doc["resource_allocation"]["storage_gib"]) * GIB),
            int(image["virtual_size"]),
        )
        vol = ET.Element("volume")
        c.sub(vol, "name", self.root)
        c.sub(vol, "capacity", str(capacity), unit="bytes")
        c.sub(c.sub(vol, "target"), "format", type="qcow2")
        backing = c.sub(vol, "backingStore")
        c.sub(backing, "path", image["root_disk"])
        c.sub(backing, "format", type=image["root_disk_format"])
        return vol

    def secret_xml(self) -> ET.Element:
        secret = ET.Element("secret", ephemeral="no", private="yes")
        c.sub(secret, "description", f"passphrase of volume {self.data}")
        usage = c.sub(secret, "usage", type="volume")
        c.sub(usage, "volume", f"{self.ctx.pool_path}/{self.data}")
        return secret

    def data_xml(self, secret_uuid: str) -> ET.Element:
        size = int(float(self.doc["data_volume_definitions"][0]["size_gib"]) * GIB)
        vol = ET.Element("volume")
        c.sub(vol, "name", self.data)
        c.sub(vol, "capacity", str(size), unit="bytes")
        target = c.sub(vol, "target")
        c.sub(target, "format", type="qcow2")
        enc = c.sub(target, "encryption", format="luks")
        c.sub(enc, "secret", type="passphrase", uuid=secret_uuid)
        return vol

    def disk_xml(self, secret_uuid: str) -> ET.Element:
        disk = ET.Element("disk", type="file", device="disk")
        c.sub(disk, "driver", name="qemu", type="qcow2")
        source = c.sub(disk, "source", file=f"{self.ctx.pool_path}/{self.data}")
        enc = c.sub(source, "encryption", format="luks")
        c.sub(enc, "secret", type="passphrase", uuid=secret_uuid)
        c.sub(disk, "target", dev="vdb", bus="virtio")
        c.sub(disk, "serial", self.serial)
        return disk

    def filter_xml(self) -> ET.Element:
        """The rules the product's filter has: DHCP both ways, the document's rules, and
        the default policy for everything else."""
        net = self.doc["network_configuration"]
        flt = ET.Element("filter", name=self.filter, chain="root")
        rule = c.sub(flt, "rule", action="accept", direction="out", priority="-900")
        c.sub(rule, "udp", srcportstart="68", dstportstart="67")
        rule = c.sub(flt, "rule", action="accept", direction="in", priority="-900")
        c.sub(rule, "udp", srcportstart="67", dstportstart="68")
        for spec in net["firewall_rules"]:
            rule = c.sub(
                flt,
                "rule",
                action=spec["action"],
                direction=spec["direction"],
                priority=str(spec.get("priority", 500)),
            )
            c.sub(rule, spec["protocol"], dstportstart=str(spec["port"]))
        policy = net.get("default_policy", "accept")
        c.sub(c.sub(flt, "rule", action=policy, direction="inout", priority="1000"), "all")
        rule = c.sub(flt, "rule", action=policy, direction="inout", priority="1000")
        c.sub(rule, "all-ipv6")
        return flt

    def nic_xml(self) -> ET.Element:
        nic = ET.Element("interface", type="network")
        c.sub(nic, "mac", address=self.mac)
        c.sub(nic, "source", network=self.doc["network_configuration"]["interfaces"][0]["network"])
        c.sub(nic, "model", type="virtio")
        c.sub(nic, "filterref", filter=self.filter)
        return nic

    def file(self, name: str, element: ET.Element) -> str:
        return str(c.xml_file(self.dir, name, element))

    # -- the provisioning --------------------------------------------------------

    def run(self) -> dict:
        doc, name = self.doc, self.name
        with self.phase("provision"):
            self.virsh("define", self.file("domain.xml", self.domain_xml()))
        with self.phase("base_image"):
            self.virsh("vol-create", self.ctx.pool, self.file("root.xml", self.overlay_xml()))
            self.virsh("start", name)
            self.agent.wait()
            self.agent.sh(
                'hostname "$1" && echo "$1" > /etc/hostname', name, what="set the hostname"
            )
        with self.phase("applications"):
            script = ["set -e"]
            for app in doc["application_manifest"]:
                script += component_script(app)
            self.agent.write("/root/install-apps.sh", ("\n".join(script) + "\n").encode())
            self.agent.run(["/bin/sh", "/root/install-apps.sh"], what="install the applications")
        with self.phase("volumes"):
            vol = doc["data_volume_definitions"][0]
            out = self.virsh(
                "secret-define", self.file("secret.xml", self.secret_xml()), quiet=False
            )
            match = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", out)
            if not match:
                raise c.BenchError(f"no secret UUID in: {out}")
            uuid = match.group(0)
            key = self.dir / "key"
            key.write_text(vol["encryption"]["key"])
            key.chmod(0o600)
            self.virsh("secret-set-value", uuid, "--file", str(key), "--plain")
            key.unlink()
            self.virsh("vol-create", self.ctx.pool, self.file("data.xml", self.data_xml(uuid)))
            disk = self.file("disk.xml", self.disk_xml(uuid))
            self.virsh("attach-device", name, disk, "--live", "--config")
            self.agent.sh(FIND_DISK, self.serial, vol["mount_point"], what="mkfs and mount")
        with self.phase("network"):
            nic = doc["network_configuration"]["interfaces"][0]
            self.virsh("nwfilter-define", self.file("filter.xml", self.filter_xml()))
            nic_xml = self.file("nic.xml", self.nic_xml())
            self.virsh("attach-device", name, nic_xml, "--live", "--config")
            ipv4 = nic["ipv4"]
            self.agent.sh(
                SET_ADDRESS,
                self.mac,
                ipv4["address"],
                ipv4["gateway"],
                ipv4["dns"][0],
                what="set the address",
            )
        with self.phase("resources"):
            shares = doc["resource_allocation"]["limits"]["cpu_shares"]
            self.virsh("schedinfo", name, "--live", "--config", f"cpu_shares={shares}")
        with self.phase("security"):
            sec = doc["security_profile"]
            group, user, perm = sec["groups"][0], sec["users"][0], sec["permissions"][0]
            self.agent.sh(
                ADD_USER,
                group["name"],
                str(group["gid"]),
                user["name"],
                str(user["uid"]),
                user["home"],
                user["shell"],
                perm["path"],
                perm["mode"],
                what="add the user",
            )
        with self.phase("monitoring"):
            script = ["set -e"]
            for agent in doc["monitoring_agents"]:
                script += component_script(agent)
            self.agent.run(["/bin/sh", "-c", "\n".join(script)], what="start the agent")
        return {
            "steps": dict(self.times),
            "total": sum(self.times.values()),
            "virsh_calls": self.virsh_calls + sum(self.agent.calls.values()),
            "agent_calls": sum(self.agent.calls.values()),
            "agent_calls_by_command": dict(self.agent.calls),
            "detail": self.detail,
            "exec_times": self.agent.exec_times,
        }


# --------------------------------------------------------------------------- the product


class Context:
    """The throwaway database's users, the host-a platform and the shared facts."""

    def __init__(self, uri: str, pool: str, prefix: str, memory_mib: int) -> None:
        from django.contrib.auth.models import Group, User

        from operations_app import testbed
        from operations_app.services.platforms import platform_refresh
        from vmpersona.roles import ALL_ROLES

        self.uri = uri
        self.pool = pool
        self.prefix = prefix
        self.memory_mib = memory_mib
        self.image = c.tiny_image()
        pool_xml = c.virsh(uri, "pool-dumpxml", pool).stdout
        self.pool_path = ET.fromstring(pool_xml).findtext("target/path") or ""
        for role in ALL_ROLES:
            Group.objects.get_or_create(name=role)
        self.users = {}
        for username, role in (
            ("author", "authors"),
            ("approver", "approvers"),
            ("operator", "operators"),
        ):
            user = User.objects.create_user(username=f"bench-{username}", password=None)
            user.groups.set(Group.objects.filter(name=role))
            self.users[username] = user
        platforms = testbed.register(testbed.read_env())
        refreshed = {p.name: platform_refresh(platform=p) for p in platforms}
        self.platform = refreshed["host-a"]
        if self.platform.uri != uri:
            raise c.BenchError(f"host-a is {self.platform.uri}, not {uri}")
        self.next_host = FIRST_HOST

    def address(self) -> str:
        address = f"{SUBNET}.{self.next_host}"
        self.next_host += 1
        if self.next_host > 250:
            self.next_host = FIRST_HOST
        return address

    def approved_version(self, label: str):
        """A new profile ``<prefix>-<label>`` with its own static address, approved."""
        from profiles_app.services import versions as version_services

        doc = clone_document(f"{self.prefix}-{label}", self.address(), memory_mib=self.memory_mib)
        version = version_services.policy_create(user=self.users["author"], document=doc)
        version_services.version_submit(user=self.users["author"], version=version)
        return version_services.version_approve(
            user=self.users["approver"], version=version, comment="benchmark"
        )


AGENT_CALLS: Counter[tuple[str, str]] = Counter()
EXEC_TIMES: dict[str, list[float]] = {}


def count_agent_commands() -> None:
    """Count the guest-agent commands the product sends, per domain and command, and
    time each ``exec`` (guest-exec plus its status polls). The calls pass through
    unchanged."""
    from operations_app.hypervisor.agent import GuestAgent

    original_command = GuestAgent.command
    original_exec = GuestAgent.exec
    if getattr(original_command, "_bench_counting", False):
        return

    def command(self, domain, command, *args, **kwargs):
        AGENT_CALLS[(domain, command)] += 1
        return original_command(self, domain, command, *args, **kwargs)

    def exec_(self, domain, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_exec(self, domain, *args, **kwargs)
        finally:
            EXEC_TIMES.setdefault(domain, []).append(time.perf_counter() - started)

    command._bench_counting = True  # type: ignore[attr-defined]
    GuestAgent.command = command  # type: ignore[method-assign]
    GuestAgent.exec = exec_  # type: ignore[method-assign]


def job_failure(job) -> str:
    step = job.steps.exclude(status="succeeded").order_by("-index").first()
    detail = f"job #{job.pk} {job.vm_name} ended {job.status}: {job.error}"
    if job.failing_check:
        detail += f"\n  failing check: {job.failing_check}"
    if step is not None:
        detail += f"\n  step {step.name} output (tail):\n    " + "\n    ".join(
            step.output.strip().splitlines()[-12:]
        )
    if job.traceback:
        detail += "\n  traceback (tail):\n    " + "\n    ".join(
            job.traceback.strip().splitlines()[-8:]
        )
    return detail


def product_clone(ctx: Context, version, vm_name: str) -> dict:
    from operations_app.models import JobStatus, OperationJob
    from operations_app.services import clones as clone_services
    from operations_app.tasks import run_job

    job = clone_services.job_request_clone(
        user=ctx.users["operator"], version=version, platform=ctx.platform, vm_name=vm_name
    )
    with c.Timer() as t:
        status = run_job(job.pk)
    job = OperationJob.objects.get(pk=job.pk)
    steps = {s.name: s.duration_s or 0.0 for s in job.steps.order_by("index")}
    result = {
        "job": job.pk,
        "status": status,
        "wall": t.s,
        "job_time": (job.finished_at - job.started_at).total_seconds()
        if job.finished_at and job.started_at
        else None,
        "steps": steps,
        "total": t.s,
        "checks": job.checks.count(),
        "checks_passed": job.checks.filter(passed=True).count(),
        "checks_by_source": dict(Counter(job.checks.values_list("source", flat=True))),
        "events": job.events.count(),
        "agent_calls": sum(n for (d, _cmd), n in AGENT_CALLS.items() if d == vm_name),
        "agent_calls_by_command": {
            cmd: n for (d, cmd), n in sorted(AGENT_CALLS.items()) if d == vm_name
        },
        "exec_times": EXEC_TIMES.get(vm_name, []),
    }
    if status != JobStatus.SUCCEEDED:
        result["error"] = job_failure(job)
    return result


def product_decommission(ctx: Context, vm_name: str) -> dict:
    from operations_app.models import JobStatus, ManagedVM, OperationJob, VMState
    from operations_app.services import decommissions as decommission_services
    from operations_app.tasks import run_job

    vm = ManagedVM.objects.exclude(state=VMState.GONE).filter(name=vm_name).first()
    if vm is None:
        return {"status": "no VM recorded", "wall": 0.0, "steps": {}}
    job = decommission_services.job_request_decommission(user=ctx.users["operator"], vm=vm)
    with c.Timer() as t:
        status = run_job(job.pk)
    job = OperationJob.objects.get(pk=job.pk)
    out = {
        "status": status,
        "wall": t.s,
        "steps": {s.name: s.duration_s or 0.0 for s in job.steps.order_by("index")},
        "left": c.leftovers(ctx.uri, vm_name, [ctx.pool]),
    }
    if status != JobStatus.SUCCEEDED:
        out["error"] = job_failure(job)
    return out


# --------------------------------------------------------------------------- 1 compare


def bench_compare(ctx: Context, repeat: int, cleanup: c.Cleanup, workdir: Path) -> dict:
    version = ctx.approved_version("single")
    hand_doc = clone_document(
        f"{ctx.prefix}-hand", ctx.address(), memory_mib=ctx.memory_mib
    )  # same shape, its own address
    runs: dict[str, list[dict]] = {"product": [], "hand": []}
    decommissions: list[dict] = []
    failures: list[str] = []
    for i in range(repeat):
        for method in ("product", "hand"):
            name = f"{ctx.prefix}-{'p' if method == 'product' else 'h'}{i + 1:02d}"
            print(f"  clone {i + 1}/{repeat} {method:7} {name} ...", end=" ", flush=True)
            mark = cleanup.mark()
            cleanup.add(f"everything named {name}", lambda n=name: c.sweep(ctx.uri, n, [ctx.pool]))
            try:
                if method == "product":
                    result = product_clone(ctx, version, name)
                else:
                    result = ByHand(ctx, name, hand_doc, workdir).run()
            except KeyboardInterrupt:
                print("interrupted")
                raise
            except c.BenchError as exc:
                print(f"FAILED\n    {exc}")
                failures.append(f"{method} {name}: {exc}")
                cleanup.unwind(mark)
                continue
            if result.get("error"):
                print(f"FAILED ({result['wall']:.1f} s)\n    {result['error']}")
                failures.append(f"{method} {name}: {result['error']}")
            else:
                runs[method].append(result)
                extra = ""
                if method == "product":
                    extra = f", {result['checks']} checks, {result['agent_calls']} agent calls"
                else:
                    extra = f", {result['agent_calls']} agent calls"
                print(f"{result['total']:.1f} s{extra}")
            if method == "product" and result.get("error"):
                left = c.leftovers(ctx.uri, name, [ctx.pool])
                print(
                    "    after the job's rollback: "
                    + (f"LEFT {', '.join(left)}" if left else "nothing left on the host")
                )
            elif method == "product":
                dec = product_decommission(ctx, name)
                decommissions.append(dec)
                left = f"; LEFT {', '.join(dec['left'])}" if dec.get("left") else ""
                print(f"    decommissioned in {dec['wall']:.1f} s ({dec['status']}){left}")
                if dec.get("error"):
                    print(f"    {dec['error']}")
            cleanup.unwind(mark)
    return {"runs": runs, "decommissions": decommissions, "failures": failures}


def print_compare(result: dict) -> dict:
    runs = result["runs"]
    product, hand = runs["product"], runs["hand"]
    print(
        f"\nFull clone, product versus by hand (seconds; median and min-max;"
        f" n={len(product)} product, n={len(hand)} by hand)"
    )
    if not product and not hand:
        print("  no successful run to report")
        return {}
    rows = []
    summary: dict[str, dict] = {"product": {}, "hand": {}}
    p_total = c.summary(r["total"] for r in product)
    h_total = c.summary(r["total"] for r in hand)
    for step in STEPS:
        p = c.summary(r["steps"].get(step, 0.0) for r in product)
        h = c.summary(r["steps"][step] for r in hand if step in r["steps"])
        summary["product"][step], summary["hand"][step] = p, h
        rows.append(
            [
                step,
                c.fmt(p["median"]),
                c.fmt_range(p),
                share(p["median"], p_total["median"]),
                c.fmt(h["median"]) if h["n"] else "-",
                c.fmt_range(h),
                share(h["median"], h_total["median"]) if h["n"] else "-",
            ]
        )
    if product:
        overhead = c.summary(r["total"] - sum(r["steps"].values()) for r in product)
        summary["product"]["outside steps"] = overhead
        rows.append(
            [
                "(job bookkeeping outside steps)",
                c.fmt(overhead["median"]),
                c.fmt_range(overhead),
                share(overhead["median"], p_total["median"]),
                "-",
                "-",
                "-",
            ]
        )
    rows.append(
        [
            "total",
            c.fmt(p_total["median"]),
            c.fmt_range(p_total),
            "100%" if p_total["n"] else "-",
            c.fmt(h_total["median"]),
            c.fmt_range(h_total),
            "100%" if h_total["n"] else "-",
        ]
    )
    summary["product"]["total"], summary["hand"]["total"] = p_total, h_total
    print(
        c.table(
            ["step", "product", "range", "share", "by hand", "range", "share"],
            rows,
        )
    )
    print(
        f"\nratio product/by hand (median totals): {c.ratio(p_total['median'], h_total['median'])}"
    )
    if product and hand:
        checks = product[-1]["checks"]
        sources = ", ".join(f"{n} {s}" for s, n in sorted(product[-1]["checks_by_source"].items()))
        p_agent = c.summary(r["agent_calls"] for r in product)["median"]
        h_agent = c.summary(r["agent_calls"] for r in hand)["median"]
        without = [r["total"] - r["steps"].get("verify", 0.0) for r in product]
        print(
            f"what the product does extra: {checks} verification checks ({sources}) in the"
            f" verify step;\n  {product[-1]['events']} job events written to the database;"
            f" {p_agent:.0f} guest-agent commands against {h_agent:.0f} by hand."
        )
        print(
            "  product without the verify step: "
            f"{c.fmt(c.summary(without)['median'])} s"
            f" ({c.ratio(c.summary(without)['median'], h_total['median'])} of by hand)"
        )
        top = Counter()
        for r in product:
            top.update(r["agent_calls_by_command"])
        common = ", ".join(f"{cmd} {n // len(product)}" for cmd, n in top.most_common(5))
        print(f"  product agent commands per clone, most frequent: {common}")
        for label, runs_ in (("product", product), ("by hand", hand)):
            per_run = [(len(r["exec_times"]), sum(r["exec_times"])) for r in runs_]
            every = [x for r in runs_ for x in r["exec_times"]]
            if every:
                count = c.summary(n for n, _ in per_run)["median"]
                spent = c.summary(s for _, s in per_run)["median"]
                print(
                    f"  {label}: {count:.0f} guest commands (guest-exec + status polls) per"
                    f" clone taking {spent:.1f} s in all; each one median"
                    f" {c.fmt(c.summary(every)['median'], 'ms')} ms"
                )
    if hand:
        actions: dict[tuple[str, str], list[float]] = {}
        for r in hand:
            per_run: Counter = Counter()
            for phase, what, seconds in r["detail"]:
                per_run[(phase, what)] += seconds
            for key, seconds in per_run.items():
                actions.setdefault(key, []).append(seconds)
        slowest = sorted(((c.summary(v)["median"], k) for k, v in actions.items()), reverse=True)[
            :6
        ]
        print(
            "by hand, slowest actions (median s): "
            + "; ".join(f"{phase}: {what} {m:.2f}" for m, (phase, what) in slowest)
        )
    decs = [d for d in result["decommissions"] if d.get("status") == "succeeded"]
    if decs:
        d = c.summary(x["wall"] for x in decs)
        steps = Counter()
        for x in decs:
            steps.update(x["steps"])
        parts = ", ".join(f"{k} {v / len(decs):.1f} s" for k, v in steps.items())
        print(f"decommission (not in the totals): median {c.fmt(d['median'])} s ({parts})")
    if result["failures"]:
        print("\nFAILURES:\n  " + "\n  ".join(result["failures"]))
    return summary


def share(part: float | None, total: float | None) -> str:
    if part is None or not total:
        return "-"
    return f"{100 * part / total:.0f}%"


# --------------------------------------------------------------------------- 2 throughput


def bench_throughput(
    ctx: Context, levels: list[int], cleanup: c.Cleanup, expected_single: float | None
) -> list[dict]:
    from django.db import connection

    from operations_app.models import OperationJob
    from operations_app.services import clones as clone_services
    from operations_app.tasks import run_job

    rounds = []
    previous: tuple[int, float] | None = None
    for n in levels:
        estimate = None
        if previous:
            # CPU-bound TCG guests on a fixed number of cores: time grows with the work
            estimate = previous[1] * n / previous[0]
        elif expected_single:
            estimate = expected_single * n
        note = ""
        if estimate and estimate > ROUND_NOTE_S:
            note = (
                f"note: {n} concurrent jobs are expected to take about {estimate / 60:.0f} min"
                f" (> {ROUND_NOTE_S // 60} min) on {c.machine_facts(ctx.uri)['cores']} cores;"
                " running them anyway"
            )
            print(f"  {note}")
        versions = [ctx.approved_version(f"t{n}-{k + 1}") for k in range(n)]
        names = [f"{ctx.prefix}-t{n}-{k + 1}" for k in range(n)]
        mark = cleanup.mark()
        for name in names:
            cleanup.add(f"everything named {name}", lambda m=name: c.sweep(ctx.uri, m, [ctx.pool]))
        jobs = [
            clone_services.job_request_clone(
                user=ctx.users["operator"], version=v, platform=ctx.platform, vm_name=name
            )
            for v, name in zip(versions, names, strict=True)
        ]
        results: dict[int, str] = {}

        def work(job_id: int, results: dict[int, str] = results) -> None:
            try:
                results[job_id] = run_job(job_id)
            except BaseException as exc:  # noqa: BLE001 - reported with the round
                results[job_id] = f"raised {exc.__class__.__name__}: {exc}"
            finally:
                connection.close()

        threads = [
            threading.Thread(target=work, args=(j.pk,), name=f"clone-{j.vm_name}", daemon=True)
            for j in jobs
        ]
        print(f"  {n} concurrent: {', '.join(names)} ...", end=" ", flush=True)
        try:
            with c.Timer() as t:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        except KeyboardInterrupt:
            print("interrupted; cancelling the jobs")
            OperationJob.objects.filter(pk__in=[j.pk for j in jobs]).update(cancel_requested=True)
            for thread in threads:
                thread.join(timeout=300)
            raise
        wall = t.s
        per_job = []
        failures = []
        for job in jobs:
            job = OperationJob.objects.get(pk=job.pk)
            if job.started_at and job.finished_at:
                per_job.append((job.finished_at - job.started_at).total_seconds())
            if results.get(job.pk) != "succeeded":
                failures.append(job_failure(job) if job.status else str(results.get(job.pk)))
        print(f"{wall:.1f} s" + (f", {len(failures)} FAILED" if failures else ""))
        for failure in failures:
            print(f"    {failure}")
        with c.Timer() as t:
            decs = [product_decommission(ctx, name) for name in names]
        left = [x for d in decs for x in d.get("left", [])]
        print(f"    decommissioned in {t.s:.1f} s" + (f"; LEFT {', '.join(left)}" if left else ""))
        cleanup.unwind(mark)
        if wall > ROUND_NOTE_S:
            note = (note + "; " if note else "note: ") + f"this round took {wall / 60:.1f} min"
        ok = n - len(failures)
        rounds.append(
            {
                "concurrency": n,
                "wall": wall,
                "succeeded": ok,
                "jobs_per_minute": 60 * ok / wall if wall else None,
                "per_job": per_job,
                "per_job_summary": c.summary(per_job),
                "failures": failures,
                "note": note,
            }
        )
        previous = (n, wall)
    return rounds


def print_throughput(rounds: list[dict]) -> None:
    print("\nClone throughput (one thread per job; per-job time from the job's own timestamps)")
    rows = []
    for r in rounds:
        s = r["per_job_summary"]
        rows.append(
            [
                str(r["concurrency"]),
                f"{r['succeeded']}/{r['concurrency']}",
                c.fmt(r["wall"]),
                f"{r['jobs_per_minute']:.2f}" if r["jobs_per_minute"] else "-",
                c.fmt(s["median"]),
                c.fmt_range(s),
                " ".join(f"{x:.0f}" for x in r["per_job"]),
            ]
        )
    print(
        c.table(
            [
                "concurrent jobs",
                "ok",
                "round wall s",
                "jobs/min",
                "per-job median s",
                "range",
                "per-job s",
            ],
            rows,
        )
    )
    for r in rounds:
        if r["note"]:
            print(f"{r['concurrency']} jobs: {r['note']}")


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = c.base_parser(__doc__.split("\n\n")[0], repeat=2)
    parser.add_argument(
        "--concurrency",
        default="1,2,4",
        help="throughput rounds: jobs at once, comma separated (default 1,2,4; 0 skips)",
    )
    parser.add_argument("--memory", type=int, default=192, help="guest memory in MiB (192)")
    parser.add_argument("--skip-compare", action="store_true", help="only the throughput rounds")
    args = parser.parse_args()
    c.install_signal_handlers()
    uri, pool, _network = c.host_a()
    uri = args.uri or uri
    prefix = c.run_prefix()
    facts = c.machine_facts(uri)
    print("bench_clone: the full clone\n")
    c.print_facts(facts)
    print(f"run prefix      {prefix}\n")
    c.warn_stale(uri, [pool])
    levels = [int(x) for x in args.concurrency.split(",") if x.strip() and int(x) > 0]
    output: dict = {"benchmark": "bench_clone", "facts": facts, "prefix": prefix}
    status = 0
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-xml-"))
    instance: Path | None = None
    with c.Cleanup(uri, prefix, pools=[pool]) as cleanup:
        cleanup.add(f"folder {workdir}", lambda: shutil.rmtree(workdir, ignore_errors=True))
        try:
            instance = c.setup_django(prefix)
            cleanup.add(f"folder {instance}", lambda: shutil.rmtree(instance, ignore_errors=True))
            try:
                import operations_app.guest  # noqa: F401
            except ImportError as exc:
                raise c.BenchError(
                    f"the product cannot clone yet: import operations_app.guest failed: {exc}"
                ) from exc
            count_agent_commands()
            ctx = Context(uri, pool, prefix, args.memory)
            single = None
            if not args.skip_compare:
                print(
                    f"1. Full clone of the tiny guest ({args.memory} MiB), {args.repeat}x through"
                    " the product and by hand, alternating"
                )
                compare = bench_compare(ctx, args.repeat, cleanup, workdir)
                output["compare"] = {**compare, "summary": print_compare(compare)}
                totals = [r["total"] for r in compare["runs"]["product"]]
                single = c.summary(totals)["median"]
                if compare["failures"]:
                    status = 1
            if levels:
                if not args.skip_compare and not compare["runs"]["product"]:
                    print("\n2. Throughput: skipped, no product clone succeeded above")
                else:
                    print(f"\n2. Throughput with {', '.join(map(str, levels))} concurrent jobs")
                    rounds = bench_throughput(ctx, levels, cleanup, single)
                    print_throughput(rounds)
                    output["throughput"] = rounds
                    if any(r["failures"] for r in rounds):
                        status = 1
        except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
            c.report_exception(exc)
            status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        finally:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001 - Django may not have been set up
                pass
    c.write_json(args.json, output)
    return status


if __name__ == "__main__":
    sys.exit(main())
