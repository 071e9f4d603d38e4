"""Intrusion detection inside the guest.

- ``builtin``: VM Persona's own file-integrity check. ``vmp-ids init`` records the
  sha256, mode and owner of every regular file below the watched paths
  (``settings.watch`` or ``settings.paths``; default ``DEFAULT_WATCH``) minus
  ``settings.exclude``; ``vmp-ids check`` compares and lists what was added, removed or
  changed. With ``settings.schedule`` (a cron expression) cron runs the check and logs
  to /var/log/vmpersona/ids.log.
- ``aide``: needs aide in the guest (installed with the guest's package manager when it
  has one); VM Persona writes its configuration from the watched paths, initialises its
  database and schedules ``aide --check``.
- ``ossec``, ``wazuh``, ``tripwire``: used only when the image already has them
  configured; VM Persona starts them (ossec/wazuh) and schedules tripwire's check. When
  the engine is missing the step fails at ``/security_profile/intrusion_detection/engine``:
  nothing is reported as protected that is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import guestfiles as gf
from . import validation as v
from .boot import Boot
from .components import package_commands, process_ids
from .errors import GuestStepError
from .results import CheckResult
from .session import FileSpec, GuestSession, tail

POINTER = "/security_profile/intrusion_detection"
DEFAULT_WATCH = ("/etc", "/bin", "/sbin", "/usr/bin", "/usr/sbin")
DEFAULT_EXCLUDE = ("/etc/resolv.conf", "/etc/mtab", "/etc/adjtime")
AIDE_CONF = "/etc/vmpersona/aide.conf"
AIDE_DB = "/var/lib/aide/aide.db"
CRON_D = "/etc/cron.d"
CRON_D_FILE = "/etc/cron.d/vmpersona-ids"
CRONTABS = "/var/spool/cron/crontabs"
CRONTAB = f"{CRONTABS}/root"
BEGIN, END = "# BEGIN VM Persona intrusion detection", "# END VM Persona intrusion detection"
CHECK_TIMEOUT = 600.0
CONTROL = {"ossec": "/var/ossec/bin/ossec-control", "wazuh": "/var/ossec/bin/wazuh-control"}
_AIDE_PATH_RE = re.compile(r"^/[^\s]*\Z")


@dataclass
class IdsSpec:
    enabled: bool
    engine: str | None = None
    watch: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    schedule: str | None = None
    database: str = AIDE_DB
    ignored: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def ids_spec(ids: Mapping[str, Any] | None) -> IdsSpec:
    if not ids:
        return IdsSpec(enabled=False)
    if not isinstance(ids, Mapping):
        raise GuestStepError("intrusion_detection must be an object", pointer=POINTER)
    if not ids.get("enabled"):
        return IdsSpec(enabled=False)
    engine = v.choice(ids.get("engine"), v.IDS_ENGINES, f"{POINTER}/engine", "engine")
    settings = ids.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise GuestStepError("settings must be an object", pointer=f"{POINTER}/settings")
    key = "watch" if "watch" in settings else "paths"
    watch_raw = settings.get(key)
    if watch_raw is None:
        watch = list(DEFAULT_WATCH)
    elif isinstance(watch_raw, list) and watch_raw:
        watch = [
            v.absolute_path(p, f"{POINTER}/settings/{key}/{j}") for j, p in enumerate(watch_raw)
        ]
    else:
        raise GuestStepError(
            "must be a non-empty list of paths", pointer=f"{POINTER}/settings/{key}"
        )
    exclude_raw = settings.get("exclude", list(DEFAULT_EXCLUDE))
    if not isinstance(exclude_raw, list):
        raise GuestStepError("must be a list of paths", pointer=f"{POINTER}/settings/exclude")
    exclude = [
        v.absolute_path(p, f"{POINTER}/settings/exclude/{j}") for j, p in enumerate(exclude_raw)
    ]
    schedule = settings.get("schedule")
    if schedule is not None:
        schedule = v.cron_schedule(schedule, f"{POINTER}/settings/schedule")
    database = AIDE_DB
    if engine == "aide" and settings.get("database") is not None:
        database = v.file_path(settings["database"], f"{POINTER}/settings/database")
    known = {"watch", "paths", "exclude", "schedule"} | (
        {"database"} if engine == "aide" else set()
    )
    ignored = sorted(k for k in settings if k not in known)
    return IdsSpec(True, engine, watch, exclude, schedule, database, ignored, dict(settings))


def aide_conf(spec: IdsSpec) -> str:
    lines = [
        "# AIDE configuration written by VM Persona from the profile's intrusion detection settings",
        f"database_in=file:{spec.database}",
        f"database_out=file:{spec.database}.new",
        "gzip_dbout=no",
    ]
    lines += [f"!{re.escape(p)}(/.*)?$" for p in spec.exclude]
    lines += [f"{re.escape(p)} R" for p in spec.watch]
    return "\n".join(lines) + "\n"


def check_command(spec: IdsSpec) -> str:
    """The command cron runs (constant parts and validated paths only)."""
    if spec.engine == "builtin":
        return f"{gf.IDS_PROGRAM} check >>{gf.IDS_LOG} 2>&1"
    if spec.engine == "aide":
        return f"aide --config={AIDE_CONF} --check >>{gf.IDS_LOG} 2>&1"
    return f"tripwire --check >>{gf.IDS_LOG} 2>&1"


def crontab_updated(text: str, line: str | None) -> str:
    """``text`` with our block replaced by ``line`` (or removed when None)."""
    out, skipping = [], False
    for existing in text.splitlines():
        if existing.strip() == BEGIN:
            skipping = True
            continue
        if existing.strip() == END:
            skipping = False
            continue
        if not skipping:
            out.append(existing)
    while out and not out[-1].strip():
        out.pop()
    if line is not None:
        out += [BEGIN, line, END]
    return "\n".join(out) + ("\n" if out else "")


class IntrusionDetection:
    def __init__(self, session: GuestSession, boot: Boot) -> None:
        self.s = session
        self.boot = boot

    # ------------------------------------------------------------------ apply

    def apply(self, ids: Mapping[str, Any] | None) -> None:
        spec = ids_spec(ids)
        if not spec.enabled:
            self.schedule(spec, None)
            return
        if spec.ignored:
            self.s.log(
                f"intrusion detection ({spec.engine}): settings {', '.join(spec.ignored)} do not apply to this engine"
            )
        if spec.engine == "builtin":
            self.apply_builtin(spec)
        elif spec.engine == "aide":
            self.apply_aide(spec)
        else:
            self.apply_external(spec)
        self.schedule(spec, spec.schedule)

    def apply_builtin(self, spec: IdsSpec) -> None:
        self.s.run(
            ["mkdir", "-p", gf.IDS_DIR, "/var/log/vmpersona"],
            what="intrusion detection folders",
            pointer=POINTER,
            quiet=True,
        )
        self.s.write_files(
            [
                FileSpec(gf.IDS_PROGRAM, gf.IDS.encode(), mode="0755", pointer=POINTER),
                FileSpec(
                    f"{gf.IDS_DIR}/paths",
                    "".join(f"{p}\n" for p in spec.watch).encode(),
                    mode="0600",
                    pointer=f"{POINTER}/settings",
                ),
                FileSpec(
                    f"{gf.IDS_DIR}/exclude",
                    "".join(f"{p}\n" for p in spec.exclude).encode(),
                    mode="0600",
                    pointer=f"{POINTER}/settings",
                ),
            ],
            what="intrusion detection (builtin)",
        )
        self.baseline()
        self.s.run(
            [gf.IDS_PROGRAM, "check"],
            what="intrusion detection: first check",
            pointer=POINTER,
            timeout=CHECK_TIMEOUT,
        )

    def baseline(self) -> None:
        r = self.s.run(
            [gf.IDS_PROGRAM, "init"],
            what="intrusion detection: record the baseline",
            pointer=POINTER,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
        if r.exit_code == 3:
            raise GuestStepError(
                f"intrusion detection: {tail(r.stderr_text, lines=3)}",
                pointer=f"{POINTER}/settings",
            )
        if r.exit_code != 0:
            raise GuestStepError(
                f"intrusion detection: recording the baseline failed with exit code {r.exit_code}: "
                f"{tail(r.stderr_text or r.stdout_text, lines=4)}",
                pointer=POINTER,
            )

    def refresh_baseline(self) -> None:
        """Re-record the builtin baseline when there is one: called after provisioning
        changed files, so the baseline is the provisioned state."""
        if self.s.exists(f"{gf.IDS_DIR}/baseline") and self.s.exists(gf.IDS_PROGRAM):
            self.baseline()

    def _package_manager(self) -> str | None:
        for manager, tool in (
            ("apt", "apt-get"),
            ("dnf", "dnf"),
            ("zypper", "zypper"),
            ("apk", "apk"),
        ):
            if self.s.command_path(tool):
                return manager
        return None

    def apply_aide(self, spec: IdsSpec) -> None:
        for p in spec.watch + spec.exclude:
            if not _AIDE_PATH_RE.match(p):
                raise GuestStepError(
                    f"aide cannot watch {p!r} (blanks in the path)", pointer=f"{POINTER}/settings"
                )
        if self.s.command_path("aide") is None:
            manager = self._package_manager()
            if manager is None:
                raise GuestStepError(
                    "intrusion detection engine aide is not installed in the guest, and the guest "
                    "has no package manager to install it; use an image with aide, or engine "
                    "builtin (VM Persona's file integrity check)",
                    pointer=f"{POINTER}/engine",
                )
            for argv in package_commands(manager, "aide", None):
                self.s.run(
                    argv,
                    what=f"install aide: {' '.join(argv[:2])}",
                    pointer=f"{POINTER}/engine",
                    timeout=900,
                    env={"DEBIAN_FRONTEND": "noninteractive"},
                )
            self.s.forget_commands()
            if self.s.command_path("aide") is None:
                raise GuestStepError(
                    "aide is still missing after installing its package",
                    pointer=f"{POINTER}/engine",
                )
        self.s.write_files(
            [
                FileSpec(
                    AIDE_CONF, aide_conf(spec).encode(), mode="0600", pointer=f"{POINTER}/settings"
                )
            ],
            what="aide configuration",
        )
        self.s.run(
            ["mkdir", "-p", spec.database.rsplit("/", 1)[0] or "/"],
            what="aide database folder",
            pointer=f"{POINTER}/settings",
            quiet=True,
        )
        self.s.run(
            ["aide", f"--config={AIDE_CONF}", "--init"],
            what="aide --init",
            pointer=POINTER,
            timeout=CHECK_TIMEOUT,
        )
        self.s.run(
            ["mv", "-f", f"{spec.database}.new", spec.database],
            what="install the aide database",
            pointer=POINTER,
        )

    def apply_external(self, spec: IdsSpec) -> None:
        engine = spec.engine or ""
        probe = CONTROL.get(engine, "tripwire")
        present = (
            self.s.exists(probe)
            if probe.startswith("/")
            else self.s.command_path(probe) is not None
        )
        if not present:
            raise GuestStepError(
                f"intrusion detection engine {engine} is not installed in the guest ({probe} missing); "
                "VM Persona installs only aide and its own builtin engine",
                pointer=f"{POINTER}/engine",
            )
        extra = sorted(k for k in spec.settings if k != "schedule")
        if extra:
            raise GuestStepError(
                f"VM Persona cannot apply {engine} settings ({', '.join(extra)}); configure {engine} in the image",
                pointer=f"{POINTER}/settings",
            )
        if engine in CONTROL:
            self.s.run(
                [CONTROL[engine], "start"],
                what=f"start {engine}",
                pointer=f"{POINTER}/engine",
                timeout=120,
            )

    # ------------------------------------------------------------------ schedule

    def _cron_kind(self) -> str | None:
        if self.s.exists(CRON_D):
            return "cron.d"
        if self.s.command_path("crond"):
            return "crontab"
        return None

    def schedule(self, spec: IdsSpec, schedule: str | None) -> None:
        kind = self._cron_kind()
        if schedule is None:
            # nothing scheduled: remove what an earlier run may have left
            if kind == "cron.d":
                self.s.run(
                    ["rm", "-f", CRON_D_FILE], what="intrusion detection: no schedule", quiet=True
                )
            current = self.s.read_text(CRONTAB)
            if current is not None and BEGIN in current:
                self.s.write_files(
                    [
                        FileSpec(
                            CRONTAB,
                            crontab_updated(current, None).encode(),
                            mode="0600",
                            pointer=POINTER,
                        )
                    ],
                    what="crontab",
                )
                self._reload_crond()
            return
        pointer = f"{POINTER}/settings/schedule"
        if spec.engine in CONTROL:
            raise GuestStepError(
                f"{spec.engine} runs continuously; it takes no schedule", pointer=pointer
            )
        line = f"{schedule} {check_command(spec)}"
        if kind == "cron.d":
            self.s.write_files(
                [
                    FileSpec(
                        CRON_D_FILE,
                        f"# VM Persona intrusion detection\n{schedule} root {check_command(spec)}\n".encode(),
                        pointer=pointer,
                    )
                ],
                what="intrusion detection schedule",
            )
            return
        if kind is None:
            raise GuestStepError(
                "the guest has no cron daemon to run the scheduled check", pointer=pointer
            )
        self.boot.require("Running the scheduled check", pointer)
        current = self.s.read_text(CRONTAB) or ""
        self.s.run(["mkdir", "-p", CRONTABS], what="crontab folder", pointer=pointer, quiet=True)
        self.s.write_files(
            [
                FileSpec(
                    CRONTAB, crontab_updated(current, line).encode(), mode="0600", pointer=pointer
                )
            ],
            what="intrusion detection schedule",
        )
        self.boot.install(gf.CRON_SCRIPT, gf.CRON, pointer=pointer, what="cron boot script")
        self.s.run([gf.CRON_SCRIPT, "start"], what="start crond", pointer=pointer)
        self._reload_crond()

    def _reload_crond(self) -> None:
        # busybox crond re-reads the crontabs named in cron.update
        self.s.sh(
            '[ -d "$1" ] && echo root >>"$1/cron.update"; true',
            CRONTABS,
            what="reload crond",
            quiet=True,
        )

    # ------------------------------------------------------------------ verify

    def verify(self, ids: Mapping[str, Any] | None) -> list[CheckResult]:
        checks: list[CheckResult] = []

        def add(
            pointer: str, name: str, expected: str, actual: str, passed: bool, detail: str = ""
        ) -> None:
            checks.append(
                CheckResult("security", pointer, name, "guest", expected, actual, passed, detail)
            )

        try:
            spec = ids_spec(ids)
        except GuestStepError as exc:
            add(exc.pointer, "intrusion detection", "valid settings", "invalid", False, str(exc))
            return checks
        if not spec.enabled:
            return checks
        name = f"intrusion detection ({spec.engine})"
        if spec.engine == "builtin":
            paths = self.s.read_text(f"{gf.IDS_DIR}/paths")
            want_paths = "".join(f"{p}\n" for p in spec.watch)
            baseline = self.s.read_text(f"{gf.IDS_DIR}/baseline")
            expected = f"baseline of {', '.join(spec.watch)}; check finds no change"
            if baseline is None or paths != want_paths:
                add(
                    POINTER,
                    name,
                    expected,
                    "no baseline" if baseline is None else "baseline of other paths",
                    False,
                )
            else:
                r = self.s.run(
                    [gf.IDS_PROGRAM, "check"],
                    what="intrusion detection check",
                    check=False,
                    timeout=CHECK_TIMEOUT,
                )
                add(
                    POINTER,
                    name,
                    expected,
                    f"baseline of {len(baseline.splitlines())} file(s); check exit {r.exit_code}",
                    r.exit_code == 0,
                    tail(r.stdout_text + r.stderr_text, lines=6, chars=600),
                )
        elif spec.engine == "aide":
            if self.s.command_path("aide") is None:
                add(
                    POINTER,
                    name,
                    "aide installed, database initialised, check clean",
                    "aide not installed",
                    False,
                )
            else:
                r = self.s.run(
                    ["aide", f"--config={AIDE_CONF}", "--check"],
                    what="aide --check",
                    check=False,
                    timeout=CHECK_TIMEOUT,
                )
                add(
                    POINTER,
                    name,
                    "aide check clean (exit 0)",
                    f"exit {r.exit_code}",
                    r.exit_code == 0,
                    tail(r.stdout_text + r.stderr_text, lines=6, chars=600),
                )
        elif spec.engine in CONTROL:
            r = self.s.run(
                [CONTROL[spec.engine], "status"], what=f"{spec.engine} status", check=False
            )
            add(
                POINTER,
                name,
                f"{spec.engine} running",
                f"status exit {r.exit_code}",
                r.exit_code == 0,
                tail(r.stdout_text + r.stderr_text, lines=4, chars=400),
            )
        else:
            present = self.s.command_path("tripwire") is not None
            add(POINTER, name, "tripwire installed", "installed" if present else "missing", present)
        if spec.schedule:
            checks.append(self._verify_schedule(spec))
        return checks

    def _verify_schedule(self, spec: IdsSpec) -> CheckResult:
        pointer = f"{POINTER}/settings/schedule"
        name = "intrusion detection schedule"
        expected = f"'{spec.schedule}' runs the check"
        kind = self._cron_kind()
        if kind == "cron.d":
            text = self.s.read_text(CRON_D_FILE) or ""
            want = f"{spec.schedule} root {check_command(spec)}"
            ok = want in text.splitlines()
            return CheckResult(
                "security",
                pointer,
                name,
                "guest",
                expected,
                "in /etc/cron.d" if ok else "no cron.d entry",
                ok,
            )
        text = self.s.read_text(CRONTAB) or ""
        want = f"{spec.schedule} {check_command(spec)}"
        entry = want in text.splitlines()
        running = bool(process_ids(self.s, "crond"))
        problems = ([] if entry else ["no crontab entry"]) + (
            [] if running else ["crond is not running"]
        )
        actual = ("crontab entry" if entry else "no crontab entry") + (
            ", crond running" if running else ", crond stopped"
        )
        return CheckResult(
            "security", pointer, name, "guest", expected, actual, not problems, "; ".join(problems)
        )
