"""Groups, users (SSH keys, sudo rules) and file permissions inside the guest.

Accounts are here; file ownership and modes are ``permissions.Permissions``, which
``Security`` applies and verifies with them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import validation as v
from .errors import GuestStepError
from .permissions import Permissions
from .results import CheckResult
from .session import FileSpec, GuestSession

SUDOERS_DIR = "/etc/sudoers.d"
_ENSURE_DIR = 'mkdir -p "$1" && chown "$2" "$1" && chmod "$3" "$1"'
_STAT = 'stat -c "%u:%g:%a:%F" "$1"'
_SUDOERS_INCLUDES = (
    r'grep -qsE "^[#@]includedir[[:space:]]+/etc/sudoers.d[[:space:]]*$" /etc/sudoers'
)


@dataclass
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass
class Group:
    name: str
    gid: int
    members: list[str] = field(default_factory=list)


def parse_passwd(text: str) -> dict[str, Account]:
    out = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit() and parts[3].isdigit():
            out[parts[0]] = Account(parts[0], int(parts[2]), int(parts[3]), parts[5], parts[6])
    return out


def parse_group(text: str) -> dict[str, Group]:
    out = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            members = [m for m in (parts[3].split(",") if len(parts) >= 4 else []) if m]
            out[parts[0]] = Group(parts[0], int(parts[2]), members)
    return out


def memberships(user: str, account: Account | None, groups: Mapping[str, Group]) -> set[str]:
    """Every group ``user`` is in: listed as a member, or as its primary group."""
    out = {g.name for g in groups.values() if user in g.members}
    if account is not None:
        out |= {g.name for g in groups.values() if g.gid == account.gid}
    return out


def supplementary(user: str, groups: Mapping[str, Group]) -> set[str]:
    return {g.name for g in groups.values() if user in g.members}


def sudo_rule(name: str, sudo: Any) -> str | None:
    if sudo is True:
        return f"{name} ALL=(ALL:ALL) ALL\n"
    if sudo == "nopasswd":
        return f"{name} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    return None


def authorized_keys(keys: Sequence[str]) -> str:
    return "".join(f"{k}\n" for k in keys)


@dataclass
class UserSpec:
    index: int
    name: str
    uid: int | None
    groups: list[str] | None  # None: not given, leave memberships alone
    shell: str
    home: str
    keys: list[str]
    sudo: Any

    @property
    def pointer(self) -> str:
        return f"/security_profile/users/{self.index}"


def user_specs(users: Sequence[Mapping[str, Any]]) -> list[UserSpec]:
    specs = []
    for i, user in enumerate(users):
        here = f"/security_profile/users/{i}"
        if not isinstance(user, Mapping):
            raise GuestStepError("a user must be an object", pointer=here)
        name = v.posix_name(user.get("name"), f"{here}/name")
        groups = user.get("groups")
        if groups is not None:
            if not isinstance(groups, list):
                raise GuestStepError("groups must be a list", pointer=f"{here}/groups")
            groups = [v.posix_name(g, f"{here}/groups/{j}") for j, g in enumerate(groups)]
        keys = user.get("ssh_authorized_keys") or []
        if not isinstance(keys, list):
            raise GuestStepError(
                "ssh_authorized_keys must be a list", pointer=f"{here}/ssh_authorized_keys"
            )
        sudo = user.get("sudo", False)
        if sudo not in (False, True, "nopasswd"):
            raise GuestStepError('sudo must be false, true or "nopasswd"', pointer=f"{here}/sudo")
        specs.append(
            UserSpec(
                index=i,
                name=name,
                uid=None if user.get("uid") is None else v.uid(user["uid"], f"{here}/uid"),
                groups=groups,
                shell=v.absolute_path(user.get("shell", "/bin/sh"), f"{here}/shell"),
                home=v.file_path(user.get("home", f"/home/{name}"), f"{here}/home"),
                keys=[v.ssh_key(k, f"{here}/ssh_authorized_keys/{j}") for j, k in enumerate(keys)],
                sudo=sudo,
            )
        )
    return specs


class Security:
    """Groups, users and sudo rules; file permissions through ``Permissions``."""

    def __init__(self, session: GuestSession) -> None:
        self.s = session
        self.permissions = Permissions(session)

    def accounts(self) -> tuple[dict[str, Account], dict[str, Group]]:
        passwd = self.s.read_text("/etc/passwd", what="read /etc/passwd") or ""
        group = self.s.read_text("/etc/group", what="read /etc/group") or ""
        return parse_passwd(passwd), parse_group(group)

    def _need(self, tool: str, pointer: str) -> None:
        if self.s.command_path(tool) is None:
            raise GuestStepError(f"the guest has no {tool} to manage accounts", pointer=pointer)

    # ------------------------------------------------------------------ groups

    def apply_groups(self, groups: Sequence[Mapping[str, Any]]) -> None:
        _, existing = self.accounts()
        for i, group in enumerate(groups):
            here = f"/security_profile/groups/{i}"
            self.s.check_cancelled(here)
            if not isinstance(group, Mapping):
                raise GuestStepError("a group must be an object", pointer=here)
            name = v.posix_name(group.get("name"), f"{here}/name")
            gid = None if group.get("gid") is None else v.uid(group["gid"], f"{here}/gid")
            current = existing.get(name)
            if current is None:
                self._need("groupadd", here)
                self.s.run(
                    ["groupadd", *(["-g", str(gid)] if gid is not None else []), name],
                    what=f"group {name}: create",
                    pointer=here,
                )
            elif gid is not None and current.gid != gid:
                self.s.run(
                    ["groupmod", "-g", str(gid), name],
                    what=f"group {name}: change gid {current.gid} -> {gid}",
                    pointer=f"{here}/gid",
                )
            else:
                self.s.log(f"group {name}: exists with gid {current.gid}")

    # ------------------------------------------------------------------ users

    def apply_users(
        self, users: Sequence[Mapping[str, Any]], *, later_groups: bool = False
    ) -> list[str]:
        """Create or update the users; returns warnings for the log.

        With ``later_groups`` (accounts made before the applications, so that their files
        can belong to them) a supplementary group that does not exist yet — one a package
        creates — is left out for now; the security step adds it."""
        specs = user_specs(users)
        warnings: list[str] = []
        sudo_checked: bool | None = None
        for spec in specs:
            self.s.check_cancelled(spec.pointer)
            passwd, groups = self.accounts()
            for j, g in enumerate(spec.groups or []):
                if g not in groups and not later_groups:
                    raise GuestStepError(
                        f"user {spec.name}: group {g} does not exist in the guest (define it under groups)",
                        pointer=f"{spec.pointer}/groups/{j}",
                    )
            if later_groups and spec.groups:
                waiting = [g for g in spec.groups if g not in groups]
                if waiting:
                    self.s.log(
                        f"user {spec.name}: groups {', '.join(waiting)} do not exist yet; "
                        "added after the applications are installed"
                    )
                    spec = replace(spec, groups=[g for g in spec.groups if g in groups])
            current = passwd.get(spec.name)
            if current is None:
                self._need("useradd", spec.pointer)
                argv = ["useradd", "-m", "-d", spec.home, "-s", spec.shell]
                if spec.uid is not None:
                    argv += ["-u", str(spec.uid)]
                argv += ["-g", spec.name] if spec.name in groups else ["-U"]
                if spec.groups:
                    argv += ["-G", ",".join(spec.groups)]
                self.s.run(
                    [*argv, spec.name], what=f"user {spec.name}: create", pointer=spec.pointer
                )
            else:
                argv = []
                if spec.uid is not None and current.uid != spec.uid:
                    argv += ["-u", str(spec.uid)]
                if current.home != spec.home:
                    argv += ["-d", spec.home]
                if current.shell != spec.shell:
                    argv += ["-s", spec.shell]
                if spec.groups is not None and supplementary(spec.name, groups) != set(spec.groups):
                    argv += ["-G", ",".join(spec.groups)]
                if argv:
                    self._need("usermod", spec.pointer)
                    self.s.run(
                        ["usermod", *argv, spec.name],
                        what=f"user {spec.name}: update",
                        pointer=spec.pointer,
                    )
                else:
                    self.s.log(f"user {spec.name}: up to date (uid {current.uid})")
            passwd, _ = self.accounts()
            account = passwd.get(spec.name)
            if account is None:
                raise GuestStepError(
                    f"user {spec.name} is still missing after useradd", pointer=spec.pointer
                )
            owner = f"{account.uid}:{account.gid}"
            if not self.s.exists(spec.home):
                self.s.sh(
                    _ENSURE_DIR,
                    spec.home,
                    owner,
                    "0755",
                    what=f"user {spec.name}: home {spec.home}",
                    pointer=f"{spec.pointer}/home",
                )
            if spec.keys:
                ssh_dir = posixpath.join(spec.home, ".ssh")
                self.s.sh(
                    _ENSURE_DIR,
                    ssh_dir,
                    owner,
                    "0700",
                    what=f"user {spec.name}: {ssh_dir}",
                    pointer=f"{spec.pointer}/ssh_authorized_keys",
                )
                self.s.write_files(
                    [
                        FileSpec(
                            posixpath.join(ssh_dir, "authorized_keys"),
                            authorized_keys(spec.keys).encode(),
                            mode="0600",
                            owner=str(account.uid),
                            group=str(account.gid),
                            pointer=f"{spec.pointer}/ssh_authorized_keys",
                        )
                    ],
                    what=f"user {spec.name}: {len(spec.keys)} SSH key(s)",
                )
            rule = sudo_rule(spec.name, spec.sudo)
            sudoers = posixpath.join(SUDOERS_DIR, spec.name)
            if rule is not None:
                self.s.sh(
                    'mkdir -p "$1" && chmod 0750 "$1"',
                    SUDOERS_DIR,
                    what="sudoers folder",
                    pointer=f"{spec.pointer}/sudo",
                    quiet=True,
                )
                self.s.write_files(
                    [
                        FileSpec(
                            sudoers,
                            rule.encode(),
                            mode="0440",
                            owner="root",
                            group="0",
                            pointer=f"{spec.pointer}/sudo",
                        )
                    ],
                    what=f"user {spec.name}: sudo rule",
                )
                if self.s.command_path("visudo"):
                    self.s.run(
                        ["visudo", "-c", "-f", sudoers],
                        what=f"user {spec.name}: check the sudo rule",
                        pointer=f"{spec.pointer}/sudo",
                    )
                if sudo_checked is None:
                    sudo_checked = self.s.command_path("sudo") is not None
                    if not sudo_checked:
                        warnings.append(
                            "sudo is not installed in the guest: the sudo rules take effect once it is"
                        )
            else:
                self.s.run(
                    ["rm", "-f", sudoers],
                    what=f"user {spec.name}: no sudo rule",
                    pointer=f"{spec.pointer}/sudo",
                    quiet=True,
                )
        for w in warnings:
            self.s.log(f"warning: {w}")
        return warnings

    def apply_permissions(self, permissions: Sequence[Mapping[str, Any]]) -> None:
        self.permissions.apply(permissions)

    # ------------------------------------------------------------------ verify

    def verify(self, security: Mapping[str, Any]) -> list[CheckResult]:
        checks: list[CheckResult] = []

        def add(
            pointer: str, name: str, expected: str, actual: str, passed: bool, detail: str = ""
        ) -> None:
            checks.append(
                CheckResult("security", pointer, name, "guest", expected, actual, passed, detail)
            )

        passwd, groups = self.accounts()
        uids = {a.name: a.uid for a in passwd.values()}
        gids = {g.name: g.gid for g in groups.values()}
        for i, group in enumerate(security.get("groups") or []):
            here = f"/security_profile/groups/{i}"
            name = group.get("name")
            have = groups.get(name)
            want = f"group {name}" + (
                f" gid {group['gid']}" if group.get("gid") is not None else ""
            )
            if have is None:
                add(here, f"group {name}", want, "missing", False)
            else:
                add(
                    here,
                    f"group {name}",
                    want,
                    f"group {name} gid {have.gid}",
                    group.get("gid") is None or have.gid == group["gid"],
                )
        try:
            users = user_specs(security.get("users") or [])
        except GuestStepError as exc:
            add(exc.pointer, "users", "valid", "invalid", False, str(exc))
            users = []
        sudo_present: bool | None = None
        for spec in users:
            account = passwd.get(spec.name)
            want = f"uid {spec.uid if spec.uid is not None else 'any'}, home {spec.home}, shell {spec.shell}"
            if account is None:
                add(spec.pointer, f"user {spec.name}", want, "missing", False)
                continue
            problems = []
            if spec.uid is not None and account.uid != spec.uid:
                problems.append(f"uid {account.uid}")
            if account.home != spec.home:
                problems.append(f"home {account.home}")
            if account.shell != spec.shell:
                problems.append(f"shell {account.shell}")
            if not self.s.exists(spec.home):
                problems.append(f"{spec.home} does not exist")
            add(
                spec.pointer,
                f"user {spec.name}",
                want,
                f"uid {account.uid}, home {account.home}, shell {account.shell}",
                not problems,
                "; ".join(problems),
            )
            if spec.groups is not None:
                member = memberships(spec.name, account, groups)
                missing = [g for g in spec.groups if g not in member]
                add(
                    f"{spec.pointer}/groups",
                    f"user {spec.name} groups",
                    ", ".join(spec.groups) or "none",
                    ", ".join(sorted(member)) or "none",
                    not missing,
                    f"not in {', '.join(missing)}" if missing else "",
                )
            if spec.keys:
                path = posixpath.join(spec.home, ".ssh", "authorized_keys")
                content = self.s.read_text(path)
                st = self.stat(path)
                want_keys = authorized_keys(spec.keys)
                problems = []
                if content is None:
                    problems.append("file missing")
                else:
                    have_keys = [
                        ln.strip()
                        for ln in content.splitlines()
                        if ln.strip() and not ln.startswith("#")
                    ]
                    absent = [
                        k.split()[-1] if len(k.split()) > 2 else k[:40]
                        for k in spec.keys
                        if k not in have_keys
                    ]
                    if absent:
                        problems.append(f"missing key(s): {', '.join(absent)}")
                if st is not None:
                    uid_, gid_, mode_, _ = st
                    if uid_ != account.uid:
                        problems.append(f"owned by uid {uid_}")
                    if int(mode_, 8) & 0o077:
                        problems.append(f"mode {mode_} lets others read it")
                add(
                    f"{spec.pointer}/ssh_authorized_keys",
                    f"user {spec.name} SSH keys",
                    f"{len(spec.keys)} key(s) in {path}, mode 0600, owned by {spec.name}",
                    "missing"
                    if content is None
                    else f"{len(want_keys.splitlines())} expected, file has {len(content.splitlines())} line(s)"
                    + (f", mode {st[2]}" if st else ""),
                    not problems,
                    "; ".join(problems),
                )
            rule = sudo_rule(spec.name, spec.sudo)
            path = posixpath.join(SUDOERS_DIR, spec.name)
            content = self.s.read_text(path)
            if rule is None:
                if content is not None:
                    add(
                        f"{spec.pointer}/sudo",
                        f"user {spec.name} sudo",
                        "no sudo rule",
                        f"{path} exists",
                        False,
                    )
                continue
            if sudo_present is None:
                sudo_present = self.s.command_path("sudo") is not None
            st = self.stat(path)
            problems = []
            if content is None:
                problems.append(f"{path} missing")
            elif content != rule:
                problems.append(f"{path} says {content.strip()!r}")
            if st is not None and (st[0] != 0 or int(st[2], 8) != 0o440):
                problems.append(f"mode {st[2]}, uid {st[0]}")
            detail = "; ".join(problems)
            if not problems and not sudo_present:
                detail = "sudo itself is not installed in this guest; the rule applies once it is"
            elif not problems and self.s.exists("/etc/sudoers"):
                if (
                    self.s.sh(
                        _SUDOERS_INCLUDES, what="sudoers includes", check=False, quiet=True
                    ).exit_code
                    != 0
                ):
                    problems.append("/etc/sudoers does not include /etc/sudoers.d")
                    detail = problems[-1]
            add(
                f"{spec.pointer}/sudo",
                f"user {spec.name} sudo",
                rule.strip() + f" in {path} (0440)",
                (content or "missing").strip() + (f" ({st[2]})" if st else ""),
                not problems,
                detail,
            )
        checks.extend(self.permissions.verify(security.get("permissions") or [], uids, gids))
        return checks

    def stat(self, path: str) -> tuple[int, int, str, str] | None:
        r = self.s.sh(_STAT, path, what=f"stat {path}", check=False, quiet=True)
        parts = r.stdout_text.strip().split(":", 3)
        if r.exit_code != 0 or len(parts) != 4:
            return None
        return int(parts[0]), int(parts[1]), parts[2], parts[3]
