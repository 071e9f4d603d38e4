"""File ownership and modes inside the guest (``/security_profile/permissions``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import validation as v
from .errors import GuestStepError
from .results import CheckResult
from .session import GuestSession

_STAT_TREE = 'find "$1" -exec stat -c "%u:%g:%a:%n" {} +'


@dataclass
class PermissionSpec:
    index: int
    path: str
    owner: str | None
    group: str | None
    mode: str | None
    recursive: bool

    @property
    def pointer(self) -> str:
        return f"/security_profile/permissions/{self.index}"


def permission_specs(permissions: Sequence[Mapping[str, Any]]) -> list[PermissionSpec]:
    specs = []
    for i, perm in enumerate(permissions):
        here = f"/security_profile/permissions/{i}"
        if not isinstance(perm, Mapping):
            raise GuestStepError("a permission must be an object", pointer=here)
        spec = PermissionSpec(
            index=i,
            path=v.file_path(perm.get("path"), f"{here}/path"),
            owner=None if perm.get("owner") is None else v.owner(perm["owner"], f"{here}/owner"),
            group=None if perm.get("group") is None else v.owner(perm["group"], f"{here}/group"),
            mode=None if perm.get("mode") is None else v.mode(perm["mode"], f"{here}/mode"),
            recursive=bool(perm.get("recursive", False)),
        )
        if not (spec.owner or spec.group or spec.mode):
            raise GuestStepError("give at least one of owner, group or mode", pointer=here)
        specs.append(spec)
    return specs


def ids_match(want: str, have_id: int, names: Mapping[str, int]) -> bool:
    """An owner or group given as a name or a number, against a numeric id."""
    if want.isdigit():
        return int(want) == have_id
    return names.get(want) == have_id


class Permissions:
    def __init__(self, session: GuestSession) -> None:
        self.s = session

    def apply(self, permissions: Sequence[Mapping[str, Any]]) -> None:
        for spec in permission_specs(permissions):
            self.s.check_cancelled(spec.pointer)
            if not self.s.exists(spec.path):
                raise GuestStepError(
                    f"{spec.path} does not exist in the guest", pointer=f"{spec.pointer}/path"
                )
            flag = ["-R"] if spec.recursive else []
            if spec.owner:
                who = f"{spec.owner}:{spec.group}" if spec.group else spec.owner
                self.s.run(
                    ["chown", *flag, who, spec.path],
                    what=f"chown {who} {spec.path}",
                    pointer=f"{spec.pointer}/owner",
                )
            elif spec.group:
                self.s.run(
                    ["chgrp", *flag, spec.group, spec.path],
                    what=f"chgrp {spec.group} {spec.path}",
                    pointer=f"{spec.pointer}/group",
                )
            if spec.mode:
                self.s.run(
                    ["chmod", *flag, spec.mode, spec.path],
                    what=f"chmod {spec.mode} {spec.path}",
                    pointer=f"{spec.pointer}/mode",
                )

    def verify(
        self,
        permissions: Sequence[Mapping[str, Any]],
        uids: Mapping[str, int],
        gids: Mapping[str, int],
    ) -> list[CheckResult]:
        """One check per permission; ``uids`` and ``gids`` map the guest's names to ids."""
        try:
            specs = permission_specs(permissions)
        except GuestStepError as exc:
            return [
                CheckResult(
                    "security",
                    exc.pointer,
                    "permissions",
                    "guest",
                    "valid",
                    "invalid",
                    False,
                    str(exc),
                )
            ]
        return [self._verify_one(spec, uids, gids) for spec in specs]

    def _verify_one(
        self, spec: PermissionSpec, uids: Mapping[str, int], gids: Mapping[str, int]
    ) -> CheckResult:
        bits = []
        if spec.owner:
            bits.append(f"owner {spec.owner}")
        if spec.group:
            bits.append(f"group {spec.group}")
        if spec.mode:
            bits.append(f"mode {spec.mode}")
        want = ", ".join(bits) + (" (recursive)" if spec.recursive else "")
        name = f"permissions of {spec.path}"
        script = _STAT_TREE if spec.recursive else 'stat -c "%u:%g:%a:%n" "$1"'
        r = self.s.sh(
            script, spec.path, what=f"stat {spec.path}", check=False, quiet=True, timeout=120
        )
        entries = []
        for line in r.stdout_text.splitlines():
            parts = line.split(":", 3)
            if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
                entries.append((int(parts[0]), int(parts[1]), parts[2], parts[3]))
        if not entries:
            return CheckResult(
                "security",
                spec.pointer,
                name,
                "guest",
                want,
                "missing",
                False,
                r.stderr_text.strip()[-200:],
            )
        wrong = []
        for uid_, gid_, mode_, path in entries:
            bad = []
            if spec.owner and not ids_match(spec.owner, uid_, uids):
                bad.append(f"uid {uid_}")
            if spec.group and not ids_match(spec.group, gid_, gids):
                bad.append(f"gid {gid_}")
            if spec.mode and int(mode_, 8) != int(spec.mode, 8):
                bad.append(f"mode {mode_}")
            if bad:
                wrong.append(f"{path}: {', '.join(bad)}")
        top = (
            entries[0]
            if not spec.recursive
            else next((e for e in entries if e[3] == spec.path), entries[0])
        )
        actual = f"uid {top[0]}, gid {top[1]}, mode {top[2]}" + (
            f" ({len(entries)} entries)" if spec.recursive else ""
        )
        detail = "; ".join(wrong[:5]) + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        return CheckResult("security", spec.pointer, name, "guest", want, actual, not wrong, detail)
