"""What a window applies to: its scope, and whether it covers a platform or a VM.

A scope has four parts, each a list of what it names (empty: no restriction):

- ``platforms``: platform names;
- ``profiles``: names of VPPD profiles (policies);
- ``flags``: execution flags ("Production", "Testing", or a lowercase label flag);
- ``labels``: ``{key: value}`` labels.

A **VM** is covered when every non-empty part matches: its platform is one of
``platforms``, its profile one of ``profiles``, it has at least one of ``flags``, and it
carries every one of ``labels`` with that value. An empty scope covers everything.

A **platform** (host maintenance) is covered by a scope whose ``platforms`` is empty or
names it, whose ``labels`` the platform carries, and which names no profiles or flags:
those concern VMs, and a window that names them covers those VMs only (ask about each
VM on the platform to plan around them).

Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SCOPE_KEYS = ("platforms", "profiles", "flags", "labels")


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class WindowScope:
    """The scope of a window; names are kept sorted and unique, so equal scopes compare
    equal whatever order they were given in."""

    platforms: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "platforms", _names(self.platforms))
        object.__setattr__(self, "profiles", _names(self.profiles))
        object.__setattr__(self, "flags", _names(self.flags))
        object.__setattr__(self, "labels", dict(sorted(dict(self.labels).items())))

    @property
    def is_everything(self) -> bool:
        return not (self.platforms or self.profiles or self.flags or self.labels)

    @property
    def names_vms_only(self) -> bool:
        """Whether the scope names profiles or flags (parts only a VM has)."""
        return bool(self.profiles or self.flags)

    def to_json(self) -> dict[str, Any]:
        return {
            "platforms": list(self.platforms),
            "profiles": list(self.profiles),
            "flags": list(self.flags),
            "labels": dict(self.labels),
        }

    @classmethod
    def from_json(
        cls, value: Any, *, path: str = "scope"
    ) -> tuple[WindowScope, list[tuple[str, str]]]:
        """A scope from its JSON form, and the problems of it as (path, message)."""
        problems = scope_problems(value, path=path)
        if problems:
            return cls(), problems
        return (
            cls(
                platforms=tuple(value.get("platforms", ())),
                profiles=tuple(value.get("profiles", ())),
                flags=tuple(value.get("flags", ())),
                labels=dict(value.get("labels", {})),
            ),
            [],
        )


def scope_problems(value: Any, *, path: str = "scope") -> list[tuple[str, str]]:
    """The problems of a scope's JSON form: an object with lists of names and an
    object of labels (shape only; whether the names exist is the service's check)."""
    if not isinstance(value, Mapping):
        return [
            (
                path,
                'an object such as {"platforms": [...], "profiles": [...], "flags": [...], '
                '"labels": {...}}',
            )
        ]
    problems: list[tuple[str, str]] = []
    for key in value:
        if key not in SCOPE_KEYS:
            problems.append((f"{path}/{key}", f"not a part of a scope ({', '.join(SCOPE_KEYS)})"))
    for key in ("platforms", "profiles", "flags"):
        items = value.get(key, [])
        if not isinstance(items, list):
            problems.append((f"{path}/{key}", "a list of names"))
            continue
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                problems.append((f"{path}/{key}/{index}", "a name"))
    labels = value.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        problems.append((f"{path}/labels", 'an object of key to value, e.g. {"team": "payments"}'))
    return problems


@dataclass(frozen=True)
class ScopeTarget:
    """What a scope is matched against: a VM (``vm=True``: its platform, profile name,
    execution flags and labels) or a platform (``vm=False``: its name and labels)."""

    platform: str | None
    profile: str | None = None
    flags: frozenset[str] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    vm: bool = True

    @classmethod
    def for_platform(cls, name: str, labels: Mapping[str, str] | None = None) -> ScopeTarget:
        return cls(platform=name, labels=dict(labels or {}), vm=False)

    @classmethod
    def for_vm(
        cls,
        *,
        platform: str | None,
        profile: str | None = None,
        flags: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
    ) -> ScopeTarget:
        return cls(
            platform=platform,
            profile=profile,
            flags=frozenset(flags),
            labels=dict(labels or {}),
            vm=True,
        )


def _labels_match(wanted: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(key in labels and labels[key] == value for key, value in wanted.items())


def covers(scope: WindowScope, target: ScopeTarget) -> bool:
    """Whether a window with ``scope`` applies to ``target`` (see the module's rules)."""
    if scope.platforms and target.platform not in scope.platforms:
        return False
    if not _labels_match(scope.labels, target.labels):
        return False
    if not target.vm:
        return not scope.names_vms_only
    if scope.profiles and target.profile not in scope.profiles:
        return False
    return not scope.flags or bool(set(scope.flags) & target.flags)


def scopes_overlap(a: WindowScope, b: WindowScope) -> bool:
    """Whether some VM or platform could be covered by both scopes: each part that both
    name shares a name, and no label has different values in the two."""
    for mine, theirs in ((a.platforms, b.platforms), (a.profiles, b.profiles), (a.flags, b.flags)):
        if mine and theirs and not set(mine) & set(theirs):
            return False
    return all(b.labels.get(key, value) == value for key, value in a.labels.items())
