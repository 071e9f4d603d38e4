"""How long the evacuation plan of a host with 500 VMs takes, among 50 platforms.

A simulated estate on libvirt's in-process test driver (``test:///default``): 50
platforms whose URI is the test driver, capabilities recorded as a probe of QEMU hosts
of different sizes would record them, and on the first platform 500 managed VMs (plus a
few unmanaged ones) defined in the test driver through ``operations_app.hypervisor``,
running or shut off, with their disks in its storage pools. It times:

- the pure placement (``placement.evacuation.plan_evacuation``) with a dry run that
  always says yes: the filter and score cost of 500 VMs against 49 candidates;
- the whole ``services.maintenance.evacuation_plan`` with the adaptation layer's real
  dry run (``adaptation.move.plan_move``) against the test driver;
- the plan one maintenance tick makes (at most ``VMPERSONA_EVACUATION_PARALLEL`` VMs,
  default 2), alone and as part of a whole ``maintenance_tick`` (rolled back).

Own throwaway instance folder and SQLite database; nothing outlives the process (the
test driver's state is in memory). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import textwrap
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the project on the path too)

TEST_URI = "test:///default"
GIB = 1024**3
# Capabilities as libvirt reports them on a QEMU host: the documents the hypervisor and
# adaptation tests assemble theirs from (captured on a real host).
CAPS_DATA = c.ROOT / "tests" / "operations_app" / "hypervisor" / "data"
EXAMPLES = c.ROOT / "examples"
PROFILES = ("web-server", "database", "dev-workstation")
# libvirt's test driver gives every pool 100 GiB: the source's disks are spread over
# as many pools as they need.
TEST_POOL_BYTES = 100 * GIB
# Where the test driver's pools say they are (it keeps them in memory, no folder is made).
POOL_ROOT = "/test-driver/pools"

# (share of the VMs, vCPUs, memory MiB, root disk GiB, data disk GiB or 0)
VM_SIZES = (
    (0.30, 1, 1024, 4, 0),
    (0.20, 1, 2048, 6, 0),
    (0.20, 2, 4096, 8, 4),
    (0.15, 4, 8192, 10, 8),
    (0.10, 8, 16384, 12, 16),
    (0.05, 16, 32768, 16, 24),
)


class Rolled(Exception):
    """Raised to roll a measured transaction back."""


@dataclass
class HostPlan:
    name: str
    cpus: int
    memory_gib: int
    pool_tib: float
    load: float  # share of its memory committed by the VMs already there
    enabled: bool = True
    unreachable: bool = False
    maintenance: bool = False
    constraints: dict = field(default_factory=dict)
    cost_vcpu_hour: float = 0.0
    cost_ram_gib_hour: float = 0.0
    role: str = ""  # what makes it special, for the listing


@dataclass
class VMPlan:
    name: str
    profile: str
    vcpus: int
    memory_mib: int
    disks_gib: list[int]
    machine: str
    running: bool


# --------------------------------------------------------------------------- the estate


def design_hosts(count: int, rng: random.Random) -> list[HostPlan]:
    """The source (``host-00``, big enough for everything) and ``count - 1`` targets of
    mixed sizes, loads, overcommit, limits and costs; some full, disabled, unreachable,
    in maintenance, or declaring constraints the adaptation cannot meet for every VM."""
    hosts = [HostPlan("host-00", cpus=256, memory_gib=3072, pool_tib=40, load=0.0, role="source")]
    for i in range(1, count):
        host = HostPlan(
            name=f"host-{i:02d}",
            cpus=rng.choice([32, 48, 64, 96, 128]),
            memory_gib=rng.choice([128, 192, 256, 384, 512, 768]),
            pool_tib=rng.choice([2, 4, 8, 16, 24]),
            load=round(rng.uniform(0.25, 0.8), 2),
        )
        constraints: dict = {}
        if rng.random() < 0.5:
            constraints["cpu_overcommit"] = rng.choice([2, 4, 6, 8])
        if rng.random() < 0.3:
            constraints["memory_overcommit"] = rng.choice([1.0, 1.2, 1.5])
        if rng.random() < 0.25:
            constraints["storage_overcommit"] = rng.choice([1.5, 2, 3])
        host.constraints = constraints
        if rng.random() < 0.6:
            host.cost_vcpu_hour = round(rng.uniform(0.005, 0.05), 4)
            host.cost_ram_gib_hour = round(rng.uniform(0.001, 0.01), 4)
        hosts.append(host)
    # Special cases, on fixed positions so every seed has them (when there are enough).
    special = [
        (1, "disabled", lambda h: setattr(h, "enabled", False)),
        (2, "disabled", lambda h: setattr(h, "enabled", False)),
        (3, "unreachable", lambda h: setattr(h, "unreachable", True)),
        (4, "in maintenance", lambda h: setattr(h, "maintenance", True)),
        (5, "in maintenance", lambda h: setattr(h, "maintenance", True)),
        (6, "in maintenance", lambda h: setattr(h, "maintenance", True)),
        (7, "full", lambda h: setattr(h, "load", 0.99)),
        (8, "full", lambda h: setattr(h, "load", 0.98)),
        (9, "full", lambda h: setattr(h, "load", 1.0)),
        (10, "full", lambda h: setattr(h, "load", 0.97)),
        (11, "max 4 vCPUs", lambda h: h.constraints.update(max_vcpus=4)),
        (12, "max 4 vCPUs", lambda h: h.constraints.update(max_vcpus=4)),
        (13, "max 8 vCPUs", lambda h: h.constraints.update(max_vcpus=8)),
        (
            14,
            "max 8 vCPUs and 16 GiB",
            lambda h: h.constraints.update(max_vcpus=8, max_memory_mib=16384),
        ),
        (15, "max 16 GiB", lambda h: h.constraints.update(max_memory_mib=16384)),
        (16, "q35 only", lambda h: h.constraints.update(machine_types=["q35"])),
        (17, "q35 only", lambda h: h.constraints.update(machine_types=["q35"])),
        (18, "q35 only", lambda h: h.constraints.update(machine_types=["q35"])),
        (19, "KVM only (has none)", lambda h: h.constraints.update(accelerators=["kvm"])),
        (20, "KVM only (has none)", lambda h: h.constraints.update(accelerators=["kvm"])),
        (21, "UEFI only", lambda h: h.constraints.update(firmware=["efi"])),
    ]
    for index, role, apply in special:
        if index < len(hosts):
            apply(hosts[index])
            hosts[index].role = role
    # The ones the adaptation refuses are big and empty, so they score first.
    for index in (19, 20, 21):
        if index < len(hosts):
            hosts[index].memory_gib, hosts[index].load, hosts[index].cpus = 768, 0.1, 128
    for host in hosts:
        if host.maintenance:
            host.load = 0.0  # evacuated already: no VMs left there
    return hosts


def design_vms(count: int, rng: random.Random) -> list[VMPlan]:
    vms = []
    weights = [s[0] for s in VM_SIZES]
    for i in range(count):
        _, vcpus, memory, root, data = rng.choices(VM_SIZES, weights)[0]
        profile = rng.choice(PROFILES)
        vms.append(
            VMPlan(
                name=f"{profile.split('-')[0]}-{i:03d}",
                profile=profile,
                vcpus=vcpus,
                memory_mib=memory,
                disks_gib=[root] + ([data] if data else []),
                machine="pc-q35-7.2" if rng.random() < 0.7 else "pc-i440fx-7.2",
                running=rng.random() < 0.8,
            )
        )
    # Two that no host can take: more memory than any target has free.
    for vm, memory in zip(vms[:2], (640 * 1024, 896 * 1024), strict=False):
        vm.vcpus, vm.memory_mib, vm.disks_gib = 32, memory, [40]
    return vms


def capabilities(host: HostPlan, pool: str) -> dict:
    """What a probe of a QEMU host of ``host``'s size would record."""
    from operations_app.hypervisor import NetworkInfo, PoolInfo
    from operations_app.hypervisor.capabilities import (
        assemble_capabilities,
        parse_domain_capabilities,
        parse_host_capabilities,
    )

    doc = parse_host_capabilities((CAPS_DATA / "capabilities-x86_64.xml").read_text())
    domcaps = {
        t: parse_domain_capabilities((CAPS_DATA / f"domcaps-x86_64-{t}.xml").read_text())
        for t in ("qemu", "kvm")
    }
    capacity = int(host.pool_tib * 1024 * GIB)
    allocation = int(capacity * min(host.load, 0.95))
    caps = assemble_capabilities(
        # a remote URI: nothing about this machine (/dev/kvm, rlimits) is probed
        uri=f"qemu+ssh://{host.name}.example/system",
        hostname=f"{host.name}.example",
        driver="QEMU",
        lib_version=9000000,
        hypervisor_version=7002022,
        host=doc,
        domcaps=domcaps,
        node_info=["x86_64", host.memory_gib * 1024, host.cpus, 2596, 1, 1, host.cpus, 1],
        free_memory_bytes=int(host.memory_gib * GIB * (1 - host.load)),
        pools=[
            PoolInfo(
                name=pool,
                type="dir",
                path=f"{POOL_ROOT}/{host.name}",
                active=True,
                capacity_bytes=capacity,
                allocation_bytes=allocation,
                available_bytes=capacity - allocation,
            )
        ],
        networks=[NetworkInfo(name="default", active=True)],
        kvm_usable=False,
        environ={},
    )
    return caps.to_dict()


def filler(host: HostPlan, rng: random.Random) -> list[tuple[int, int]]:
    """(vCPUs, MiB) of the VMs already on ``host``: up to its load of its memory or of
    its vCPUs (as its overcommit counts them), whichever comes first."""
    memory_target = int(
        host.load * host.memory_gib * 1024 * float(host.constraints.get("memory_overcommit") or 1)
    )
    vcpu_target = int(host.load * host.cpus * float(host.constraints.get("cpu_overcommit") or 4))
    out, memory_total, vcpu_total = [], 0, 0
    while True:
        vcpus, memory = rng.choice([(1, 2048), (2, 4096), (4, 8192), (8, 16384), (8, 32768)])
        if memory_total + memory > memory_target or vcpu_total + vcpus > vcpu_target:
            rest = memory_target - memory_total
            if rest >= 512 and vcpu_total < vcpu_target:
                out.append((1, min(rest, 4096)))
            return out
        out.append((vcpus, memory))
        memory_total += memory
        vcpu_total += vcpus


class Estate:
    """Everything the bench made: rows in its own database, objects in the test driver."""

    def __init__(self, args) -> None:
        self.args = args
        self.hosts: list[HostPlan] = []
        self.vms: list[VMPlan] = []
        self.platforms: dict = {}
        self.operator = None
        self.source = None
        self.unmanaged = 0
        self.source_pools: list[str] = []

    def build(self, hv) -> None:
        from django.contrib.auth.models import Group, User
        from django.db import transaction
        from django.utils import timezone

        from operations_app.hypervisor import (
            BootSpec,
            DiskSpec,
            DomainMetadata,
            DomainSpec,
            InterfaceSpec,
        )
        from operations_app.models import ManagedVM, Platform, PlatformStatus, VMState
        from operations_app.services import maintenance as maintenance_services
        from operations_app.services import platforms as platform_services
        from profiles_app.services import versions as version_services
        from vmpersona.roles import ALL_ROLES

        rng = random.Random(self.args.seed)
        for role in ALL_ROLES:
            Group.objects.get_or_create(name=role)

        def user(name: str, group: str):
            person = User.objects.create_user(username=name, password=None)
            person.groups.set(Group.objects.filter(name=group))
            return person

        author, approver = user("author", "authors"), user("approver", "approvers")
        self.operator = user("operator", "operators")
        versions = {}
        for name in PROFILES:
            document = json.loads((EXAMPLES / f"{name}.json").read_text())
            version = version_services.policy_create(user=author, document=document)
            version = version_services.version_submit(user=author, version=version)
            versions[name] = version_services.version_approve(user=approver, version=version)

        self.hosts = design_hosts(self.args.platforms, rng)
        self.vms = design_vms(self.args.vms, rng)
        now = timezone.now()
        for host in self.hosts:
            pool = f"pool-{host.name}"
            # every platform's pool exists in the test driver (the dry run reads its path)
            hv.storage.pool_ensure_dir(pool, f"{POOL_ROOT}/{host.name}")
            platform = platform_services.platform_create(
                name=host.name,
                uri=TEST_URI,
                storage_pool=pool,
                networks=["default"],
                enabled=host.enabled,
                constraints=host.constraints,
                cost_vcpu_hour=str(host.cost_vcpu_hour),
                cost_ram_gib_hour=str(host.cost_ram_gib_hour),
            )
            Platform.objects.filter(pk=platform.pk).update(
                capabilities=capabilities(host, pool),
                capabilities_refreshed_at=now,
                status=PlatformStatus.UNREACHABLE if host.unreachable else PlatformStatus.OK,
                last_error="connection refused" if host.unreachable else "",
            )
            platform.refresh_from_db()
            self.platforms[host.name] = platform
        self.source = self.platforms["host-00"]

        # The VMs already on the targets: rows only (placement reads their sizes).
        rows = []
        version_list = list(versions.values())
        for host in self.hosts[1:]:
            for n, (vcpus, memory) in enumerate(filler(host, rng)):
                version = rng.choice(version_list)
                rows.append(
                    ManagedVM(
                        platform=self.platforms[host.name],
                        name=f"{host.name}-vm-{n:03d}",
                        domain_uuid=uuid.uuid4(),
                        state=VMState.RUNNING,
                        managed=True,
                        profile_version=version,
                        content_hash=version.content_hash,
                        vcpus=vcpus,
                        memory_mib=memory,
                    )
                )
        ManagedVM.objects.bulk_create(rows, batch_size=500)
        self.filler_rows = len(rows)

        # The source's VMs: domains and volumes in the test driver, and their rows.
        pool_index, pool_used = -1, TEST_POOL_BYTES
        source_rows = []
        for i, vm in enumerate(self.vms):
            disks = []
            for d, size in enumerate(vm.disks_gib):
                if pool_used + size * GIB > TEST_POOL_BYTES:
                    pool_index += 1
                    pool_used = 0
                    name = f"src-{pool_index:02d}"
                    hv.storage.pool_ensure_dir(name, f"{POOL_ROOT}/{name}")
                    self.source_pools.append(name)
                pool = self.source_pools[pool_index]
                volume = f"{vm.name}-{'root' if d == 0 else 'data'}.qcow2"
                hv.storage.volume_create(pool, volume, capacity_bytes=size * GIB)
                pool_used += size * GIB
                target = "vda" if d == 0 else "vdb"
                if d == 0:  # the root disk by pool and volume, a data disk by its path
                    disks.append(DiskSpec(target=target, pool=pool, volume=volume))
                else:
                    disks.append(
                        DiskSpec(
                            target=target,
                            path=f"{POOL_ROOT}/{pool}/{volume}",
                            serial=f"data-{i:03d}",
                        )
                    )
            version = versions[vm.profile]
            spec = DomainSpec(
                name=vm.name,
                domain_type="qemu",
                machine=vm.machine,
                vcpus=vm.vcpus,
                memory_mib=vm.memory_mib,
                cpu_mode="host-model",
                boot=BootSpec(devices=["hd"]),
                disks=disks,
                interfaces=[
                    InterfaceSpec(
                        network="default",
                        mac=f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    )
                ],
                metadata=DomainMetadata(
                    profile=vm.profile,
                    profile_version=version.number,
                    content_hash=version.content_hash,
                ),
            )
            info = hv.domains.define(spec)
            if vm.running:
                hv.domains.start(vm.name)
            source_rows.append(
                ManagedVM(
                    platform=self.source,
                    name=vm.name,
                    domain_uuid=info.uuid,
                    state=VMState.RUNNING if vm.running else VMState.SHUTOFF,
                    managed=True,
                    profile_version=version,
                    content_hash=version.content_hash,
                    vcpus=vm.vcpus,
                    memory_mib=vm.memory_mib,
                )
            )
        # A few VMs VM Persona did not make: listed, never moved.
        for n in range(self.args.unmanaged):
            name = f"legacy-{n:02d}"
            info = hv.domains.define(
                DomainSpec(name=name, domain_type="qemu", vcpus=2, memory_mib=2048)
            )
            hv.domains.start(name)
            source_rows.append(
                ManagedVM(
                    platform=self.source,
                    name=name,
                    domain_uuid=info.uuid,
                    state=VMState.RUNNING,
                    vcpus=2,
                    memory_mib=2048,
                )
            )
        ManagedVM.objects.bulk_create(source_rows, batch_size=500)
        self.unmanaged = self.args.unmanaged

        # Platforms in maintenance, through the service (they have no VMs left).
        with transaction.atomic():
            for host in self.hosts:
                if host.maintenance:
                    maintenance_services.maintenance_start(
                        user=self.operator, platform=self.platforms[host.name], reason="bench"
                    )
        for platform in self.platforms.values():
            platform.refresh_from_db()


# --------------------------------------------------------------------------- measuring


class Measure:
    """Repeats of one call: wall times and SQL queries per repeat."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.samples: list[float] = []
        self.queries: list[int] = []
        self.result = None

    def run(self, repeat: int) -> Measure:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                self.result = self.fn()
                self.samples.append(time.perf_counter() - started)
            self.queries.append(len(captured.captured_queries))
        return self

    @property
    def stats(self) -> dict:
        return c.summary(self.samples)


class CallTimer:
    """Times every call of a method, passing it through unchanged."""

    def __init__(self, owner: type, name: str) -> None:
        self.owner, self.name = owner, name
        self.original = getattr(owner, name)
        self.calls: list[float] = []

    def __enter__(self) -> CallTimer:
        original, calls = self.original, self.calls

        def timed_call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                calls.append(time.perf_counter() - started)

        setattr(self.owner, self.name, timed_call)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.owner, self.name, self.original)


def pure_facts(estate: Estate):
    """The facts the service would gather, gathered once: ``host_facts`` of every other
    platform and the VMs' needs as the bench defined them."""
    from operations_app.placement.evacuation import VMFacts
    from operations_app.services.maintenance import host_facts

    hosts = [host_facts(p) for name, p in sorted(estate.platforms.items()) if name != "host-00"]
    vms = [
        VMFacts(
            name=vm.name,
            vcpus=vm.vcpus,
            memory_mib=vm.memory_mib,
            disk_bytes=sum(vm.disks_gib) * GIB,
            disk_allocation_bytes=sum(vm.disks_gib) * GIB,
            running=vm.running,
            profile=vm.profile,
        )
        for vm in estate.vms
    ]
    return hosts, vms


def unmovable_groups(plan: dict) -> list[tuple[int, str, str]]:
    """(count, the filters that refused them and on how many hosts, an example VM) per
    kind of refusal."""
    groups: dict[str, list[str]] = {}
    for placement in plan["unmovable"]:
        refused = Counter(v["refused_by"] for v in placement["verdicts"])
        key = ", ".join(
            f"{label} on {n}" for label, n in sorted(refused.items(), key=lambda x: (-x[1], x[0]))
        )
        groups.setdefault(key, []).append(
            f"{placement['vm']} ({placement['vcpus']} vCPUs, {placement['memory_mib'] // 1024} GiB)"
        )
    return sorted(((len(v), k, v[0]) for k, v in groups.items()), reverse=True)


def why_none(host: str, verdicts: list[dict]) -> str:
    """Why ``host`` took no VM: the filters that refused it, and how often it passed
    them but scored lower (with its mean scores then)."""
    mine = [v for v in verdicts if v["host"] == host]
    outcomes = Counter(v["refused_by"] or "scored lower" for v in mine)
    scored = [v["scores"] for v in mine if v["scores"]]
    text = ", ".join(f"{label} {n}x" for label, n in outcomes.most_common())
    if scored:
        means = {k: statistics.mean(s[k] for s in scored) for k in scored[0]}
        text += " (mean scores when passing: " + ", ".join(f"{k} {v:.0f}" for k, v in means.items())
        text += ")"
    return text


def three(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def say(text: str) -> None:
    """Print ``text`` with each line wrapped at 100 columns, continuation lines indented
    two more than the line they continue."""
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip(" ")))
        print(textwrap.fill(line, width=100, subsequent_indent=indent + "  ") if line else "")


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def main() -> int:
    parser = c.base_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--vms", type=int, default=500, help="managed VMs on the host (500)")
    parser.add_argument("--platforms", type=int, default=50, help="platforms in all (50)")
    parser.add_argument("--unmanaged", type=int, default=5, help="unmanaged VMs there (5)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--profile", action="store_true", help="also profile one full plan (cProfile, top 25)"
    )
    args = parser.parse_args()
    if args.uri:
        parser.error("--uri does not apply: this bench runs on libvirt's test driver only")
    c.install_signal_handlers()

    prefix = c.run_prefix()
    os.environ["VMPERSONA_ALLOW_TEST_DRIVER"] = "1"  # test:///default as a platform URI
    instance = c.setup_django(prefix)
    try:
        return run(args, instance)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported, then exit 1
        c.report_exception(exc)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def run(args, instance: Path) -> int:
    from django.db import transaction

    from operations_app.hypervisor import Hypervisor
    from operations_app.placement.evacuation import DryRunVerdict, plan_evacuation
    from operations_app.services import maintenance as maintenance_services

    load = os.getloadavg()
    say(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} at start, Python "
        f"{sys.version.split()[0]}, SQLite database in a throwaway instance folder"
    )
    # test:///default keeps its state only while a connection to it is open: this one
    # holds the estate for the whole run (the service opens and closes its own).
    with Hypervisor.connect(TEST_URI, timeout=30) as hv:
        estate = Estate(args)
        started = time.perf_counter()
        estate.build(hv)
        setup_s = time.perf_counter() - started
        running = sum(vm.running for vm in estate.vms)
        targets = estate.hosts[1:]
        special = Counter(h.role for h in targets if h.role)
        say(
            f"libvirt {hv.capabilities().libvirt_version} test driver; estate made in "
            f"{setup_s:.1f} s: {len(estate.vms)} managed VMs ({running} running, "
            f"{len(estate.vms) - running} shut off) and {estate.unmanaged} unmanaged on "
            f"host-00, their disks in {len(estate.source_pools)} pools of the test driver; "
            f"{len(targets)} other platforms with {estate.filler_rows} VMs already on them\n"
            "targets: "
            + ", ".join(f"{n} {role}" for role, n in sorted(special.items()))
            + f"; {sum(1 for h in targets if h.cost_vcpu_hour)} with costs, "
            f"{sum(1 for h in targets if 'cpu_overcommit' in h.constraints)} with their own "
            f"vCPU overcommit, "
            f"{sum(1 for h in targets if 'memory_overcommit' in h.constraints)} with a memory "
            f"overcommit\n"
        )

        # 1. The pure placement, every dry run saying yes.
        hosts, vms = pure_facts(estate)
        yes = DryRunVerdict(True, path="live", reason="bench: always yes")
        pure = Measure(
            lambda: plan_evacuation("host-00", vms, hosts, dry_run=lambda vm, host: yes)
        ).run(args.repeat)

        # 2. The whole service, with the real dry run (each dry run and each VM's facts
        # timed on the way through).
        Planner = maintenance_services._Planner
        with CallTimer(Planner, "dry_run") as dry, CallTimer(Planner, "vm_facts") as facts:
            full = Measure(
                lambda: maintenance_services.evacuation_plan(
                    user=estate.operator, platform=estate.source
                )
            ).run(args.repeat)

        # 3. What one tick plans (at most the parallel moves), alone ...
        limit = maintenance_services.parallel_moves()

        def tick_plan():
            managed, unmanaged = maintenance_services._vms_on(estate.source)
            return maintenance_services._plan(estate.source, managed, unmanaged, limit=limit)

        small = Measure(tick_plan).run(args.repeat)

        # ... and inside a whole tick: the platform put into maintenance at once, the tick
        # requests the first moves; everything rolled back.
        def whole_tick():
            outcome = {}
            try:
                with transaction.atomic():
                    maintenance_services.maintenance_start(
                        user=estate.operator, platform=estate.source, reason="bench"
                    )
                    outcome = maintenance_services.maintenance_tick()
                    raise Rolled
            except Rolled:
                pass
            return outcome

        tick = Measure(whole_tick).run(args.repeat)

        measures = [
            (
                "pure",
                f"pure placement ({len(vms)} VMs x {len(hosts)} hosts, dry run always yes)",
                pure,
            ),
            ("full", "evacuation_plan with the real dry run", full),
            ("tick_plan", f"a tick's plan (limit {limit})", small),
            ("tick", "a whole maintenance tick (rolled back)", tick),
        ]
        rows = [
            [
                what,
                c.fmt(m.stats["median"], "s3"),
                c.fmt(m.stats["min"], "s3"),
                c.fmt(m.stats["max"], "s3"),
                str(int(statistics.median(m.queries))),
            ]
            for _, what, m in measures
        ]
        print(c.table(["measure", "median s", "min s", "max s", "SQL queries"], rows))

        plan = full.result
        moves, unmovable = plan["moves"], plan["unmovable"]
        paths = Counter(m["path"] for m in moves)
        asked = len(moves) + len(unmovable)
        per_plan = len(dry.calls) // args.repeat
        dry_s = sum(dry.calls) / args.repeat
        facts_s = sum(facts.calls) / args.repeat
        full_s = sum(full.samples) / args.repeat
        say(
            f"\nthe full plan (mean of {args.repeat}, {full_s:.2f} s): {per_plan} dry runs "
            f"took {dry_s:.2f} s (median {statistics.median(dry.calls) * 1000:.1f} ms each), "
            f"the VMs' facts read from libvirt {facts_s:.2f} s, the rest (rows, host facts, "
            f"filters and scores) {full_s - dry_s - facts_s:.2f} s"
        )
        say(
            f"\n{len(moves)} VMs placed ("
            + ", ".join(f"{n} {p}" for p, n in sorted(paths.items()))
            + f") on {len({m['target'] for m in moves})} platforms, {len(unmovable)} "
            f"unmovable, {len(plan['unmanaged'])} unmanaged left alone; {plan['dry_runs']} "
            f"dry runs ({plan['dry_runs'] / max(asked, 1):.2f} per VM, "
            f"{plan['dry_runs'] - len(moves)} refused)"
        )
        verdicts = [v for m in moves + unmovable for v in m["verdicts"]]
        refusals = Counter(v["host"] for v in verdicts if v["dry_run"] == "refused")
        accepted = Counter(v["host"] for v in verdicts if v["dry_run"] == "ok")
        for host, n in sorted(refusals.items()):
            reason = next(
                v["reason"] for v in verdicts if v["host"] == host and v["dry_run"] == "refused"
            )
            say(f"  dry run refused {n} times by {host}, e.g. {reason}")
        for count, why, example in unmovable_groups(plan):
            say(
                f"  unmovable: {count} VM{'s' if count != 1 else ''} (e.g. {example}), "
                f"refused by {why}"
            )
        pure_plan = pure.result
        say(
            f"pure placement: {len(pure_plan.moves)} placed, {len(pure_plan.unmovable)} "
            f"unmovable, {pure_plan.dry_runs} dry runs (each answered at once)"
        )
        tick_result = small.result
        say(
            f"a tick's plan: {len(tick_result.moves)} placed ("
            + ", ".join(f"{m.vm} -> {m.target} {m.path}" for m in tick_result.moves)
            + f") after {tick_result.dry_runs} dry runs; the whole tick: {tick.result}"
        )

        # How evenly the platforms that can take VMs at all are committed once the plan
        # is done: memory, vCPUs (as their overcommit counts them) and the busier of the two.
        refusing = {h for h in refusals if not accepted.get(h)}
        open_hosts = sorted(
            h.name
            for h in targets
            if h.enabled and not h.unreachable and not h.maintenance and h.name not in refusing
        )
        took = Counter(m["target"] for m in moves)
        takers = [h for h in open_hosts if took.get(h)]
        left_out = [h for h in open_hosts if not took.get(h)]
        roles = {h.name: h.role for h in targets}

        def share(when: str, hosts: list[str], what: str) -> list[float]:
            usage = plan[f"hosts_{when}"]
            if what == "busier":
                return [max(usage[h]["memory"], usage[h]["vcpus"]) for h in hosts]
            return [usage[h][what] for h in hosts]

        spread_rows = []
        for what, label in (("memory", "memory"), ("vcpus", "vCPUs"), ("busier", "busier")):
            for when in ("before", "after"):
                values = share(when, open_hosts, what)
                taken = share(when, takers, what)
                spread_rows.append(
                    [
                        f"{label}, {when}",
                        " / ".join(pct(x) for x in three(values)),
                        pct(statistics.pstdev(values)),
                        " / ".join(pct(x) for x in three(taken)),
                    ]
                )
        say(
            f"\ncommitted share of the {len(open_hosts)} platforms that can take VMs "
            f"(enabled, reachable, not in maintenance, not refused by the adaptation for "
            f"every VM); min / median / max:\n"
        )
        print(
            c.table(
                ["", f"all {len(open_hosts)}", "stdev", f"the {len(takers)} that took VMs"],
                spread_rows,
            )
        )
        say(
            f"\nthey took {' / '.join(str(int(x)) for x in three([took[h] for h in takers]))}"
            f" VMs each; the {len(left_out)} that took none:"
        )
        for h in left_out:
            say(
                f"  {h}{f' ({roles[h]})' if roles.get(h) else ''} at "
                f"{pct(plan['hosts_before'][h]['memory'])} memory, "
                f"{pct(plan['hosts_before'][h]['vcpus'])} vCPUs: {why_none(h, verdicts)}"
            )
        before = share("before", open_hosts, "memory")
        after = share("after", open_hosts, "memory")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            maintenance_services.evacuation_plan(user=estate.operator, platform=estate.source)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print("\none full plan under cProfile (whose own overhead inflates every time below):")
            print(out.getvalue())

        load = os.getloadavg()
        print(f"\nload average {load[0]:.2f} at the end")
        c.write_json(
            args.json,
            {
                "args": vars(args),
                "figures": {
                    key: {
                        **m.stats,
                        "what": what,
                        "samples": m.samples,
                        "queries": m.queries,
                    }
                    for key, what, m in measures
                },
                "plan": {
                    "moves": len(moves),
                    "unmovable": len(unmovable),
                    "dry_runs": plan["dry_runs"],
                    "paths": dict(paths),
                    "dry_run_s": dry_s,
                    "vm_facts_s": facts_s,
                },
                "memory": {"before": before, "after": after, "hosts": open_hosts},
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
