"""Scope, affinity and platform rules: which VMs a policy looks at, which VMs must run
together or apart, where VMs must, must not, should or should not run.

Selectors are the policy document's (``vm_selector``/``platform_selector``): every
given part must match. Rules become placement filters (``must``, ``must_not``,
affinity, anti-affinity) and scores (``should``, ``should_not``) next to the capacity
ones, so every placement that reads them honours them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from operations_app.placement.evacuation import HostFacts, Refused, VMFacts

from .fleet import FleetSnapshot, FleetVM


def _labels_match(wanted: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def vm_matches(selector: Mapping[str, Any] | None, vm: FleetVM) -> bool:
    """Whether ``vm`` is selected (an empty or missing selector selects every VM)."""
    if not selector:
        return True
    if selector.get("vms") and vm.name not in selector["vms"]:
        return False
    if selector.get("profiles") and vm.profile not in selector["profiles"]:
        return False
    flags = selector.get("execution_flags")
    if flags and not set(flags) & set(vm.execution_flags):
        return False
    if selector.get("labels") and not _labels_match(selector["labels"], vm.labels):
        return False
    return True


def host_matches(selector: Mapping[str, Any] | None, name: str, labels: Mapping[str, str]) -> bool:
    if not selector:
        return True
    if selector.get("platforms") and name not in selector["platforms"]:
        return False
    if selector.get("labels") and not _labels_match(selector["labels"], labels):
        return False
    return True


def in_scope(scope: Mapping[str, Any] | None, vm: FleetVM) -> bool:
    """The policy's scope: on these platforms, from these profiles, flags, labels."""
    if not scope:
        return True
    if scope.get("platforms") and vm.platform not in scope["platforms"]:
        return False
    return vm_matches({k: v for k, v in scope.items() if k != "platforms"}, vm)


@dataclass
class Rules:
    """Affinity and platform rules, checked against where each VM is (``placed``)."""

    affinity: Sequence[Mapping[str, Any]] = ()
    platform_rules: Sequence[Mapping[str, Any]] = ()
    snapshot: FleetSnapshot | None = None
    placed: dict[str, str] = field(default_factory=dict)
    generation: int = 0  # bumped by whoever changes ``placed``: cached answers expire
    _members: dict[int, list[FleetVM]] = field(default_factory=dict, repr=False)
    _where: dict[tuple[int, str], tuple[int, dict[str, list[str]]]] = field(
        default_factory=dict, repr=False
    )

    def _vm(self, facts: VMFacts) -> FleetVM | None:
        return self.snapshot.vms.get(facts.name) if self.snapshot else None

    def _host_labels(self, name: str) -> Mapping[str, str]:
        if self.snapshot and name in self.snapshot.hosts:
            return self.snapshot.hosts[name].labels
        return {}

    # -- filters

    def platform_rule_filter(self, facts: VMFacts, host: HostFacts) -> None:
        vm = self._vm(facts)
        if vm is None:
            return
        for rule in self.platform_rules:
            if rule["rule"] not in ("must", "must_not") or not vm_matches(rule["vms"], vm):
                continue
            match = host_matches(rule["platforms"], host.name, self._host_labels(host.name))
            if rule["rule"] == "must" and not match:
                raise Refused(f"rule '{rule['name']}' says {vm.name} must run elsewhere")
            if rule["rule"] == "must_not" and match:
                raise Refused(f"rule '{rule['name']}' says {vm.name} must not run on {host.name}")

    def affinity_filter(self, facts: VMFacts, host: HostFacts) -> None:
        vm = self._vm(facts)
        if vm is None or self.snapshot is None:
            return
        for index, rule in enumerate(self.affinity):
            if not vm_matches(rule["vms"], vm):
                continue
            where = self._peers_where(index, rule, vm)
            if rule["kind"] == "anti_affinity" and host.name in where:
                together = sorted(where[host.name])
                raise Refused(
                    f"anti-affinity '{rule['name']}': {', '.join(together)} already on {host.name}"
                )
            if rule["kind"] == "affinity" and where and host.name not in where:
                raise Refused(
                    f"affinity '{rule['name']}': its peers run on {', '.join(sorted(where))}"
                )

    def _peers_where(
        self, index: int, rule: Mapping[str, Any], vm: FleetVM
    ) -> dict[str, list[str]]:
        """Where ``vm``'s peers under affinity rule ``index`` are: host -> their names.
        The rule's members are found once; where they are, once per VM until ``placed``
        changes (placement asks it of every candidate host)."""
        assert self.snapshot is not None
        if index not in self._members:
            self._members[index] = [
                other for other in self.snapshot.vms.values() if vm_matches(rule["vms"], other)
            ]
        cached = self._where.get((index, vm.name))
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        where: dict[str, list[str]] = {}
        for p in self._members[index]:
            if p.name != vm.name:
                where.setdefault(self.placed.get(p.name, p.platform), []).append(p.name)
        self._where[(index, vm.name)] = (self.generation, where)
        return where

    # -- scores

    def preference(self, facts: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
        """+15 per ``should`` rule the host meets, -15 per ``should_not`` it meets."""
        vm = self._vm(facts)
        if vm is None:
            return 0.0
        total = 0.0
        for rule in self.platform_rules:
            if rule["rule"] not in ("should", "should_not") or not vm_matches(rule["vms"], vm):
                continue
            if host_matches(rule["platforms"], host.name, self._host_labels(host.name)):
                total += 15.0 if rule["rule"] == "should" else -15.0
        return total

    def filters(self) -> tuple[tuple[str, Any], ...]:
        return (("platform rules", self.platform_rule_filter), ("affinity", self.affinity_filter))
