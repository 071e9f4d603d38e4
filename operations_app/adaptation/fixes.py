"""A profile's ``fixes``: which differences each applies to, in which order.

The format is the VPPD's (docs/vppd.md, ``fixes``). Profiles are validated when they are
saved, but this module still never raises on a malformed fix: it skips it with a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .differences import KINDS, Difference

DEFAULT_PRIORITY = 100
DEFAULT_TIMEOUT = 60
WHEN = ("before_cutover", "after_cutover")

# The settings of a domain fix that can resolve a difference of each kind.
RESOLVING_KEYS: dict[str, frozenset[str]] = {
    "cpu_model": frozenset({"cpu_mode", "cpu_model"}),
    "machine_type": frozenset({"machine_type"}),
    "accelerator": frozenset({"accelerator"}),
    "disk_bus": frozenset({"disk_bus"}),
    "nic_model": frozenset({"nic_model"}),
    "emulator": frozenset({"emulator"}),
    "firmware": frozenset({"firmware"}),
    "network": frozenset({"network", "portgroup"}),
    "portgroup": frozenset({"network", "portgroup"}),
    "storage_pool": frozenset({"storage_pool", "storage_path"}),
    "storage_path": frozenset({"storage_pool", "storage_path"}),
    "resources": frozenset({"vcpus", "memory_mib"}),
}


@dataclass(frozen=True)
class ProfileFix:
    """One well-formed fix of a profile, with its place in the document."""

    id: str
    description: str
    kind: str
    match: Mapping[str, Any]
    action: Mapping[str, Any]
    priority: int
    position: int

    @property
    def is_domain(self) -> bool:
        return self.action.get("type") == "domain"

    @property
    def settings(self) -> Mapping[str, Any]:
        value = self.action.get("set")
        return value if isinstance(value, Mapping) else {}

    def resolves(self, diff: Difference, applied: set[str]) -> bool:
        """Whether this domain fix, having set ``applied``, can resolve ``diff``."""
        return self.is_domain and bool(RESOLVING_KEYS.get(diff.kind, frozenset()) & applied)

    def applies_to(self, diff: Difference) -> bool:
        """The kind is the difference's (or ``any``) and every match condition holds."""
        if self.kind not in ("any", diff.kind):
            return False
        return all(_matches(cond, getattr(diff, field)) for field, cond in self.match.items())

    def guest_action(self) -> dict[str, Any]:
        """The guest command with its defaults filled in."""
        return {
            "type": "guest_command",
            "command": list(self.action["command"]),
            "when": self.action.get("when", "after_cutover"),
            "timeout": self.action.get("timeout", DEFAULT_TIMEOUT),
            "expect_exit_code": self.action.get("expect_exit_code", 0),
        }


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _matches(condition: object, value: str) -> bool:
    if isinstance(condition, Mapping):
        try:
            return re.fullmatch(str(condition["regex"]), value) is not None
        except (KeyError, re.error):
            return False
    return _text(condition) == value


def _problem(fix: object) -> str | None:
    """Why a fix cannot be used, or None when it is well-formed."""
    if not isinstance(fix, Mapping):
        return "is not an object"
    if not isinstance(fix.get("id"), str) or not fix["id"]:
        return "has no id"
    applies = fix.get("applies_to")
    if not isinstance(applies, Mapping) or applies.get("kind") not in (*KINDS, "any"):
        return "has no known applies_to.kind"
    match = applies.get("match", {})
    if not isinstance(match, Mapping) or set(match) - {"source", "target", "subject"}:
        return "has a match on fields other than source, target and subject"
    for cond in match.values():
        if isinstance(cond, Mapping):
            try:
                re.compile(str(cond.get("regex")))
            except re.error as exc:
                return f"has an invalid regular expression ({exc})"
            if "regex" not in cond:
                return "has a match object without regex"
    action = fix.get("action")
    if not isinstance(action, Mapping):
        return "has no action"
    if action.get("type") == "domain":
        if not isinstance(action.get("set"), Mapping) or not action["set"]:
            return "is a domain action with nothing to set"
    elif action.get("type") == "guest_command":
        command = action.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(c, str) for c in command)
        ):
            return "is a guest command without a command"
        if action.get("when", "after_cutover") not in WHEN:
            return "has a guest command with an unknown 'when'"
    else:
        return "has an unknown action type"
    priority = fix.get("priority", DEFAULT_PRIORITY)
    if not isinstance(priority, int) or isinstance(priority, bool):
        return "has a priority that is not an integer"
    return None


def profile_fixes(fixes: object) -> tuple[list[ProfileFix], list[str]]:
    """The usable fixes in application order (ascending priority, then document order)
    and a note for each one skipped."""
    usable: list[ProfileFix] = []
    notes: list[str] = []
    for position, fix in enumerate(fixes if isinstance(fixes, list | tuple) else []):
        problem = _problem(fix)
        if problem is not None:
            label = fix.get("id") if isinstance(fix, Mapping) else None
            notes.append(f"Fix {label or f'#{position + 1}'!s} {problem}; it was skipped.")
            continue
        assert isinstance(fix, Mapping)
        usable.append(
            ProfileFix(
                id=fix["id"],
                description=str(fix.get("description") or ""),
                kind=fix["applies_to"]["kind"],
                match=dict(fix["applies_to"].get("match") or {}),
                action=dict(fix["action"]),
                priority=fix.get("priority", DEFAULT_PRIORITY),
                position=position,
            )
        )
    usable.sort(key=lambda f: (f.priority, f.position))
    return usable, notes
