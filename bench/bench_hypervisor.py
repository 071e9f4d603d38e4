"""The platform layer: boot the tiny guest through the product versus plain virsh, and
linked-clone creation against base images of very different sizes.

    .venv/bin/python bench/bench_hypervisor.py [--repeat N] [--clone-repeat M] [--json OUT]

1. Provision and boot the tiny guest to a responding guest agent, N times through the
   product's hypervisor layer (linked-clone overlay, define a DomainSpec, start,
   wait_for_agent) and N times with virsh (vol-create from an XML file, define an
   equivalent domain XML, start, poll ``qemu-agent-command guest-ping``), alternating the
   two so drift in the machine's load spreads over both.
2. Create M linked clones of a 64 MiB and of a 4 GiB base (sparse qcow2 files made with
   qemu-img) through ``hv.storage.volume_create_linked_clone`` in a throwaway dir pool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

from operations_app import hypervisor as hv  # noqa: E402

BOOT_STEPS = ("volume", "define", "start", "agent")
AGENT_TIMEOUT = 180.0
POLL_INTERVAL = 1.0  # hv.agent.wait_for_agent's default; the virsh loop sleeps as long


# --------------------------------------------------------------------------- 1 boot


class Boot:
    """What both methods share: names, the image, the pool, the network."""

    def __init__(
        self,
        uri: str,
        pool: str,
        network: str,
        image: dict,
        memory_mib: int,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.uri = uri
        self.poll_interval = poll_interval
        self.pool = pool
        self.network = network
        self.image = image
        self.memory_mib = memory_mib
        pool_path = c.virsh(uri, "pool-dumpxml", pool).stdout
        self.pool_path = ET.fromstring(pool_path).findtext("target/path") or ""
        if not self.pool_path:
            raise c.BenchError(f"pool {pool} has no target path")

    def cmdline(self, name: str) -> str:
        return f"{self.image['cmdline']} hostname={name}"

    def volume(self, name: str) -> str:
        return f"{name}-root.qcow2"


def product_boot(boot: Boot, name: str, cleanup: c.Cleanup) -> dict[str, float]:
    """Overlay, DomainSpec, start, wait_for_agent, all through ``hv``."""
    times: dict[str, float] = {}
    with c.Timer() as t:
        conn = hv.Hypervisor.connect(boot.uri, timeout=60)
    times["connect"] = t.s
    try:
        cleanup.add(
            f"volume {boot.volume(name)}",
            lambda: c.virsh(
                boot.uri, "vol-delete", "--pool", boot.pool, boot.volume(name), check=False
            ),
        )
        with c.Timer() as t:
            conn.storage.volume_create_linked_clone(
                boot.pool,
                boot.volume(name),
                base_path=boot.image["root_disk"],
                base_format=boot.image["root_disk_format"],
                capacity_bytes=int(boot.image["virtual_size"]),
            )
        times["volume"] = t.s
        spec = hv.DomainSpec(
            name=name,
            domain_type=boot.image["domain_type"],
            machine=boot.image["machine"],
            vcpus=1,
            memory_mib=boot.memory_mib,
            boot=hv.BootSpec(
                kernel=boot.image["kernel"],
                initrd=boot.image["initrd"],
                cmdline=boot.cmdline(name),
            ),
            disks=[hv.DiskSpec(target="vda", pool=boot.pool, volume=boot.volume(name))],
            interfaces=[hv.InterfaceSpec(network=boot.network, model="virtio")],
            serial_log=str(c.console_log(name)),
        )
        cleanup.add(f"domain {name}", lambda: remove_domain(boot.uri, name))
        with c.Timer() as t:
            conn.domains.define(spec)
        times["define"] = t.s
        with c.Timer() as t:
            conn.domains.start(name)
        times["start"] = t.s
        with c.Timer() as t:
            conn.agent.wait_for_agent(name, timeout=AGENT_TIMEOUT, interval=boot.poll_interval)
        times["agent"] = t.s
    finally:
        conn.close()
    return times


def domain_element(boot: Boot, name: str) -> ET.Element:
    """The domain XML a person would write after scripts/guest/tiny-domain.example.xml,
    with the devices the product's DomainSpec also gets (agent channel, balloon, RNG)."""
    image = boot.image
    dom = ET.Element("domain", type=image["domain_type"])
    c.sub(dom, "name", name)
    c.sub(dom, "memory", str(boot.memory_mib), unit="MiB")
    c.sub(dom, "currentMemory", str(boot.memory_mib), unit="MiB")
    c.sub(dom, "vcpu", "1", placement="static")
    os_ = c.sub(dom, "os")
    c.sub(os_, "type", "hvm", arch=image["arch"], machine=image["machine"])
    c.sub(os_, "kernel", image["kernel"])
    c.sub(os_, "initrd", image["initrd"])
    c.sub(os_, "cmdline", boot.cmdline(name))
    c.sub(os_, "boot", dev="hd")
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
    c.sub(disk, "source", file=f"{boot.pool_path}/{boot.volume(name)}")
    c.sub(disk, "target", dev="vda", bus="virtio")
    nic = c.sub(devices, "interface", type="network")
    c.sub(nic, "source", network=boot.network)
    c.sub(nic, "model", type="virtio")
    serial = c.sub(devices, "serial", type="file")
    c.sub(serial, "source", path=str(c.console_log(name)))
    c.sub(serial, "target", port="0")
    channel = c.sub(devices, "channel", type="unix")
    c.sub(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    balloon = c.sub(devices, "memballoon", model="virtio")
    c.sub(balloon, "stats", period="5")
    rng = c.sub(devices, "rng", model="virtio")
    c.sub(rng, "backend", "/dev/urandom", model="random")
    return dom


def overlay_element(boot: Boot, name: str) -> ET.Element:
    vol = ET.Element("volume")
    c.sub(vol, "name", boot.volume(name))
    c.sub(vol, "capacity", str(boot.image["virtual_size"]), unit="bytes")
    target = c.sub(vol, "target")
    c.sub(target, "format", type="qcow2")
    backing = c.sub(vol, "backingStore")
    c.sub(backing, "path", boot.image["root_disk"])
    c.sub(backing, "format", type=boot.image["root_disk_format"])
    return vol


def virsh_boot(boot: Boot, name: str, cleanup: c.Cleanup, workdir: Path) -> dict[str, float]:
    """The same steps with virsh, one command per step, as a person would type them."""
    times: dict[str, float] = {}
    uri = boot.uri
    vol_xml = c.xml_file(workdir, f"{name}-vol.xml", overlay_element(boot, name))
    dom_xml = c.xml_file(workdir, f"{name}.xml", domain_element(boot, name))
    cleanup.add(
        f"volume {boot.volume(name)}",
        lambda: c.virsh(uri, "vol-delete", "--pool", boot.pool, boot.volume(name), check=False),
    )
    with c.Timer() as t:
        c.virsh(uri, "vol-create", boot.pool, str(vol_xml))
    times["volume"] = t.s
    cleanup.add(f"domain {name}", lambda: remove_domain(uri, name))
    with c.Timer() as t:
        c.virsh(uri, "define", str(dom_xml))
    times["define"] = t.s
    with c.Timer() as t:
        c.virsh(uri, "start", name)
    times["start"] = t.s
    ping = '{"execute":"guest-ping"}'
    with c.Timer() as t:
        deadline = time.monotonic() + AGENT_TIMEOUT
        while True:
            proc = c.virsh(uri, "qemu-agent-command", name, "--timeout", "5", ping, check=False)
            if proc.returncode == 0:
                break
            if time.monotonic() + boot.poll_interval > deadline:
                raise c.BenchError(
                    f"the agent of {name} did not answer within {AGENT_TIMEOUT:g}s: "
                    f"{proc.stderr.strip()}\n{c.console_tail(name)}"
                )
            time.sleep(boot.poll_interval)
    times["agent"] = t.s
    return times


def remove_domain(uri: str, name: str) -> None:
    c.virsh(uri, "destroy", name, check=False)
    c.virsh(uri, "undefine", name, check=False)
    c.console_log(name).unlink(missing_ok=True)


def bench_boot(boot: Boot, prefix: str, repeat: int, cleanup: c.Cleanup, workdir: Path) -> dict:
    results: dict[str, list[dict[str, float]]] = {"product": [], "virsh": []}
    order = []
    for i in range(repeat):
        order += [("product", i), ("virsh", i)]
    for method, i in order:
        name = f"{prefix}-{'p' if method == 'product' else 'v'}{i + 1}"
        print(f"  boot {i + 1}/{repeat} {method:7} {name} ...", end=" ", flush=True)
        mark = cleanup.mark()
        try:
            if method == "product":
                times = product_boot(boot, name, cleanup)
            else:
                times = virsh_boot(boot, name, cleanup, workdir)
        except KeyboardInterrupt:
            print("interrupted")
            raise
        except BaseException:
            print("failed; console:\n" + c.console_tail(name))
            raise
        times["total"] = sum(times[k] for k in ("connect", *BOOT_STEPS) if k in times)
        results[method].append(times)
        print(f"{times['total']:.2f} s (agent after {times['agent']:.2f} s)")
        # tear down at once, untimed: the next boot must not share the CPUs with this one
        cleanup.unwind(mark)
    return results


def print_boot(results: dict, poll_interval: float) -> dict:
    print("\nBoot to a responding guest agent (seconds; median and min-max over repeats)")
    cols = ["connect", *BOOT_STEPS, "total"]
    rows = []
    summaries: dict[str, dict] = {}
    for method in ("product", "virsh"):
        runs = results[method]
        summaries[method] = {k: c.summary(r[k] for r in runs if k in r) for k in cols}
        label = "product (hv layer)" if method == "product" else "virsh by hand"
        rows.append(
            [f"{label}, median", *(c.fmt(summaries[method][k]["median"], "s3") for k in cols)]
        )
        rows.append(["  range", *(c.fmt_range(summaries[method][k], "s3") for k in cols)])
    print(c.table([f"method (n={len(results['product'])} each)", *cols], rows))
    p = summaries["product"]["total"]["median"]
    v = summaries["virsh"]["total"]["median"]
    print(f"\nratio product/virsh (median totals): {c.ratio(p, v)}")
    print(
        "  'connect' is the product's one libvirt connection per boot; each virsh command"
        " connects on its own, inside its step's time.\n"
        f"  Both poll the agent every {poll_interval:g} s (wait_for_agent's default is"
        f" {POLL_INTERVAL:g} s), so 'agent' is quantized to about one interval."
    )
    return summaries


# --------------------------------------------------------------------------- 2 linked clones


def bench_linked_clones(uri: str, prefix: str, repeat: int, cleanup: c.Cleanup) -> dict:
    image = c.tiny_image()
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-clones-"))
    tmp.chmod(0o755)
    cleanup.add(f"folder {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    bases = {
        "64 MiB sparse qcow2": (tmp / "base-64m.qcow2", "64M"),
        "4 GiB sparse qcow2": (tmp / "base-4g.qcow2", "4G"),
    }
    for path, size in bases.values():
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(path), size],
            check=True,
            capture_output=True,
        )
    paths = {label: str(path) for label, (path, _size) in bases.items()}
    paths["tiny-linux root.qcow2 (64 MiB)"] = image["root_disk"]
    pool = f"{prefix}-pool"
    pool_dir = tmp / "pool"
    conn = hv.Hypervisor.connect(uri, timeout=60)
    try:
        cleanup.add(f"pool {pool}", lambda: hv_pool_delete(uri, pool))
        conn.storage.pool_ensure_dir(pool, str(pool_dir))
        times: dict[str, list[float]] = {label: [] for label in paths}
        reference: dict[str, list[float]] = {label: [] for label in paths}
        for i in range(repeat):
            for k, (label, base) in enumerate(paths.items()):
                name = f"{prefix}-lc{k}-{i}.qcow2"
                token = cleanup.add(
                    f"volume {pool}/{name}",
                    lambda name=name: conn.storage.volume_delete(pool, name, missing_ok=True),
                )
                with c.Timer() as t:
                    conn.storage.volume_create_linked_clone(
                        pool, name, base_path=base, base_format="qcow2"
                    )
                times[label].append(t.s)
                cleanup.run_now(token)
                # the same overlay made by qemu-img itself, outside libvirt (reference)
                ref = tmp / f"{prefix}-ref{k}-{i}.qcow2"
                with c.Timer() as t:
                    subprocess.run(
                        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base]
                        + [str(ref)],
                        check=True,
                        capture_output=True,
                    )
                reference[label].append(t.s)
                ref.unlink()
    finally:
        conn.close()
    sizes = {
        label: int(
            json.loads(
                subprocess.run(
                    ["qemu-img", "info", "--output=json", "-U", base],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )["virtual-size"]
        )
        for label, base in paths.items()
    }
    return {"times": times, "reference": reference, "sizes": sizes}


def hv_pool_delete(uri: str, pool: str) -> None:
    with hv.Hypervisor.connect(uri, timeout=60) as conn:
        conn.storage.pool_delete(pool)


def print_linked_clones(result: dict) -> dict:
    times, reference, sizes = result["times"], result["reference"], result["sizes"]
    n = len(next(iter(times.values())))
    print(f"\nLinked clone creation (milliseconds; median and min-max over {n} repeats)")
    rows = []
    summaries = {}
    for label in times:
        s = c.summary(times[label])
        r = c.summary(reference[label])
        summaries[label] = {"virtual_size_bytes": sizes[label], "hv": s, "qemu_img": r}
        rows.append(
            [
                label,
                f"{sizes[label] // c.MIB} MiB",
                c.fmt(s["median"], "ms"),
                c.fmt_range(s, "ms"),
                c.fmt(r["median"], "ms"),
            ]
        )
    print(
        c.table(
            [
                "base image",
                "virtual size",
                "hv.storage median",
                "range",
                "qemu-img -b median",
            ],
            rows,
        )
    )
    labels = list(times)
    small = summaries[labels[0]]["hv"]["median"]
    big = summaries[labels[1]]["hv"]["median"]
    print(
        f"\nratio 4 GiB / 64 MiB base (medians): {c.ratio(big, small)}"
        "  (a linked clone writes a small qcow2 header pointing at the base; no data is copied)"
    )
    print(
        "  'qemu-img -b' is the same overlay made directly by qemu-img, outside libvirt, for"
        " reference."
    )
    return summaries


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = c.base_parser(__doc__.split("\n\n")[0], repeat=3)
    parser.add_argument(
        "--clone-repeat", type=int, default=10, help="linked clones per base image (default 10)"
    )
    parser.add_argument("--memory", type=int, default=160, help="guest memory in MiB (160)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=POLL_INTERVAL,
        help=f"seconds between agent pings, both methods (default {POLL_INTERVAL:g})",
    )
    parser.add_argument("--skip-boot", action="store_true", help="only the linked clones")
    args = parser.parse_args()
    c.install_signal_handlers()
    uri, pool, network = c.host_a()
    uri = args.uri or uri
    prefix = c.run_prefix()
    facts = c.machine_facts(uri)
    print("bench_hypervisor: the platform layer\n")
    c.print_facts(facts)
    print(f"run prefix      {prefix}\n")
    c.warn_stale(uri, [pool])
    output: dict = {"benchmark": "bench_hypervisor", "facts": facts, "prefix": prefix}
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-xml-"))
    status = 0
    with c.Cleanup(uri, prefix, pools=[pool]) as cleanup:
        cleanup.add(f"folder {workdir}", lambda: shutil.rmtree(workdir, ignore_errors=True))
        try:
            if not args.skip_boot:
                boot = Boot(uri, pool, network, c.tiny_image(), args.memory, args.poll_interval)
                print(
                    f"1. Boot the tiny guest ({args.memory} MiB, 1 vCPU, TCG) to a responding"
                    f" agent, {args.repeat}x per method, alternating"
                )
                results = bench_boot(boot, prefix, args.repeat, cleanup, workdir)
                output["boot"] = {
                    "poll_interval_s": args.poll_interval,
                    "runs": results,
                    "summary": print_boot(results, args.poll_interval),
                }
            print(
                f"\n2. Linked clones through hv.storage.volume_create_linked_clone,"
                f" {args.clone_repeat}x per base"
            )
            clones = bench_linked_clones(uri, prefix, args.clone_repeat, cleanup)
            output["linked_clones"] = {**clones, "summary": print_linked_clones(clones)}
        except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
            c.report_exception(exc)
            status = 130 if isinstance(exc, KeyboardInterrupt) else 1
    c.write_json(args.json, output)
    return status


if __name__ == "__main__":
    sys.exit(main())
