"""Migration: a live move through the product versus plain ``virsh migrate`` of the same
guest, in one run, with total time and downtime from libvirt's job statistics.

    .venv/bin/python bench/bench_migrate.py [--repeat N] [--memory MIB] [--json OUT]

One tiny guest is cloned on host A through the product (the web-server profile without
its data volume, so the by-hand path is plain virsh). Then, N times:

1. product: a migrate job A -> B (``job_request_migrate`` + ``run_job``): snapshot
   record, profile check, adaptation plan, provisioning on B, live peer-to-peer
   migration copying the disks, adaptation commands, the full verification against the
   profile, cutover (the source removed, the inventory moved);
2. by hand: ``virsh vol-create-as`` of the overlay on A, ``virsh dumpxml --migratable``
   with the disk path rewritten, ``virsh migrate --live --p2p --copy-storage-all
   --persistent --undefine-source`` B -> A, ``virsh vol-delete`` of the overlay on B.
   The by-hand path verifies nothing. The product's inventory is then pointed back at
   host A so the next product move starts from there.

Downtime and bytes are libvirt's completed-job statistics in both cases (the product
records them on the job; by hand ``virsh domjobinfo --completed`` on the destination).
Host B only runs on the testbed (``scripts/testbed.sh``).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
import bench_clone as bc  # noqa: E402


def document(name: str, address: str, memory_mib: int) -> dict:
    doc = bc.clone_document(name, address, memory_mib=memory_mib)
    doc["data_volume_definitions"] = []
    return doc


def domjobinfo(uri: str, name: str) -> dict[str, str]:
    out = c.virsh(uri, "domjobinfo", name, "--completed").stdout
    info = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if value:
            info[key.strip()] = value.strip()
    return info


def number(text: str | None) -> float | None:
    match = re.match(r"([0-9.]+)", text or "")
    return float(match.group(1)) if match else None


def bytes_of(text: str | None) -> float | None:
    match = re.match(r"([0-9.]+)\s*(\w+)", text or "")
    if not match:
        return None
    scale = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}.get(match.group(2), 1)
    return float(match.group(1)) * scale


def cell(s: dict, unit: str = "s") -> str:
    """Median, then the range, e.g. ``12.31 (11.90-13.02)``."""
    return f"{c.fmt(s['median'], unit)} ({c.fmt_range(s, unit)})" if s["n"] else "-"


def product_move(ctx, vm, target) -> dict:
    from operations_app.models import JobStatus, OperationJob
    from operations_app.services import migrations as migration_services
    from operations_app.tasks import run_job

    job = migration_services.job_request_migrate(
        user=ctx.users["operator"], vm=vm, target=target, params={"migrate_uri": "tcp://127.0.0.1"}
    )
    with c.Timer() as t:
        status = run_job(job.pk)
    job = OperationJob.objects.get(pk=job.pk)
    if status != JobStatus.SUCCEEDED:
        raise c.BenchError("product migration failed: " + bc.job_failure(job))
    mig = job.result["migration"]
    return {
        "total": t.s,
        "migration_call": (mig.get("libvirt_job_ms") or mig.get("elapsed_ms") or 0) / 1000,
        "migration_wall": (mig.get("elapsed_ms") or 0) / 1000,
        "downtime_ms": mig.get("downtime_ms"),
        "bytes": mig.get("data_processed_bytes"),
        "steps": {s.name: s.duration_s or 0.0 for s in job.steps.order_by("index")},
        "checks": job.checks.filter(passed=True).count(),
        "agent_wait": next(
            (
                float(m.group(1))
                for e in job.events.filter(kind="log").order_by("seq")
                if (
                    m := re.search(
                        r"guest agent answered after ([0-9.]+) s", e.payload.get("message", "")
                    )
                )
            ),
            None,
        ),
    }


def hand_move(
    name: str,
    src_uri: str,
    dst_uri: str,
    dst_p2p: str,
    src_dir: str,
    dst_dir: str,
    pool: str,
    workdir: Path,
) -> dict:
    """Move ``name`` live from src to dst with virsh, as an administrator would."""
    with c.Timer() as t:
        xml = c.virsh(src_uri, "dumpxml", name, "--migratable").stdout
        root = ET.fromstring(xml)
        made = []
        for disk in root.findall("devices/disk"):
            source = disk.find("source")
            if source is None or disk.get("device") != "disk":
                continue
            if disk.get("type") == "volume":
                vol = source.get("volume")
                lookup = ["vol-dumpxml", vol, "--pool", source.get("pool") or pool]
            else:
                path = source.get("file") or ""
                if not path.startswith(src_dir + "/"):
                    continue
                vol = path.rsplit("/", 1)[1]
                lookup = ["vol-dumpxml", path]
                source.set("file", f"{dst_dir}/{vol}")
            info = ET.fromstring(c.virsh(src_uri, *lookup).stdout)
            capacity = info.findtext("capacity")
            backing = info.findtext("backingStore/path")
            spec = ET.Element("volume")
            c.sub(spec, "name", vol)
            c.sub(spec, "capacity", capacity, unit="bytes")
            c.sub(c.sub(spec, "target"), "format", type="qcow2")
            if backing:
                store = c.sub(spec, "backingStore")
                c.sub(store, "path", backing)
                c.sub(store, "format", type="qcow2")
            c.virsh(dst_uri, "vol-create", pool, str(c.xml_file(workdir, f"{vol}.xml", spec)))
            made.append(vol)
        filters = {f.get("filter") for f in root.findall("devices/interface/filterref")}
        for flt in sorted(x for x in filters if x):
            existing = c.virsh(dst_uri, "nwfilter-list").stdout
            if flt not in existing.split():
                fxml = workdir / f"{flt}.xml"
                fxml.write_text(c.virsh(src_uri, "nwfilter-dumpxml", flt).stdout)
                c.virsh(dst_uri, "nwfilter-define", str(fxml))
        dest = workdir / f"{name}-dest.xml"
        dest.write_text(ET.tostring(root, encoding="unicode"))
        call = c.Timer()
        with call:
            c.virsh(
                src_uri,
                "migrate",
                "--live",
                "--p2p",
                "--copy-storage-all",
                "--persistent",
                "--undefinesource",
                "--xml",
                str(dest),
                "--persistent-xml",
                str(dest),
                name,
                dst_p2p,
                "tcp://127.0.0.1",
            )
        for vol in made:
            c.virsh(src_uri, "vol-delete", vol, "--pool", pool)
        for flt in sorted(x for x in filters if x):
            c.virsh(src_uri, "nwfilter-undefine", flt)
    info = domjobinfo(dst_uri, name)
    return {
        "total": t.s,
        "migration_call": (number(info.get("Time elapsed")) or 0) / 1000,
        "migration_wall": call.s,
        "downtime_ms": number(info.get("Total downtime")),
        "bytes": bytes_of(info.get("Data processed")),
    }


def main() -> int:
    parser = c.base_parser(__doc__.split("\n\n")[0], repeat=3)
    parser.add_argument("--memory", type=int, default=192, help="guest memory in MiB (192)")
    args = parser.parse_args()
    c.install_signal_handlers()
    env = c.testbed_env()
    uri_a, pool, _network = c.host_a()
    uri_b = env.get("VMPERSONA_HOST_B_URI")
    if not uri_b:
        print("bench_migrate: host B is not running (scripts/testbed.sh up); skipped")
        return 0
    prefix = c.run_prefix()
    facts = c.machine_facts(uri_a)
    print("bench_migrate: a live migration through the product vs plain virsh migrate\n")
    c.print_facts(facts)
    print(f"run prefix      {prefix}\n")
    output: dict = {"benchmark": "bench_migrate", "facts": facts, "prefix": prefix}
    status = 0
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-xml-"))
    runs: dict[str, list[dict]] = {"product": [], "virsh": []}
    with c.Cleanup(uri_a, prefix, pools=[pool]) as cleanup, c.Cleanup(uri_b, prefix, pools=[pool]):
        cleanup.add(f"folder {workdir}", lambda: shutil.rmtree(workdir, ignore_errors=True))
        try:
            instance = c.setup_django(prefix)
            cleanup.add(f"folder {instance}", lambda: shutil.rmtree(instance, ignore_errors=True))
            from operations_app.models import ManagedVM
            from operations_app.services import platforms as platform_services
            from profiles_app.services import versions as version_services

            ctx = bc.Context(uri_a, pool, prefix, args.memory)
            host_a = platform_services.platform_update(
                platform=ctx.platform, constraints={"machine_types": ["q35"]}
            )
            ctx.platform = host_a
            from operations_app.models import Platform

            host_b = Platform.objects.get(name="host-b")
            dir_a = ET.fromstring(c.virsh(uri_a, "pool-dumpxml", pool).stdout).findtext(
                "target/path"
            )
            dir_b = ET.fromstring(c.virsh(uri_b, "pool-dumpxml", pool).stdout).findtext(
                "target/path"
            )
            name = f"{prefix}-mig"
            doc = document(name, ctx.address(), args.memory)
            version = version_services.policy_create(user=ctx.users["author"], document=doc)
            version_services.version_submit(user=ctx.users["author"], version=version)
            version = version_services.version_approve(
                user=ctx.users["approver"], version=version, comment="benchmark"
            )
            print(f"cloning {name} on host-a through the product ...")
            clone = bc.product_clone(ctx, version, name)
            if clone.get("error"):
                raise c.BenchError(clone["error"])
            cleanup.add(f"VM {name}", lambda: bc.product_decommission(ctx, name))
            for i in range(args.repeat):
                vm = ManagedVM.objects.get(name=name)
                runs["product"].append(product_move(ctx, vm, host_b))
                runs["virsh"].append(
                    hand_move(
                        name,
                        uri_b,
                        uri_a,
                        host_a.migration_uri or uri_a,
                        dir_b,
                        dir_a,
                        pool,
                        workdir,
                    )
                )
                ManagedVM.objects.filter(pk=vm.pk).update(platform=host_a)
                print(
                    f"  round {i + 1}: product {runs['product'][-1]['total']:.1f} s "
                    f"(downtime {runs['product'][-1]['downtime_ms']} ms), virsh "
                    f"{runs['virsh'][-1]['total']:.1f} s "
                    f"(downtime {runs['virsh'][-1]['downtime_ms']} ms)"
                )
            rows = []
            for key, label in (
                ("total", "total wall time, s"),
                ("migration_wall", "the migration call (wall), s"),
                ("migration_call", "libvirt's migration job, s"),
            ):
                p = c.summary(r[key] for r in runs["product"])
                v = c.summary(r[key] for r in runs["virsh"])
                rows.append([label, cell(p), cell(v), c.ratio(p["median"], v["median"])])
            p = c.summary((r["downtime_ms"] or 0) / 1000 for r in runs["product"])
            v = c.summary((r["downtime_ms"] or 0) / 1000 for r in runs["virsh"])
            rows.append(["downtime, s", cell(p), cell(v), c.ratio(p["median"], v["median"])])
            p = c.summary((r["bytes"] or 0) / c.MIB for r in runs["product"])
            v = c.summary((r["bytes"] or 0) / c.MIB for r in runs["virsh"])
            rows.append(
                [
                    "data moved, MiB",
                    cell(p, "MiB"),
                    cell(v, "MiB"),
                    c.ratio(p["median"], v["median"]),
                ]
            )
            print()
            print(c.table(["", "product (A->B)", "virsh migrate (B->A)", "product/virsh"], rows))
            last = runs["product"][-1]
            print(
                f"\nproduct, last round: the guest agent answered on the target "
                f"{last['agent_wait']} s after the move"
            )
            steps = runs["product"][-1]["steps"]
            print(
                "\nproduct steps (last round): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
                + f"; {runs['product'][-1]['checks']} verification checks passed"
            )
            print("virsh verifies nothing; the product also checks the guest against its profile.")
            output["runs"] = runs
        except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
            c.report_exception(exc)
            status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        finally:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001
                pass
    c.write_json(args.json, output)
    return status


if __name__ == "__main__":
    sys.exit(main())
