"""Data volumes: file system (only when the disk has none), mount point, fstab."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import guestfiles as gf
from . import validation as v
from .boot import Boot
from .errors import GuestStepError
from .results import CheckResult
from .session import FileSpec, GuestSession

DEVICE_RE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9/_.:+-]{0,200}\Z")
GIB = 1024**3
MIB = 1024**2
MKFS_TIMEOUT = 900.0
FS_MIN_SHARE = 0.70  # a file system keeps at least this share of its device for data
FSTAB = "/etc/fstab"
_LABEL_MAX = {"ext4": 16, "xfs": 12, "btrfs": 255, "vfat": 11}
_FSCK_PASS = {"ext4": "2", "xfs": "0", "btrfs": "0", "vfat": "0"}
# Copy what a mount point already holds onto a new, empty file system before mounting it
# there, so that nothing installed earlier is hidden: $1 device, $2 fs type, $3 mount point,
# $4 temporary mount folder.
_SEED = r"""
set -e
mkdir -p "$4"
mount -t "$2" "$1" "$4"
status=0
cp -a "$3/." "$4/" || status=$?
umount "$4"
rmdir "$4"
exit $status
"""
_NON_EMPTY = '[ -d "$1" ] && [ -n "$(ls -A "$1" 2>/dev/null)" ]'


def fstab_escape(path: str) -> str:
    """A path as fstab and /proc/mounts write it (octal escapes for blanks and '\\')."""
    return (
        path.replace("\\", "\\134")
        .replace(" ", "\\040")
        .replace("\t", "\\011")
        .replace("\n", "\\012")
    )


def fstab_unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


@dataclass
class Mount:
    source: str
    mountpoint: str
    fstype: str
    options: str


def parse_mounts(text: str) -> dict[str, Mount]:
    """``/proc/mounts`` by mount point (the last mount on a point wins, as it hides the rest)."""
    mounts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            mp = fstab_unescape(parts[1])
            mounts[mp] = Mount(fstab_unescape(parts[0]), mp, parts[2], parts[3])
    return mounts


def parse_blkid_export(text: str) -> dict[str, str]:
    """``blkid -o export`` lines, or the ``DEV: KEY="value" ...`` form of busybox blkid."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if "=" in line and not line.startswith("/") and '"' not in line:
            key, _, value = line.partition("=")
            out[key] = value
        else:
            for key, value in re.findall(r'([A-Z_]+)="([^"]*)"', line):
                out[key] = value
    return out


def fstab_updated(text: str, *, name: str, source: str, mount_point: str, fs: str) -> str:
    """``text`` with the line for ``mount_point`` (ours or anyone's) replaced by ours."""
    marker = f"# VM Persona data volume {name}"
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == marker:
            continue
        if stripped and not stripped.startswith("#"):
            fields = stripped.split()
            if len(fields) >= 2 and (
                fstab_unescape(fields[1]) == mount_point or fields[0] == source
            ):
                continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    entry = f"{source} {fstab_escape(mount_point)} {fs} defaults,nofail 0 {_FSCK_PASS[fs]}"
    return "\n".join([*kept, marker, entry]) + "\n"


def fstab_entries(text: str) -> dict[str, list[str]]:
    """Mount point -> fields of its fstab line."""
    out = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            fields = stripped.split()
            if len(fields) >= 3:
                out[fstab_unescape(fields[1])] = fields
    return out


def mkfs_argv(fs: str, device: str, label: str, tool: str) -> list[str]:
    label_ok = len(label) <= _LABEL_MAX[fs]
    if fs == "ext4":
        return [tool, "-q", *(["-L", label] if label_ok else []), device]
    if fs == "xfs":
        return [tool, "-q", *(["-L", label] if label_ok else []), device]
    if fs == "btrfs":
        return [tool, "-q", *(["-L", label] if label_ok else []), device]
    return [tool, *(["-n", label.upper()] if label_ok else []), device]  # vfat


@dataclass
class VolumeSpec:
    index: int
    name: str
    mount_point: str
    fs: str
    size_gib: float
    device: str | None

    @property
    def pointer(self) -> str:
        return f"/data_volume_definitions/{self.index}"


def volume_specs(
    volumes: Sequence[Mapping[str, Any]], devices: Mapping[str, str]
) -> list[VolumeSpec]:
    specs = []
    for i, vol in enumerate(volumes):
        here = f"/data_volume_definitions/{i}"
        if not isinstance(vol, Mapping):
            raise GuestStepError("a data volume must be an object", pointer=here)
        name = v.match(v.SLUG_RE, vol.get("name"), f"{here}/name", "volume name")
        size = vol.get("size_gib")
        if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
            raise GuestStepError("size_gib must be a number above 0", pointer=f"{here}/size_gib")
        device = devices.get(name)
        if device is not None and not DEVICE_RE.match(device):
            raise GuestStepError(
                f"guest device {device[:60]!r} of volume {name} is not a /dev path", pointer=here
            )
        specs.append(
            VolumeSpec(
                index=i,
                name=name,
                mount_point=v.file_path(vol.get("mount_point"), f"{here}/mount_point"),
                fs=v.choice(
                    vol.get("filesystem", "ext4"), v.FILESYSTEMS, f"{here}/filesystem", "filesystem"
                ),
                size_gib=float(size),
                device=device,
            )
        )
    return specs


class Volumes:
    def __init__(self, session: GuestSession, boot: Boot) -> None:
        self.s = session
        self.boot = boot

    def probe(self, device: str, pointer: str) -> dict[str, str]:
        """What ``blkid`` finds on ``device`` (empty when it holds no signature)."""
        r = self.s.run(
            ["blkid", "-p", "-o", "export", device],
            what=f"probe {device}",
            pointer=pointer,
            check=False,
        )
        if r.exit_code == 0:
            return parse_blkid_export(r.stdout_text)
        if r.exit_code == 2:  # nothing found
            return {}
        # busybox blkid knows neither -p nor -o
        r = self.s.run(["blkid", device], what=f"probe {device}", pointer=pointer, check=False)
        if r.exit_code in (0, 2) or (r.exit_code == 1 and not r.stderr_text.strip()):
            return parse_blkid_export(r.stdout_text)
        raise GuestStepError(
            f"cannot probe {device}: blkid exit code {r.exit_code}: {r.stderr_text.strip()[-300:]}",
            pointer=pointer,
        )

    def mounts(self) -> dict[str, Mount]:
        return parse_mounts(self.s.read_text("/proc/mounts", what="read /proc/mounts") or "")

    def setup(self, volumes: Sequence[Mapping[str, Any]], devices: Mapping[str, str]) -> None:
        specs = volume_specs(volumes, devices)
        for spec in specs:
            self.s.check_cancelled(spec.pointer)
            if spec.device is None:
                raise GuestStepError(
                    f"no guest device was given for volume {spec.name}", pointer=spec.pointer
                )
            self.setup_one(spec)
        if specs and not self.boot.mounts_fstab():
            self.boot.install(
                gf.MOUNTS_SCRIPT,
                gf.MOUNTS,
                pointer="/data_volume_definitions",
                what="boot script that mounts the data volumes",
            )

    def setup_one(self, spec: VolumeSpec) -> None:
        device, pointer = spec.device, spec.pointer
        assert device is not None
        label = f"volume {spec.name}"
        if not self.s.exists(device):
            raise GuestStepError(f"{label}: the guest has no device {device}", pointer=pointer)
        found = self.probe(device, pointer)
        fresh = False
        if found.get("TYPE"):
            if found["TYPE"] != spec.fs:
                raise GuestStepError(
                    f"{label}: {device} already holds a {found['TYPE']} file system, not {spec.fs}; "
                    "refusing to reformat it (its data would be lost)",
                    pointer=f"{pointer}/filesystem",
                )
            self.s.log(
                f"{label}: {device} already holds {spec.fs} (UUID {found.get('UUID', '?')}); not formatting"
            )
        elif found.get("PTTYPE") or found.get("USAGE") not in (None, "", "filesystem"):
            raise GuestStepError(
                f"{label}: {device} holds a {found.get('PTTYPE') or found.get('USAGE')} signature "
                "but no file system; refusing to format it",
                pointer=pointer,
            )
        else:
            tool = self.s.command_path(f"mkfs.{spec.fs}")
            if tool is None and spec.fs == "vfat":
                tool = self.s.command_path("mkdosfs")
            if tool is None:
                raise GuestStepError(
                    f"{label}: cannot create a {spec.fs} file system: mkfs.{spec.fs} is not in the guest",
                    pointer=f"{pointer}/filesystem",
                )
            self.s.run(
                mkfs_argv(spec.fs, device, spec.name, tool),
                what=f"{label}: mkfs.{spec.fs} {device}",
                pointer=pointer,
                timeout=MKFS_TIMEOUT,
            )
            fresh = True
            found = self.probe(device, pointer)
        source = f"UUID={found['UUID']}" if found.get("UUID") else device
        fstab = self.s.read_text(FSTAB, what="read /etc/fstab", pointer=pointer) or ""
        updated = fstab_updated(
            fstab, name=spec.name, source=source, mount_point=spec.mount_point, fs=spec.fs
        )
        if updated != fstab:
            self.s.write_files(
                [FileSpec(FSTAB, updated.encode(), pointer=pointer)], what=f"{label}: fstab"
            )
        mounted = self.mounts().get(spec.mount_point)
        if mounted is not None:
            if self._same_device(mounted.source, device, found):
                self.s.log(f"{label}: already mounted at {spec.mount_point}")
                return
            raise GuestStepError(
                f"{label}: {mounted.source} is mounted at {spec.mount_point}, not {device}",
                pointer=f"{pointer}/mount_point",
            )
        self.s.run(
            ["mkdir", "-p", spec.mount_point],
            what=f"{label}: create {spec.mount_point}",
            pointer=pointer,
        )
        if fresh:
            non_empty = self.s.sh(
                _NON_EMPTY,
                spec.mount_point,
                what=f"{label}: look into {spec.mount_point}",
                check=False,
                quiet=True,
            )
            if non_empty.exit_code == 0:
                self.s.sh(
                    _SEED,
                    device,
                    spec.fs,
                    spec.mount_point,
                    f"/run/vmpersona/seed-{uuid.uuid4().hex[:8]}",
                    what=f"{label}: copy what {spec.mount_point} already holds onto the new file system",
                    pointer=pointer,
                    timeout=MKFS_TIMEOUT,
                )
        self.s.run(
            ["mount", spec.mount_point], what=f"{label}: mount {spec.mount_point}", pointer=pointer
        )

    @staticmethod
    def _same_device(source: str, device: str, found: Mapping[str, str]) -> bool:
        if source == device:
            return True
        uuid_ = found.get("UUID")
        return bool(uuid_) and source in (f"UUID={uuid_}", f"/dev/disk/by-uuid/{uuid_}")

    # ------------------------------------------------------------------ verify

    def verify(
        self, volumes: Sequence[Mapping[str, Any]], devices: Mapping[str, str]
    ) -> list[CheckResult]:
        checks: list[CheckResult] = []
        try:
            specs = volume_specs(volumes, devices)
        except GuestStepError as exc:
            return [
                CheckResult(
                    "data_volumes",
                    exc.pointer,
                    "data volume definition",
                    "guest",
                    "valid",
                    "invalid",
                    False,
                    str(exc),
                )
            ]
        if not specs:
            return checks
        mounts = self.mounts()
        fstab = fstab_entries(self.s.read_text(FSTAB) or "")
        mounted_points = [s.mount_point for s in specs if s.mount_point in mounts]
        df: dict[str, int] = {}
        if mounted_points:
            r = self.s.run(["df", "-k", "-P", *mounted_points], what="df", check=False, quiet=True)
            lines = r.stdout_text.splitlines()[1:]
            for mp, line in zip(mounted_points, lines, strict=False):
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    df[mp] = int(parts[1]) * 1024
        boot_ok = self.boot.mounts_fstab() or self.s.exists(gf.MOUNTS_SCRIPT)
        for spec in specs:
            name = f"volume {spec.name}"
            want = f"{spec.device or 'its device'} with {spec.fs} mounted at {spec.mount_point}"
            m = mounts.get(spec.mount_point)
            if m is None:
                checks.append(
                    CheckResult(
                        "data_volumes",
                        spec.pointer,
                        f"{name} mounted",
                        "guest",
                        want,
                        "not mounted",
                        False,
                    )
                )
            else:
                problems = []
                if m.fstype != spec.fs:
                    problems.append(f"file system is {m.fstype}")
                device_name = m.source
                if spec.device and m.source != spec.device:
                    real = self.s.run(
                        ["readlink", "-f", spec.device],
                        what="resolve device",
                        check=False,
                        quiet=True,
                    )
                    if real.stdout_text.strip() != m.source:
                        problems.append(f"mounted device is {m.source}, not {spec.device}")
                checks.append(
                    CheckResult(
                        "data_volumes",
                        spec.pointer,
                        f"{name} mounted",
                        "guest",
                        want,
                        f"{device_name} with {m.fstype} mounted at {m.mountpoint}",
                        not problems,
                        "; ".join(problems),
                    )
                )
            # size: the device as the profile sizes it, the file system filling most of it
            expected_bytes = int(spec.size_gib * GIB)
            tolerance = max(MIB, expected_bytes // 100)
            dev_bytes = None
            if spec.device:
                base = spec.device.rsplit("/", 1)[-1]
                size_text = (
                    self.s.read_text(f"/sys/class/block/{base}/size") if "/" not in base else None
                )
                if size_text and size_text.strip().isdigit():
                    dev_bytes = int(size_text.strip()) * 512
            fs_bytes = df.get(spec.mount_point)
            want_size = f"{spec.size_gib:g} GiB ({expected_bytes} bytes) device, file system at least {int(FS_MIN_SHARE * 100)}% of it"
            problems = []
            if dev_bytes is None:
                problems.append("device size unknown")
            elif abs(dev_bytes - expected_bytes) > tolerance:
                problems.append(f"device is {dev_bytes / GIB:.4g} GiB")
            if fs_bytes is None:
                problems.append("file system not mounted")
            elif fs_bytes < FS_MIN_SHARE * (dev_bytes or expected_bytes):
                problems.append(f"file system is only {fs_bytes} bytes")
            checks.append(
                CheckResult(
                    "data_volumes",
                    f"{spec.pointer}/size_gib",
                    f"{name} size",
                    "guest",
                    want_size,
                    f"device {dev_bytes if dev_bytes is not None else '?'} bytes, file system {fs_bytes if fs_bytes is not None else '?'} bytes",
                    not problems,
                    "; ".join(problems),
                )
            )
            # persistence: an fstab line mounted at boot
            entry = fstab.get(spec.mount_point)
            want_boot = f"fstab line for {spec.mount_point} ({spec.fs}), mounted at boot"
            problems = []
            if entry is None:
                problems.append("no fstab line")
                actual = "no fstab line"
            else:
                actual = " ".join(entry[:4])
                if entry[2] != spec.fs:
                    problems.append(f"fstab says {entry[2]}")
                if "noauto" in entry[3].split(","):
                    problems.append("noauto")
            if not boot_ok:
                problems.append(f"nothing mounts fstab at boot ({gf.MOUNTS_SCRIPT} missing)")
            checks.append(
                CheckResult(
                    "data_volumes",
                    f"{spec.pointer}/mount_point",
                    f"{name} persistent mount",
                    "guest",
                    want_boot,
                    actual,
                    not problems,
                    "; ".join(problems),
                )
            )
        return checks
