"""How long a scheduling policy's evaluation takes for 1,000 platforms and 10,000 VMs,
and a single host's evacuation plan in such a fleet.

A synthetic fleet in a throwaway database: platforms (rows made in bulk, capabilities
recorded as a probe of a QEMU host would record them, every URI libvirt's in-process
test driver ``test:///default``), ten managed VMs per platform and one recent
utilisation sample per VM. A few percent of the platforms run hot (their VMs' CPU use
puts them above the trigger) and a few percent are expensive (so moving their VMs to a
cheaper platform pays back); the others are ordinary. It times:

- ``services.policies.policy_evaluate`` of a utilisation policy and of a cost policy,
  split into the snapshot read (``fleet_snapshot``), the evaluation
  (``policies.evaluate``, the placement's filters and scores), the adaptation dry runs
  (``services.dryrun.MoveDryRuns.dry_run``, the product's real dry run against the test
  driver: the VMs on the hot and expensive platforms, the only ones a plan can move, are
  defined there as domains) and the rest (the plan's rows written, approvers told);
  with the SQL queries at the small and at the large size (they must not grow);
- ``services.maintenance.evacuation_plan`` of one platform with 20 VMs (defined in the
  test driver) among all the others.

Prints the figures; asserts nothing. ``--profile`` adds cProfile's top entries of one
evaluation of each trigger and of one evacuation plan.
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
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the project on the path too)

TEST_URI = "test:///default"
GIB = 1024**3
EXAMPLES = c.ROOT / "examples"
POOL = "bench-pool"
POOL_ROOT = "/test-driver/pools"
VMS_PER_HOST = 10
EVACUATED_VMS = 20
HOT_SHARE, DEAR_SHARE, CHEAP_SHARE = 0.03, 0.03, 0.10

UTILISATION = {
    "schema_version": "1.0",
    "name": "bench-balance-cpu",
    "trigger": "utilisation",
    "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 65},
    "aggressiveness": 5,
    "automation": "approve",
    "caps": {"moves_per_run": 20, "moves_per_platform": 2},
}
COST = {
    "schema_version": "1.0",
    "name": "bench-cost",
    "trigger": "cost",
    "cost": {"horizon_days": 90, "min_saving_per_month": 40, "move_cost_per_gib": 0.05},
    "aggressiveness": 5,
    "automation": "approve",
    "caps": {"moves_per_run": 20, "moves_per_platform": 2},
}


class Rolled(Exception):
    """Raised to roll a measured transaction back."""


class CallTimer:
    """Times every call of ``owner.name``, passing it through unchanged."""

    def __init__(self, owner, name: str) -> None:
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

    def take(self) -> tuple[int, float]:
        n, s = len(self.calls), sum(self.calls)
        self.calls.clear()
        return n, s


def capabilities(name: str, cpus: int, memory_gib: int) -> dict:
    """What a probe of a QEMU host of that size would record (the documents the
    hypervisor tests assemble theirs from)."""
    from bench_evacuation import HostPlan
    from bench_evacuation import capabilities as probe

    caps = probe(HostPlan(name, cpus=cpus, memory_gib=memory_gib, pool_tib=8, load=0.3), POOL)
    caps["pools"][0]["path"] = f"{POOL_ROOT}/{POOL}"
    return caps


class Fleet:
    """Rows in the bench's own database; domains in the test driver for the VMs a plan
    may move (on the hot and expensive platforms, and on the platform evacuated)."""

    def __init__(self, platforms: int, seed: int, prefix: str) -> None:
        self.size = platforms
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.hot: list[str] = []
        self.dear: list[str] = []
        self.defined = 0

    def build(self, hv, users: dict, versions: list) -> None:
        from django.utils import timezone

        from operations_app.models import ManagedVM, Platform, PlatformStatus, VMMetricSample

        rng, now = self.rng, timezone.now()
        names = [f"{self.prefix}-p{i:04d}" for i in range(self.size)]
        # the first platform is the one evacuated: ordinary, not hot, not dear
        others = names[1:]
        self.hot = sorted(rng.sample(others, max(1, int(self.size * HOT_SHARE))))
        rest = [n for n in others if n not in set(self.hot)]
        self.dear = sorted(rng.sample(rest, max(1, int(self.size * DEAR_SHARE))))
        rest = [n for n in rest if n not in set(self.dear)]
        cheap = set(rng.sample(rest, max(1, int(self.size * CHEAP_SHARE))))
        caps = capabilities("bench-host", cpus=32, memory_gib=256)
        rows = []
        for name in names:
            vcpu_rate = 0.02
            if name in self.dear:
                vcpu_rate = 0.06
            elif name in cheap:
                vcpu_rate = 0.015
            rows.append(
                Platform(
                    name=name,
                    uri=TEST_URI,
                    storage_pool=POOL,
                    networks=["default"],
                    capabilities=caps,
                    capabilities_refreshed_at=now,
                    status=PlatformStatus.OK,
                    cost_vcpu_hour=vcpu_rate,
                    cost_ram_gib_hour=round(vcpu_rate / 4, 4),
                    cost_storage_gib_month=0.05,
                    labels={"rack": f"r{int(name[-4:]) % 20:02d}"},
                )
            )
        Platform.objects.bulk_create(rows, batch_size=500)
        self.platforms = {p.name: p for p in Platform.objects.filter(name__in=names)}

        special = set(self.hot) | set(self.dear) | {names[0]}
        vms, samples = [], []
        for name in names:
            count = EVACUATED_VMS if name == names[0] else VMS_PER_HOST
            hot = name in self.hot
            for n in range(count):
                version = versions[n % len(versions)]
                vcpus, memory = rng.choice([(1, 2048), (2, 4096), (4, 8192), (4, 16384)])
                if hot:  # busy VMs: enough vCPUs to use their share of the host
                    vcpus = 4
                vms.append(
                    ManagedVM(
                        platform=self.platforms[name],
                        name=f"{name}-vm{n:02d}",
                        domain_uuid=uuid.uuid4(),
                        state="running",
                        managed=True,
                        profile_version=version,
                        content_hash=version.content_hash,
                        vcpus=vcpus,
                        memory_mib=memory,
                        labels={"app": f"app{n % 5}"},
                    )
                )
        ManagedVM.objects.bulk_create(vms, batch_size=500)
        ids = dict(ManagedVM.objects.filter(platform__name__in=names).values_list("name", "pk"))
        for vm in vms:
            host = vm.name.rsplit("-vm", 1)[0]
            # ordinary hosts at 20-50 % of their 32 CPUs, hot ones at 85-95 %
            share = rng.uniform(0.85, 0.95) if host in self.hot else rng.uniform(0.2, 0.5)
            cores = share * 32 / VMS_PER_HOST
            samples.append(
                VMMetricSample(
                    vm_id=ids[vm.name],
                    at=now - timedelta(minutes=2),
                    cpu_percent=min(100.0, 100.0 * cores / vm.vcpus),
                    memory_used_mib=vm.memory_mib * 0.6,
                )
            )
        VMMetricSample.objects.bulk_create(samples, batch_size=1000)
        self.vm_count = len(vms)
        self.source = self.platforms[names[0]]

        # The domains a plan may move, in the test driver (the dry run reads them).
        from operations_app.hypervisor import DomainSpec, InterfaceSpec

        for i, vm in enumerate(v for v in vms if v.name.rsplit("-vm", 1)[0] in special):
            hv.domains.define(
                DomainSpec(
                    name=vm.name,
                    domain_type="qemu",
                    machine="pc-q35-7.2",
                    vcpus=vm.vcpus,
                    memory_mib=vm.memory_mib,
                    cpu_mode="host-model",
                    interfaces=[
                        InterfaceSpec(
                            network="default",
                            mac=f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                        )
                    ],
                )
            )
            hv.domains.start(vm.name)
            self.defined += 1


def say(text: str) -> None:
    from bench_evacuation import say as wrapped

    wrapped(text)


def measure_evaluation(policy, operator, repeat: int, timers) -> dict:
    """``policy_evaluate`` ``repeat`` times: wall time, its parts and queries."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from operations_app.services import policies as policy_services

    snap_t, eval_t, dry_t = timers
    out: dict = {"total": [], "snapshot": [], "evaluate": [], "dry": [], "write": []}
    out.update(queries=[], snapshot_queries=[], dry_runs=[], plan=None)
    for _ in range(repeat):
        for t in timers:
            t.take()
        try:
            with transaction.atomic(), CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                plan = policy_services.policy_evaluate(user=operator, policy=policy)
                total = time.perf_counter() - started
                out["plan"] = {
                    "status": plan.status,
                    "actions": [
                        (a.vm_name, a.source.name, a.target.name, a.path)
                        for a in plan.actions.select_related("source", "target")
                    ],
                    "findings": len(plan.findings or []),
                    "efficacy": plan.efficacy,
                }
                raise Rolled
        except Rolled:
            pass
        _, snap = snap_t.take()
        _, ev = eval_t.take()
        runs, dry = dry_t.take()
        out["total"].append(total)
        out["snapshot"].append(snap)
        out["evaluate"].append(ev - dry)
        out["dry"].append(dry)
        out["write"].append(total - snap - ev)
        out["dry_runs"].append(runs)
        out["queries"].append(len(captured.captured_queries))
        snapshot_queries = [
            q for q in captured.captured_queries if "vmmetricsample" in q["sql"].lower()
        ]
        out["snapshot_queries"].append(len(snapshot_queries))
    return out


def profile_call(fn, top: int = 20) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    except Rolled:
        pass
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = c.base_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument(
        "--sizes", default="100,1000", help="platforms per fleet, ten VMs each (100,1000)"
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--profile", action="store_true", help="also profile the largest fleet (cProfile)"
    )
    args = parser.parse_args()
    if args.uri:
        parser.error("--uri does not apply: this bench runs on libvirt's test driver only")
    c.install_signal_handlers()
    prefix = c.run_prefix()
    os.environ["VMPERSONA_ALLOW_TEST_DRIVER"] = "1"
    instance = c.setup_django(prefix)
    try:
        return run(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported, then exit 1
        c.report_exception(exc)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def run(args) -> int:
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from operations_app.hypervisor import Hypervisor
    from operations_app.policies import evaluate as evaluate_module
    from operations_app.services import maintenance as maintenance_services
    from operations_app.services import policies as policy_services
    from operations_app.services.dryrun import MoveDryRuns
    from profiles_app.models import PolicyKind
    from profiles_app.services import versions as version_services
    from vmpersona.roles import ALL_ROLES

    load = os.getloadavg()
    say(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} at start, Python "
        f"{sys.version.split()[0]}, SQLite database in a throwaway instance folder"
    )
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)

    def user(name: str, group: str):
        person = User.objects.create_user(username=name, password=None)
        person.groups.set(Group.objects.filter(name=group))
        return person

    users = {
        "author": user("author", "authors"),
        "approver": user("approver", "approvers"),
        "operator": user("operator", "operators"),
    }
    versions = []
    for name in ("web-server", "database", "dev-workstation"):
        document = json.loads((EXAMPLES / f"{name}.json").read_text())
        version = version_services.policy_create(user=users["author"], document=document)
        version = version_services.version_submit(user=users["author"], version=version)
        versions.append(version_services.version_approve(user=users["approver"], version=version))
    policies = {}
    for document in (UTILISATION, COST):
        version = version_services.policy_create(
            user=users["author"], document=document, kind=PolicyKind.SCHEDULING
        )
        version = version_services.version_submit(user=users["author"], version=version)
        version = version_services.version_approve(user=users["approver"], version=version)
        policies[document["trigger"]] = version.policy

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = {}
    with Hypervisor.connect(TEST_URI, timeout=30) as hv:
        hv.storage.pool_ensure_dir(POOL, f"{POOL_ROOT}/{POOL}")
        for i, size in enumerate(sizes):
            # each size is a fleet of its own: the previous one's rows are removed
            from operations_app.models import ManagedVM, Platform

            ManagedVM.objects.all().delete()
            Platform.objects.all().delete()
            fleet = Fleet(size, args.seed + i, f"f{i}")
            started = time.perf_counter()
            fleet.build(hv, users, versions)
            say(
                f"\nfleet of {size} platforms and {fleet.vm_count} VMs made in "
                f"{time.perf_counter() - started:.1f} s: {len(fleet.hot)} hot, "
                f"{len(fleet.dear)} expensive; {fleet.defined} VMs defined in the test driver"
            )
            timers = (
                CallTimer(policy_services, "fleet_snapshot"),
                CallTimer(policy_services, "evaluate"),
                CallTimer(MoveDryRuns, "dry_run"),
            )
            for t in timers:
                t.__enter__()
            try:
                figures = {
                    trigger: measure_evaluation(policy, users["operator"], args.repeat, timers)
                    for trigger, policy in policies.items()
                }
            finally:
                for t in reversed(timers):
                    t.__exit__()
            evac_samples, evac_queries = [], []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    plan = maintenance_services.evacuation_plan(
                        user=users["operator"], platform=fleet.source
                    )
                    evac_samples.append(time.perf_counter() - started)
                evac_queries.append(len(captured.captured_queries))
            figures["evacuation"] = {
                "total": evac_samples,
                "queries": evac_queries,
                "moves": len(plan["moves"]),
                "unmovable": len(plan["unmovable"]),
                "dry_runs": plan["dry_runs"],
            }
            results[size] = figures
            print_size(size, fleet, figures)
            if args.profile and size == max(sizes):
                for trigger, policy in policies.items():

                    def once(policy=policy):
                        with transaction.atomic():
                            policy_services.policy_evaluate(user=users["operator"], policy=policy)
                            raise Rolled

                    print(f"\none {trigger} evaluation under cProfile:")
                    print(profile_call(once))
                print("\none evacuation plan under cProfile:")
                print(
                    profile_call(
                        lambda fleet=fleet: maintenance_services.evacuation_plan(
                            user=users["operator"], platform=fleet.source
                        )
                    )
                )
            for info in hv.domains.list():
                if info.name.startswith(fleet.prefix + "-"):
                    hv.domains.destroy(info.name)
                    hv.domains.undefine(info.name)
    del evaluate_module

    if len(sizes) > 1:
        small, large = results[min(sizes)], results[max(sizes)]
        rows = [
            [
                what,
                str(int(statistics.median(small[key]["queries"]))),
                str(int(statistics.median(large[key]["queries"]))),
            ]
            for key, what in (
                ("utilisation", "utilisation evaluation"),
                ("cost", "cost evaluation"),
                ("evacuation", "evacuation plan"),
            )
        ]
        print()
        print(c.table(["SQL queries", f"{min(sizes)} platforms", f"{max(sizes)} platforms"], rows))
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} at the end")
    c.write_json(args.json, {"args": vars(args), "figures": results})
    return 0


def print_size(size: int, fleet: Fleet, figures: dict) -> None:
    med = statistics.median
    rows = []
    for trigger in ("utilisation", "cost"):
        f = figures[trigger]
        rows.append(
            [
                f"{trigger} policy_evaluate",
                c.fmt(med(f["total"]), "s3"),
                c.fmt(med(f["snapshot"]), "s3"),
                c.fmt(med(f["evaluate"]), "s3"),
                f"{c.fmt(med(f['dry']), 's3')} ({int(med(f['dry_runs']))})",
                c.fmt(med(f["write"]), "s3"),
                str(int(med(f["queries"]))),
            ]
        )
    both = [
        u + k
        for u, k in zip(figures["utilisation"]["total"], figures["cost"]["total"], strict=True)
    ]
    rows.append(["both policies", c.fmt(med(both), "s3"), "", "", "", "", ""])
    e = figures["evacuation"]
    rows.append(
        [
            f"evacuation_plan ({EVACUATED_VMS} VMs)",
            c.fmt(med(e["total"]), "s3"),
            "",
            "",
            f"({e['dry_runs']})",
            "",
            str(int(med(e["queries"]))),
        ]
    )
    print()
    print(
        c.table(
            [
                f"{size} platforms / {fleet.vm_count} VMs (median)",
                "total s",
                "snapshot s",
                "evaluate s",
                "dry runs s (n)",
                "write s",
                "SQL",
            ],
            rows,
        )
    )
    for trigger in ("utilisation", "cost"):
        plan = figures[trigger]["plan"]
        targets = {a[2] for a in plan["actions"]}
        say(
            f"{trigger}: {plan['status']}, {len(plan['actions'])} moves to {len(targets)} "
            f"platforms, {plan['findings']} findings"
        )
    say(
        f"evacuation: {e['moves']} VMs placed, {e['unmovable']} unmovable, {e['dry_runs']} dry runs"
    )


if __name__ == "__main__":
    sys.exit(main())
