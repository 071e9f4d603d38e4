"""``GuestProvisioner``: the in-guest half of a clone, section by section."""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from operations_app.hypervisor import GuestOsInfo, Hypervisor, HypervisorError

from . import guestfiles as gf
from . import validation as v
from .boot import Boot
from .components import Components, file_specs
from .errors import GuestStepError
from .health import Health
from .ids import IntrusionDetection
from .monitoring import Monitoring
from .network import Network
from .permissions import permission_specs
from .results import CheckResult
from .security import Security, parse_group, parse_passwd
from .session import FileSpec, GuestSession
from .volumes import Volumes

HOSTS = "/etc/hosts"


def install_order(apps: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indexes of ``apps`` in install order: manifest order, each after its dependencies
    (which the validator requires to come earlier anyway)."""
    names: dict[str, int] = {}
    for i, app in enumerate(apps):
        if not isinstance(app, Mapping):
            raise GuestStepError(
                "an application must be an object", pointer=f"/application_manifest/{i}"
            )
        names[v.component_name(app.get("name"), f"/application_manifest/{i}/name")] = i
    order: list[int] = []
    state: dict[int, str] = {}

    def visit(i: int) -> None:
        if state.get(i) == "done":
            return
        if state.get(i) == "visiting":
            raise GuestStepError(
                "depends_on forms a cycle", pointer=f"/application_manifest/{i}/depends_on"
            )
        state[i] = "visiting"
        deps = apps[i].get("depends_on") or []
        if not isinstance(deps, list):
            raise GuestStepError(
                "depends_on must be a list", pointer=f"/application_manifest/{i}/depends_on"
            )
        for j, dep in enumerate(deps):
            if dep not in names:
                raise GuestStepError(
                    f"depends on {dep!r}, which is not in the manifest",
                    pointer=f"/application_manifest/{i}/depends_on/{j}",
                )
            visit(names[dep])
        state[i] = "done"
        order.append(i)

    for i in range(len(apps)):
        visit(i)
    return order


def hosts_updated(text: str, name: str) -> str:
    """/etc/hosts with ``127.0.1.1 <name>`` as the only 127.0.1.1 line."""
    short = name.split(".", 1)[0]
    line = f"127.0.1.1\t{name}" + (f" {short}" if short != name else "")
    kept = [ln for ln in text.splitlines() if not ln.split()[:1] == ["127.0.1.1"]]
    return "\n".join([*kept, line]) + "\n"


def base_image_matches(base_image_id: str, os_info: GuestOsInfo, image_marker: str | None) -> bool:
    """Whether the guest plausibly runs ``base_image_id``: the image's own marker file
    names it, or it is the OS id with or without its version (``debian-12``)."""
    if image_marker and image_marker.split()[:1] == [base_image_id]:
        return True
    os_id = (os_info.id or "").lower()
    if not os_id:
        return False
    version = (os_info.version_id or "").lower()
    wanted = base_image_id.lower()
    candidates = {os_id}
    if version:
        candidates |= {
            f"{os_id}-{version}",
            f"{os_id}{version}",
            f"{os_id}-{version.split('.')[0]}",
        }
    return wanted in candidates


class GuestProvisioner:
    """Installs and configures in a running guest what a VPPD asks for, through the
    guest agent only, and verifies it item by item (see the package docstring)."""

    def __init__(
        self,
        hv: Hypervisor,
        domain: str,
        *,
        log: Callable[[str], None] = lambda m: None,
        heartbeat: Callable[[], None] = lambda: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.hv = hv
        self.domain = domain
        self.session = GuestSession(
            hv.agent, domain, log=log, heartbeat=heartbeat, cancelled=cancelled
        )
        self.boot = Boot(self.session)
        self.components = Components(self.session)
        self.volumes = Volumes(self.session, self.boot)
        self.network = Network(self.session, self.boot)
        self.security = Security(self.session)
        self.ids = IntrusionDetection(self.session, self.boot)
        self.monitoring = Monitoring(self.session, self.boot, self.components)
        self.health = Health(self.session)

    # ------------------------------------------------------------------ readiness

    def wait_ready(self, timeout: float = 120) -> GuestOsInfo:
        """Wait for the agent, then (when our boot scripts are installed) for the end of
        the boot scripts; returns what the guest says about its OS."""
        deadline = time.monotonic() + timeout
        s = self.session
        try:
            waited = self.hv.agent.wait_for_agent(self.domain, timeout=timeout)
        except HypervisorError as exc:
            raise GuestStepError(f"the guest agent did not answer: {exc}") from exc
        s.beat()
        s.log(f"guest agent answered after {waited:.1f} s")
        if s.exists(gf.READY_SCRIPT):
            while not s.exists(gf.BOOT_MARKER):
                s.check_cancelled()
                if time.monotonic() >= deadline:
                    raise GuestStepError(
                        f"the guest's boot scripts did not finish within {timeout:g} s"
                    )
                time.sleep(0.5)
            s.log("boot scripts finished")
        try:
            info = self.hv.agent.os_info(self.domain)
        except HypervisorError as exc:
            raise GuestStepError(f"the guest agent cannot report the OS: {exc}") from exc
        s.beat()
        return info

    def boot_id(self) -> str:
        return (self.session.read_text("/proc/sys/kernel/random/boot_id") or "").strip()

    def reboot(self, timeout: float = 180) -> GuestOsInfo:
        """Reboot through the agent and wait until the new boot is ready."""
        before = self.boot_id()
        try:
            self.hv.agent.shutdown(self.domain, reboot=True)
        except HypervisorError as exc:
            raise GuestStepError(f"the guest did not accept the reboot: {exc}") from exc
        self.session.log("reboot requested")
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(1.0)
            self.session.beat()
            if time.monotonic() >= deadline:
                raise GuestStepError(f"the guest did not come back within {timeout:g} s")
            if not self.hv.agent.ping(self.domain, timeout=2):
                continue
            try:
                now = self.boot_id()
            except GuestStepError:
                continue
            if now and now != before:
                break
        return self.wait_ready(max(1.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ provisioning

    def set_hostname(self, name: str) -> None:
        """Set the host name now and in /etc/hostname (read at boot), plus /etc/hosts."""
        name = v.hostname(name)
        s = self.session
        hosts = s.read_text(HOSTS, what="read /etc/hosts") or "127.0.0.1\tlocalhost\n"
        s.write_files(
            [
                FileSpec("/etc/hostname", f"{name}\n".encode()),
                FileSpec(HOSTS, hosts_updated(hosts, name).encode()),
            ],
            what=f"host name {name}",
        )
        s.run(["hostname", name], what=f"hostname {name}")
        self.ids.refresh_baseline()

    def install_applications(self, apps: Sequence[Mapping[str, Any]]) -> None:
        """Each application in manifest order (after its dependencies): install, then
        its configuration files."""
        self._install_components(apps, "/application_manifest", "app")

    def install_runtime(self, runtime: Sequence[Mapping[str, Any]]) -> None:
        """Each runtime with an ``install`` (runtimes without one are in the image)."""
        self._install_components(runtime, "/runtime_environment", "runtime")

    def _install_components(self, items: Sequence[Mapping[str, Any]], base: str, kind: str) -> None:
        order = install_order(items) if kind == "app" else list(range(len(items)))
        s = self.session
        for i in order:
            item = items[i]
            here = f"{base}/{i}"
            s.check_cancelled(here)
            if not isinstance(item, Mapping):
                raise GuestStepError(f"a {kind} must be an object", pointer=here)
            name = v.component_name(item.get("name"), f"{here}/name")
            label = f"{kind} {name} {v.version(item.get('version'), f'{here}/version')}"
            install = item.get("install")
            if install is not None:
                s.log(
                    f"{label}: installing ({install.get('method') if isinstance(install, Mapping) else '?'})"
                )
                self.components.install(install, pointer=f"{here}/install", label=label)
            elif kind == "app":
                raise GuestStepError("install is required", pointer=f"{here}/install")
            else:
                s.log(f"{label}: nothing to install (expected in the image)")
            config = item.get("config")
            if config:
                s.write_files(file_specs(config, f"{here}/config"), what=f"{label}: configuration")
        if items:
            self.ids.refresh_baseline()

    def setup_volumes(
        self, volumes: Sequence[Mapping[str, Any]], devices: Mapping[str, str]
    ) -> None:
        """Format (only a disk with no file system), mount and persist each data volume."""
        self.volumes.setup(volumes, devices)
        if volumes:
            self.ids.refresh_baseline()

    def configure_network(
        self, interfaces: Sequence[Mapping[str, Any]], macs: Sequence[str]
    ) -> None:
        """Name, address (static or DHCP), default route and DNS of each interface, found
        by ``macs[i]``; applied now and by /etc/init.d/S10network at every boot."""
        self.network.configure(interfaces, macs)
        if interfaces:
            self.ids.refresh_baseline()

    def prepare_accounts(self, security: Mapping[str, Any]) -> None:
        """The profile's groups and users, before the applications: files an application
        installs may belong to them. ``apply_security`` completes them afterwards
        (supplementary groups a package creates)."""
        security = security or {}
        self.security.apply_groups(security.get("groups") or [])
        self.security.apply_users(security.get("users") or [], later_groups=True)

    def apply_security(self, security: Mapping[str, Any]) -> None:
        """Groups, users (SSH keys, sudo rules), permissions, then intrusion detection."""
        security = security or {}
        self.security.apply_groups(security.get("groups") or [])
        self.security.apply_users(security.get("users") or [])
        self.security.apply_permissions(security.get("permissions") or [])
        self.session.check_cancelled("/security_profile/intrusion_detection")
        self.ids.apply(security.get("intrusion_detection"))

    def deploy_monitoring(self, agents: Sequence[Mapping[str, Any]]) -> None:
        """Install each agent, write /etc/<name>/config.json, start it now and at boot."""
        self.monitoring.deploy(agents)
        if agents:
            self.ids.refresh_baseline()

    # ------------------------------------------------------------------ verification

    def verify(
        self,
        document: Mapping[str, Any],
        *,
        devices: Mapping[str, str],
        macs: Sequence[str],
        hostname: str | None = None,
        os_release: Mapping[str, str] | None = None,
    ) -> list[CheckResult]:
        """One check per VPPD element that can be seen from inside the guest. Never raises
        for a failed check; an element whose check cannot run fails with the reason."""
        checks: list[CheckResult] = []
        sections: list[tuple[str, str, Callable[[], list[CheckResult]]]] = [
            (
                "base_image",
                "/base_image_id",
                lambda: self._verify_base(document, hostname, os_release),
            ),
            (
                "runtime",
                "/runtime_environment",
                lambda: self._verify_components(
                    document.get("runtime_environment") or [],
                    "/runtime_environment",
                    "runtime",
                    "runtime",
                ),
            ),
            (
                "applications",
                "/application_manifest",
                lambda: self._verify_components(
                    document.get("application_manifest") or [],
                    "/application_manifest",
                    "app",
                    "applications",
                    document,
                ),
            ),
            (
                "data_volumes",
                "/data_volume_definitions",
                lambda: self.volumes.verify(document.get("data_volume_definitions") or [], devices),
            ),
            (
                "network",
                "/network_configuration/interfaces",
                lambda: self.network.verify(
                    (document.get("network_configuration") or {}).get("interfaces") or [], macs
                ),
            ),
            (
                "security",
                "/security_profile",
                lambda: self.security.verify(document.get("security_profile") or {}),
            ),
            (
                "security",
                "/security_profile/intrusion_detection",
                lambda: self.ids.verify(
                    (document.get("security_profile") or {}).get("intrusion_detection")
                ),
            ),
            (
                "monitoring",
                "/monitoring_agents",
                lambda: self.monitoring.verify(document.get("monitoring_agents") or []),
            ),
        ]
        for section, pointer, run in sections:
            try:
                checks.extend(run())
            except (GuestStepError, HypervisorError) as exc:
                checks.append(
                    CheckResult(
                        section,
                        pointer,
                        f"{section} checks",
                        "guest",
                        "checks that run",
                        "could not check",
                        False,
                        str(exc),
                    )
                )
        for check in checks:
            self.session.log(str(check))
        return checks

    def health_round(self, document: Mapping[str, Any]) -> list[CheckResult]:
        """One round of the health watch (see ``health``): the agent answers, the
        applications' verify, the document's ``health_watch.checks``. Never raises for a
        failed probe."""
        return self.health.round(document)

    def _verify_base(
        self,
        document: Mapping[str, Any],
        hostname: str | None,
        os_release: Mapping[str, str] | None,
    ) -> list[CheckResult]:
        checks = []
        try:
            info = self.hv.agent.os_info(self.domain)
        except HypervisorError as exc:
            return [
                CheckResult(
                    "base_image",
                    "/base_image_id",
                    "operating system",
                    "guest",
                    "an answer",
                    "no answer",
                    False,
                    str(exc),
                )
            ]
        image = document.get("base_image_id", "")
        shown = " ".join(filter(None, [info.id, info.version_id])) or "unknown"
        actual = f"{info.pretty_name or info.name or '?'} (id {shown})"
        if os_release:
            wrong = [
                f"{key} is {getattr(info, key.lower(), None)!r}"
                for key, want in os_release.items()
                if key.lower() in ("id", "version_id", "name", "pretty_name")
                and getattr(info, key.lower(), None) != want
            ]
            expected = ", ".join(f"{k}={w}" for k, w in os_release.items())
            checks.append(
                CheckResult(
                    "base_image",
                    "/base_image_id",
                    f"base image {image}",
                    "guest",
                    expected,
                    actual,
                    not wrong,
                    "; ".join(wrong),
                )
            )
        else:
            marker = self.session.read_text("/etc/vmpersona/image")
            ok = base_image_matches(image, info, marker)
            detail = (
                ""
                if ok
                else "the guest's OS does not name this image; pass os_release expectations from the image catalogue to compare"
            )
            checks.append(
                CheckResult(
                    "base_image",
                    "/base_image_id",
                    f"base image {image}",
                    "guest",
                    f"an OS that is {image}",
                    actual + (f"; image {marker.split()[0]}" if marker else ""),
                    ok,
                    detail,
                )
            )
        if hostname:
            have = (self.session.read_text("/etc/hostname") or "").strip()
            now = self.session.run(
                ["hostname"], what="hostname", check=False, quiet=True
            ).stdout_text.strip()
            checks.append(
                CheckResult(
                    "base_image",
                    "/name",
                    "host name",
                    "guest",
                    hostname,
                    f"{now} (/etc/hostname: {have or 'missing'})",
                    have == hostname == now,
                )
            )
        return checks

    def _verify_components(
        self,
        items: Sequence[Mapping[str, Any]],
        base: str,
        kind: str,
        section: str,
        document: Mapping[str, Any] | None = None,
    ) -> list[CheckResult]:
        checks = []
        for i, item in enumerate(items):
            here = f"{base}/{i}"
            label = f"{kind} {item.get('name')} {item.get('version')}"
            verify = item.get("verify")
            if isinstance(verify, Mapping):
                what = "verify command" if "command" in verify else "process"
                checks.append(
                    self.components.verify(
                        verify, pointer=f"{here}/verify", name=f"{label} {what}", section=section
                    )
                )
            if document is not None and item.get("config"):
                checks.extend(
                    self._verify_config(item["config"], f"{here}/config", label, document)
                )
        return checks

    def _verify_config(
        self,
        config: Sequence[Mapping[str, Any]],
        pointer: str,
        label: str,
        document: Mapping[str, Any],
    ) -> list[CheckResult]:
        """Each configuration file: content, and owner/group/mode as the file entry sets
        them unless a security permission (applied later) overrides them."""
        checks = []
        try:
            specs = file_specs(config, pointer)
        except GuestStepError as exc:
            return [
                CheckResult(
                    "applications",
                    exc.pointer,
                    f"{label} configuration",
                    "guest",
                    "valid",
                    "invalid",
                    False,
                    str(exc),
                )
            ]
        try:
            perms = permission_specs(
                (document.get("security_profile") or {}).get("permissions") or []
            )
        except GuestStepError:
            perms = []
        passwd = parse_passwd(self.session.read_text("/etc/passwd") or "")
        groups = parse_group(self.session.read_text("/etc/group") or "")
        uids = {a.name: a.uid for a in passwd.values()}
        gids = {g.name: g.gid for g in groups.values()}
        for spec in specs:
            owner, group, mode = spec.owner, spec.group, spec.mode
            for perm in perms:
                if perm.path == spec.path or (
                    perm.recursive and spec.path.startswith(perm.path.rstrip("/") + "/")
                ):
                    owner = perm.owner or owner
                    group = perm.group or group
                    mode = perm.mode or mode
            if group is None:
                account = (
                    passwd.get(owner)
                    if not owner.isdigit()
                    else next((a for a in passwd.values() if a.uid == int(owner)), None)
                )
                group = str(account.gid) if account else None
            data = self.session.read(spec.path)
            st = self.security.stat(spec.path)
            expected = (
                f"{len(spec.data)} bytes (sha256 {spec.sha256[:12]}), owner {owner}"
                + (f":{group}" if group else "")
                + f", mode {mode}"
            )
            if data is None or st is None:
                checks.append(
                    CheckResult(
                        "applications",
                        spec.pointer,
                        f"{label} config {spec.path}",
                        "guest",
                        expected,
                        "missing",
                        False,
                    )
                )
                continue
            digest = hashlib.sha256(data).hexdigest()
            problems = []
            if data != spec.data:
                problems.append("content differs")
            uid_, gid_, mode_, _kind = st
            owner_ok = int(owner) == uid_ if owner.isdigit() else uids.get(owner) == uid_
            if not owner_ok:
                problems.append(f"owner uid {uid_}")
            if group is not None and not (
                int(group) == gid_ if group.isdigit() else gids.get(group) == gid_
            ):
                problems.append(f"group gid {gid_}")
            if int(mode_, 8) != int(mode, 8):
                problems.append(f"mode {mode_}")
            actual = (
                f"{len(data)} bytes (sha256 {digest[:12]}), uid {uid_}:gid {gid_}, mode {mode_}"
            )
            checks.append(
                CheckResult(
                    "applications",
                    spec.pointer,
                    f"{label} config {posixpath.basename(spec.path)}",
                    "guest",
                    expected,
                    actual,
                    not problems,
                    "; ".join(problems),
                )
            )
        return checks
