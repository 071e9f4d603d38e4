"""Helpers shared by the benchmarks: machine facts, statistics, tables, virsh, clean-up.

Every benchmark names what it makes ``bench-<4 hex>-...`` (one prefix per run), records
each object before making it, and removes it in a ``finally`` (also on Ctrl-C or
SIGTERM). A last sweep removes anything else on the host whose name carries the run's
prefix, so an object made by a step that failed half-way is not left behind either.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the scripts run as files: make the project importable
    sys.path.insert(0, str(ROOT))

IMAGE_MANIFEST = (
    Path(os.environ.get("VMPERSONA_IMAGE_DIR", "/var/lib/vmpersona/images"))
    / "tiny-linux"
    / "image.json"
)
CONSOLE_DIR = Path("/var/log/vmpersona")
MIB = 1024 * 1024


class BenchError(RuntimeError):
    """A benchmark could not do what it set out to do (the message says what failed)."""


# --------------------------------------------------------------------------- set-up


def run_prefix() -> str:
    """``bench-`` plus 4 random hex digits: every object of one run carries it."""
    return f"bench-{secrets.token_hex(2)}"


def base_parser(description: str, *, repeat: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--repeat", type=int, default=repeat, help=f"repeats per measurement (default {repeat})"
    )
    parser.add_argument("--json", metavar="OUT", help="also write the figures to this JSON file")
    parser.add_argument(
        "--uri", default=None, help="libvirt URI (default: host A of scripts/testbed.sh)"
    )
    return parser


def testbed_env() -> dict[str, str]:
    """``scripts/testbed.sh env`` as a dict (empty when the script cannot run)."""
    try:
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "testbed.sh"), "env"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    values = {}
    for line in proc.stdout.splitlines():
        key, sep, raw = line.partition("=")
        if sep:
            parts = shlex.split(raw)
            values[key.strip()] = parts[0] if parts else ""
    return values


def host_a() -> tuple[str, str, str]:
    """(URI, storage pool, isolated network) of the testbed's host A."""
    env = testbed_env()
    return (
        env.get("VMPERSONA_HOST_A_URI", "qemu:///system"),
        env.get("VMPERSONA_POOL_NAME", "persona"),
        env.get("VMPERSONA_NETWORK", "persona-isolated"),
    )


def tiny_image() -> dict:
    if not IMAGE_MANIFEST.exists():
        raise BenchError(
            f"{IMAGE_MANIFEST} is missing: build the tiny guest first (make guest-image)"
        )
    return json.loads(IMAGE_MANIFEST.read_text())


def install_signal_handlers() -> None:
    """SIGTERM ends the run like Ctrl-C does, so every ``finally`` still cleans up."""

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)


def setup_django(prefix: str) -> Path:
    """Django on a throwaway instance folder (SQLite database, keys, logs), migrated.

    Returns the folder; the caller removes it. Nothing of the developer's own instance,
    database, Redis or key-encryption key is used.
    """
    instance = Path(tempfile.mkdtemp(prefix=f"{prefix}-instance-"))
    for name in ("DATABASE_URL", "REDIS_URL", "VMPERSONA_SQLITE_PATH", "VMPERSONA_KEK"):
        os.environ.pop(name, None)
    os.environ["VMPERSONA_INSTANCE_DIR"] = str(instance)
    os.environ["VMPERSONA_Q_SYNC"] = "0"  # requesting a job must not run it on commit
    os.environ.setdefault("VMPERSONA_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vmpersona.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return instance


# --------------------------------------------------------------------------- facts


def _first_line(args: Sequence[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout.strip().splitlines() or ["?"])[0]


def machine_facts(uri: str) -> dict:
    """What the figures depend on: cores, load, memory, versions, other running guests."""
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mib = int(line.split()[1]) // 1024
    except OSError:
        pass
    running = subprocess.run(
        ["virsh", "-c", uri, "list", "--name", "--state-running"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    libvirt_version = "?"
    qemu_version = "?"
    version = subprocess.run(
        ["virsh", "-c", uri, "version"], capture_output=True, text=True, check=False
    ).stdout
    if m := re.search(r"Using library: libvirt (\S+)", version):
        libvirt_version = m.group(1)
    if m := re.search(r"Running hypervisor: QEMU (\S+)", version):
        qemu_version = m.group(1)
    load1, load5, load15 = os.getloadavg()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mib": mem_mib,
        "load_average": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libvirt": libvirt_version,
        "qemu": qemu_version,
        "uri": uri,
        "other_running_domains": sorted(running),
    }


def print_facts(facts: dict) -> None:
    load = facts["load_average"]
    others = facts["other_running_domains"]
    print(f"date            {facts['date']}  ({facts['host']})")
    print(f"cores           {facts['cores']}  ({facts['cpu_model']}), {facts['memory_mib']} MiB")
    print(f"load average    {load[0]} / {load[1]} / {load[2]} (1 / 5 / 15 min, at start)")
    print(
        f"software        kernel {facts['kernel']}, libvirt {facts['libvirt']}, "
        f"QEMU {facts['qemu']} (TCG), Python {facts['python']}"
    )
    print(
        f"other guests    {len(others)} running on {facts['uri']}"
        + (f": {', '.join(others)}" if others else "")
    )


# --------------------------------------------------------------------------- statistics


def summary(values: Iterable[float]) -> dict:
    data = [float(v) for v in values]
    if not data:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(data),
        "median": statistics.median(data),
        "min": min(data),
        "max": max(data),
    }


def fmt(value: float | None, unit: str = "s") -> str:
    """Seconds as ``s`` (2 decimals), ``s3`` (3 decimals) or ``ms`` (milliseconds)."""
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1000:.1f}"
    if unit == "s3":
        return f"{value:.3f}"
    return f"{value:.2f}"


def fmt_range(s: dict, unit: str = "s") -> str:
    if not s["n"]:
        return "-"
    return f"{fmt(s['min'], unit)}-{fmt(s['max'], unit)}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        out = [row[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"\nfigures written to {path}")


class Timer:
    """``with Timer() as t: ...`` then ``t.s`` holds the elapsed seconds."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.start


# --------------------------------------------------------------------------- virsh


def virsh(
    uri: str, *args: str, check: bool = True, timeout: float = 120, quiet: bool = True
) -> subprocess.CompletedProcess:
    """Run ``virsh -c URI ARGS`` (``-q`` unless not ``quiet``); with ``check``, a non-zero
    exit raises ``BenchError``."""
    cmd = ["virsh", *(["-q"] if quiet else []), "-c", uri, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise BenchError(
            f"{shlex.join(cmd)} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def xml_file(directory: Path, name: str, element: ET.Element) -> Path:
    """Write an XML document built with ElementTree to ``directory/name``."""
    path = directory / name
    path.write_bytes(ET.tostring(element))
    return path


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def console_log(name: str) -> Path:
    return CONSOLE_DIR / f"{name}.console.log"


def console_tail(name: str, lines: int = 15) -> str:
    try:
        text = console_log(name).read_text(errors="replace")
    except OSError:
        return "(no console log)"
    return "\n".join(text.splitlines()[-lines:]) or "(console log empty)"


# --------------------------------------------------------------------------- clean-up


class Cleanup:
    """Undo actions registered as objects are made, newest first, plus a prefix sweep.

    ``with Cleanup(uri, prefix) as cleanup: cleanup.add("domain x", fn)``. Leaving the
    block (normally, on an exception, on Ctrl-C) runs every action still pending, then
    sweeps the host for domains, volumes, secrets, filters and pools carrying the prefix.
    """

    def __init__(self, uri: str, prefix: str, *, pools: Iterable[str] = ()) -> None:
        self.uri = uri
        self.prefix = prefix
        self.pools = list(pools)
        self._actions: list[tuple[int, str, Callable[[], object]]] = []
        self._next = 0
        self.failures: list[str] = []

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.run()

    def add(self, what: str, action: Callable[[], object]) -> int:
        self._next += 1
        self._actions.append((self._next, what, action))
        return self._next

    def done(self, token: int) -> None:
        """Forget an action (its object was already removed on the normal path)."""
        self._actions = [a for a in self._actions if a[0] != token]

    def run_now(self, token: int) -> None:
        """Run one pending action at once (e.g. between repeats)."""
        for item in list(self._actions):
            if item[0] == token:
                self._actions.remove(item)
                self._do(item[1], item[2])

    def mark(self) -> int:
        """A point to ``unwind`` to later."""
        return self._next

    def unwind(self, mark: int) -> None:
        """Run, newest first, every pending action added after ``mark``."""
        for token, _what, _action in sorted(self._actions, reverse=True):
            if token > mark:
                self.run_now(token)

    def _do(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - keep cleaning, report at the end
            self.failures.append(f"{what}: {exc}")

    def run(self) -> None:
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning first
        old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            while self._actions:
                _token, what, action = self._actions.pop()
                self._do(what, action)
            swept = sweep(self.uri, self.prefix, self.pools)
            if swept:
                print(f"clean-up: the sweep also removed {', '.join(swept)}")
            left = leftovers(self.uri, self.prefix, self.pools)
            if self.failures or left:
                print("clean-up problems:\n  " + "\n  ".join(self.failures + left))
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)


def _names(uri: str, *args: str) -> list[str]:
    proc = virsh(uri, *args, check=False)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def _secrets(uri: str) -> list[tuple[str, str]]:
    """(uuid, usage) of every secret on the host."""
    out = []
    for line in _names(uri, "secret-list"):
        parts = line.split(None, 1)
        if len(parts) == 2 and re.match(r"^[0-9a-f-]{36}$", parts[0]):
            out.append((parts[0], parts[1]))
    return out


def _volumes(uri: str, pool: str) -> list[str]:
    virsh(uri, "pool-refresh", pool, check=False)
    out = []
    for line in _names(uri, "vol-list", pool):
        name = line.split()[0]
        out.append(name)
    return out


def _objects(uri: str, prefix: str, pools: Iterable[str]) -> dict[str, list]:
    mine = lambda name: prefix in name  # noqa: E731
    found: dict[str, list] = {
        "domain": [n for n in _names(uri, "list", "--all", "--name") if mine(n)],
        "volume": [],
        "secret": [u for u, usage in _secrets(uri) if mine(usage)],
        "nwfilter": [],
        "pool": [n for n in _names(uri, "pool-list", "--all", "--name") if mine(n)],
    }
    for pool in pools:
        found["volume"] += [(pool, v) for v in _volumes(uri, pool) if mine(v)]
    for line in _names(uri, "nwfilter-list"):
        parts = line.split()
        if len(parts) == 2 and mine(parts[1]):
            found["nwfilter"].append(parts[1])
    return found


def sweep(uri: str, prefix: str, pools: Iterable[str]) -> list[str]:
    """Remove every domain, volume, secret, filter and pool whose name has ``prefix``."""
    pools = list(pools)
    found = _objects(uri, prefix, pools)
    removed = []
    for name in found["domain"]:
        virsh(uri, "destroy", name, check=False)
        if virsh(uri, "undefine", name, "--nvram", check=False).returncode != 0:
            virsh(uri, "undefine", name, check=False)
        removed.append(f"domain {name}")
    for pool, vol in found["volume"]:
        virsh(uri, "vol-delete", "--pool", pool, vol, check=False)
        removed.append(f"volume {pool}/{vol}")
    for uuid in found["secret"]:
        virsh(uri, "secret-undefine", uuid, check=False)
        removed.append(f"secret {uuid}")
    for name in found["nwfilter"]:
        virsh(uri, "nwfilter-undefine", name, check=False)
        removed.append(f"nwfilter {name}")
    for name in found["pool"]:
        virsh(uri, "pool-destroy", name, check=False)
        virsh(uri, "pool-undefine", name, check=False)
        removed.append(f"pool {name}")
    for log in CONSOLE_DIR.glob(f"{prefix}*.console.log"):
        log.unlink(missing_ok=True)
    return removed


def leftovers(uri: str, prefix: str, pools: Iterable[str]) -> list[str]:
    found = _objects(uri, prefix, pools)
    out = [f"domain {n}" for n in found["domain"]]
    out += [f"volume {p}/{v}" for p, v in found["volume"]]
    out += [f"secret {u}" for u in found["secret"]]
    out += [f"nwfilter {n}" for n in found["nwfilter"]]
    out += [f"pool {n}" for n in found["pool"]]
    return out


def stale_objects(uri: str, pools: Iterable[str]) -> list[str]:
    """Objects of earlier runs (``bench-`` names) that are still on the host."""
    return leftovers(uri, "bench-", pools)


def warn_stale(uri: str, pools: Iterable[str]) -> None:
    stale = stale_objects(uri, pools)
    if stale:
        print(
            "note: objects of an earlier benchmark run are still on the host (an interrupted"
            " run killed with SIGKILL?): " + ", ".join(stale)
        )


def report_exception(exc: BaseException) -> None:
    print(f"\nFAILED: {exc.__class__.__name__}: {exc}")
    if not isinstance(exc, BenchError | KeyboardInterrupt):
        traceback.print_exc()
