"""Steps 2 and 3 of the adaptation layer: apply fixes, report what stays unresolved."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from operations_app.hypervisor.domainxml import domain_xml
from operations_app.hypervisor.errors import InvalidSpec
from operations_app.hypervisor.types import DomainSpec

from .builtins import BUILTINS, NO_BUILTIN, Context
from .differences import Difference, DomainState, Key, differences
from .edits import apply_settings
from .fixes import ProfileFix, profile_fixes
from .platforms import PlatformView, machine_family
from .source import domain_diff, domain_state, pci_addresses

# Fixes can uncover differences (KVM -> TCG takes host-passthrough away); each round
# compares again and fixes what is new. Four rounds settle every chain there is.
MAX_ROUNDS = 4


@dataclass
class PlannedFix:
    """A fix the plan applies: ``builtin:<name>`` or a profile fix's id.

    ``when`` is ``definition`` for changes to the target domain definition (already made
    in ``AdaptationPlan.adapted``), or ``before_cutover``/``after_cutover`` for a guest
    command the migration runs (``action`` then holds ``command``, ``timeout`` and
    ``expect_exit_code`` with their defaults). ``changes`` lists what it changed.
    """

    fix_id: str
    description: str
    action: dict[str, Any]
    when: str
    differences: list[Difference] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def difference(self) -> Difference | None:
        """The (first) difference the fix was applied for."""
        return self.differences[0] if self.differences else None

    @property
    def builtin(self) -> bool:
        return self.fix_id.startswith("builtin:")

    def to_dict(self) -> dict[str, Any]:
        return {
            "fix_id": self.fix_id,
            "description": self.description,
            "action": copy.deepcopy(self.action),
            "when": self.when,
            "differences": [d.to_dict() for d in self.differences],
            "changes": list(self.changes),
        }


@dataclass
class AdaptationPlan:
    """What adapting a domain to a target takes, and whether it is enough.

    ``adapted`` is the target's domain definition after every ``definition`` fix; its
    disks and interfaces keep the order of ``original``'s. ``emulator`` is the emulator
    the definition should pin (None: libvirt's default for the domain type), which a
    ``DomainSpec`` cannot carry. ``disk_paths`` maps each file disk's source path to its
    path on the target (for copying and for ``retarget_disks``).
    """

    original: DomainSpec
    adapted: DomainSpec
    differences: list[Difference]
    fixes: list[PlannedFix]
    unresolved: list[Difference]
    emulator: str | None = None
    disk_paths: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    invalid_definition: str | None = None

    @property
    def ok(self) -> bool:
        """No blocking difference is left and the adapted definition is valid."""
        return self.invalid_definition is None and not any(d.blocking for d in self.unresolved)

    @property
    def guest_commands_before(self) -> list[PlannedFix]:
        return [f for f in self.fixes if f.when == "before_cutover"]

    @property
    def guest_commands_after(self) -> list[PlannedFix]:
        return [f for f in self.fixes if f.when == "after_cutover"]

    @property
    def problems(self) -> list[str]:
        """One sentence per thing that keeps the migration from going ahead, for the
        administrator notification."""
        lines = [d.sentence for d in self.unresolved if d.blocking]
        if self.invalid_definition is not None:
            lines.append(f"The adapted domain definition is not valid: {self.invalid_definition}")
        return lines

    @property
    def hardware_changes(self) -> list[str]:
        """What the guest will see differently. A live migration cannot change any of
        it, so when this is not empty the domain has to move cold (shut off)."""
        return hardware_changes(self.original, self.adapted)

    def adapted_xml(self) -> str:
        """The adapted definition as domain XML. Raises ``InvalidSpec``."""
        return domain_xml(self.adapted)

    def diff(self) -> list[str]:
        """Unified diff of the original and the adapted definition (as ``domain_xml``
        writes both). Raises ``InvalidSpec`` when either is not valid."""
        return domain_diff(domain_xml(self.original), domain_xml(self.adapted))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "differences": [d.to_dict() for d in self.differences],
            "fixes": [f.to_dict() for f in self.fixes],
            "unresolved": [d.to_dict() for d in self.unresolved],
            "guest_commands_before": [f.to_dict() for f in self.guest_commands_before],
            "guest_commands_after": [f.to_dict() for f in self.guest_commands_after],
            "hardware_changes": self.hardware_changes,
            "original": self.original.to_dict(),
            "adapted": self.adapted.to_dict(),
            "emulator": self.emulator,
            "disk_paths": dict(self.disk_paths),
            "notes": list(self.notes),
            "invalid_definition": self.invalid_definition,
        }


def hardware_changes(before: DomainSpec, after: DomainSpec) -> list[str]:
    changes = []
    for name, label in (
        ("arch", "architecture"),
        ("domain_type", "domain type"),
        ("machine", "machine type"),
        ("cpu_mode", "CPU mode"),
        ("cpu_model", "CPU model"),
        ("vcpus", "vCPUs"),
        ("memory_mib", "memory (MiB)"),
    ):
        if getattr(before, name) != getattr(after, name):
            changes.append(f"{label}: {getattr(before, name)} -> {getattr(after, name)}")
    if before.boot.firmware != after.boot.firmware:
        changes.append(f"firmware: {before.boot.firmware} -> {after.boot.firmware}")
    for old, new in zip(before.disks, after.disks, strict=False):
        if (old.bus, old.target) != (new.bus, new.target):
            changes.append(f"disk {old.target} ({old.bus}) -> {new.target} ({new.bus})")
    for i, (old_nic, new_nic) in enumerate(zip(before.interfaces, after.interfaces, strict=False)):
        if old_nic.model != new_nic.model:
            changes.append(f"interface {old_nic.mac or i}: {old_nic.model} -> {new_nic.model}")
    return changes


class _Planner:
    def __init__(
        self,
        *,
        state: DomainState,
        source: PlatformView,
        target: PlatformView,
        fixes: list[ProfileFix],
        cpu_compatible: bool | None,
        disk_paths: Mapping[str, str] | None,
    ) -> None:
        self.state = state
        self.source = source
        self.target = target
        self.fixes = fixes
        self.cpu_compatible = cpu_compatible
        self.disk_paths = disk_paths
        self.original_cpu = (state.spec.cpu_mode, state.spec.cpu_model)
        self.seen: dict[Key, Difference] = {}
        self.claimed: dict[Key, list[str]] = {}  # profile fixes that set something for it
        self.builtin_failures: dict[Key, str] = {}
        self.appeared_after: dict[Key, list[str]] = {}
        self.ran: list[str] = []  # fixes that changed the definition, in order
        self.planned: list[PlannedFix] = []
        self.notes: list[str] = []
        self._by_id: dict[str, PlannedFix] = {}

    def compare(self) -> list[tuple[Key, Difference]]:
        return differences(
            self.state,
            source=self.source,
            target=self.target,
            cpu_compatible=self.cpu_compatible,
            original_cpu=self.original_cpu,
            disk_paths=self.disk_paths,
        )

    def record(self, planned: PlannedFix, key: str | None = None) -> None:
        key = key or planned.fix_id
        existing = self._by_id.get(key)
        if existing is None:
            self._by_id[key] = planned
            self.planned.append(planned)
        else:
            existing.differences += [
                d for d in planned.differences if d not in existing.differences
            ]
            existing.changes += planned.changes
        if planned.when == "definition" and planned.fix_id not in self.ran:
            self.ran.append(planned.fix_id)

    def run(self) -> None:
        for round_no in range(MAX_ROUNDS):
            new = [(k, d) for k, d in self.compare() if k not in self.seen]
            if not new:
                return
            for key, diff in new:
                self.seen[key] = diff
                if round_no:
                    self.appeared_after[key] = list(self.ran)
            self.apply_profile_fixes(new)
            self.apply_builtins(new)

    def apply_profile_fixes(self, new: list[tuple[Key, Difference]]) -> None:
        for fix in self.fixes:
            matched = [(k, d) for k, d in new if fix.applies_to(d)]
            if not matched:
                continue
            diffs = [d for _k, d in matched]
            if not fix.is_domain:
                action = fix.guest_action()
                self.record(PlannedFix(fix.id, fix.description, action, action["when"], diffs))
                continue
            disks = [int(k[1][5:]) for k, _d in matched if k[1].startswith("disk:")]
            nics = [int(k[1][10:]) for k, _d in matched if k[1].startswith("interface:")]
            changes, notes, applied = apply_settings(
                self.state,
                fix.settings,
                disks=sorted(set(disks)) or None,
                interfaces=sorted(set(nics)) or None,
                target=self.target,
            )
            self.notes += [f"Fix {fix.id}: {note}." for note in notes]
            for key, diff in matched:
                if fix.resolves(diff, applied):
                    self.claimed.setdefault(key, []).append(fix.id)
            action = {"type": "domain", "set": dict(fix.settings)}
            self.record(PlannedFix(fix.id, fix.description, action, "definition", diffs, changes))

    def apply_builtins(self, new: list[tuple[Key, Difference]]) -> None:
        ctx = Context(
            state=self.state,
            source=self.source,
            target=self.target,
            cpu_compatible=self.cpu_compatible,
            original_cpu=self.original_cpu,
            disk_paths=self.disk_paths,
        )
        for kind, (fix_id, description, builtin) in BUILTINS.items():
            for key, diff in new:
                if diff.kind != kind or not diff.blocking or key in self.claimed:
                    continue
                if key not in {k for k, _d in self.compare()}:
                    continue  # an earlier fix already resolved it
                outcome = builtin(ctx, key[1], diff)
                if outcome.failure:
                    self.builtin_failures[key] = outcome.failure
                    continue
                action = {"type": "domain", "set": outcome.settings}
                planned = PlannedFix(fix_id, description, action, "definition", [diff])
                planned.changes = outcome.changes
                self.record(planned, key=f"{fix_id}@{key[1]}")

    def reason(self, key: Key, diff: Difference) -> str:
        parts = []
        if key in self.claimed:
            ids = ", ".join(f"'{i}'" for i in dict.fromkeys(self.claimed[key]))
            parts.append(f"The profile's fix {ids} was applied, but the difference remains.")
        elif key in self.builtin_failures:
            parts.append(self.builtin_failures[key])
        elif not diff.blocking:
            parts.append("It does not keep the domain from running, so it is left as it is.")
        elif diff.kind in NO_BUILTIN:
            if diff.subject == "memory_hard_limit_mib":
                parts.append(
                    "Lower the memory hard limit in the profile's resource limits, or choose "
                    "a target whose guests may lock more memory."
                )
            else:
                parts.append(NO_BUILTIN[diff.kind])
        elif diff.kind in BUILTINS and key in self.seen:
            parts.append("The built-in fix did not resolve it.")
        else:
            parts.append("No fix applies to it.")
        if key in self.appeared_after or key not in self.seen:
            ran = self.appeared_after.get(key, self.ran)
            if ran:
                parts.append(
                    f"It appeared after these fixes changed the definition: {', '.join(ran)}."
                )
        return " ".join(parts)


def plan_adaptation(
    *,
    domain: DomainSpec | str,
    source: object,
    target: object,
    vppd_fixes: list[dict[str, Any]] | None = None,
    cpu_compatible: bool | None = None,
    target_disk_paths: Mapping[str, str] | None = None,
) -> AdaptationPlan:
    """Plan the adaptation of ``domain`` (a ``DomainSpec`` or libvirt's domain XML) from
    ``source`` to ``target`` (``Platform`` rows, mappings or ``PlatformView``s).

    Compares, applies the profile's ``vppd_fixes`` (ascending priority, then document
    order) and the built-in fixes for the blocking differences no profile fix claimed,
    compares again, and reports what is left. Never changes ``domain``; raises only
    ``InvalidSpec`` for domain XML that cannot be read.
    """
    state = domain_state(domain)
    original = copy.deepcopy(state.spec)
    source_view, target_view = PlatformView.of(source), PlatformView.of(target)
    fixes, notes = profile_fixes(vppd_fixes or [])
    planner = _Planner(
        state=state,
        source=source_view,
        target=target_view,
        fixes=fixes,
        cpu_compatible=cpu_compatible,
        disk_paths=target_disk_paths,
    )
    planner.run()
    unresolved = [replace(d, reason=planner.reason(k, d)) for k, d in planner.compare()]
    adapted = state.spec
    notes += planner.notes
    old_family, new_family = machine_family(original.machine), machine_family(adapted.machine)
    if old_family and new_family and old_family != new_family:
        addresses = pci_addresses(domain)
        carried = (
            f" The source definition pins {addresses} PCI addresses; they are not carried over."
            if addresses
            else ""
        )
        notes.append(
            f"The machine changes from {original.machine} to {adapted.machine}: libvirt lays out "
            "the new machine's PCI topology, so the guest sees its devices at new PCI "
            "addresses (interface names derived from them, such as ens3, may change)." + carried
        )
    invalid = None
    try:
        domain_xml(adapted)
    except (InvalidSpec, TypeError, ValueError) as exc:
        invalid = str(exc)
    disk_paths = {
        old.path: new.path
        for old, new in zip(original.disks, adapted.disks, strict=False)
        if old.path and new.path and old.path != new.path
    }
    return AdaptationPlan(
        original=original,
        adapted=adapted,
        differences=list(planner.seen.values()),
        fixes=planner.planned,
        unresolved=unresolved,
        emulator=state.emulator,
        disk_paths=disk_paths,
        notes=notes,
        invalid_definition=invalid,
    )
