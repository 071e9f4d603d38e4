"""The placement across platforms (pure): filters refuse with reasons, scores rank, the
dry run is asked best-first and only as far as needed, capacity is never exceeded."""

from __future__ import annotations

import pytest

from operations_app.placement.evacuation import (
    DryRunVerdict,
    HostFacts,
    VMFacts,
    plan_evacuation,
)

GIB = 1024**3

pytestmark = pytest.mark.dbfree


def host(name: str, **kw) -> HostFacts:
    facts = {
        "cpu_count": 4,
        "memory_mib": 4096,
        "storage_capacity_bytes": 100 * GIB,
        "storage_free_bytes": 100 * GIB,
        **kw,
    }
    return HostFacts(name=name, **facts)


def vm(name: str, memory_mib: int = 1024, vcpus: int = 1, disk_gib: int = 5) -> VMFacts:
    return VMFacts(
        name=name,
        vcpus=vcpus,
        memory_mib=memory_mib,
        disk_bytes=disk_gib * GIB,
        disk_allocation_bytes=disk_gib * GIB,
    )


def yes(vm, host):
    return DryRunVerdict(True, path="live", reason="running, no changes")


def verdict(plan, vm_name, host_name):
    placement = next(p for p in plan.moves + plan.unmovable if p.vm == vm_name)
    return next(v for v in placement.verdicts if v.host == host_name)


def test_each_vm_goes_to_the_host_with_most_headroom_and_the_source_is_never_a_target():
    plan = plan_evacuation(
        "a",
        [vm("web-1")],
        [host("a"), host("b", used_memory_mib=3000), host("c")],
        dry_run=yes,
    )
    (move,) = plan.moves
    assert move.target == "c" and move.path == "live"
    assert [v.host for v in move.verdicts] == ["b", "c"]
    assert verdict(plan, "web-1", "c").chosen
    assert verdict(plan, "web-1", "c").score > verdict(plan, "web-1", "b").score
    assert verdict(plan, "web-1", "b").dry_run == "not needed"


def test_filters_refuse_in_order_and_say_why():
    hosts = [
        host("a"),
        host("off", enabled=False),
        host("gone", reachable=False),
        host("maint", maintenance="entering maintenance"),
        host("small", max_memory_mib=512),
        host("busy", cpu_count=1, cpu_overcommit=1.0, used_vcpus=1),
        host("full", used_memory_mib=4000),
        host("disk", storage_free_bytes=1 * GIB),
    ]
    plan = plan_evacuation("a", [vm("db-1", memory_mib=1024)], hosts, dry_run=yes)
    assert not plan.moves and not plan.complete
    expected = {
        "off": ("enabled", "disabled"),
        "gone": ("reachable", "cannot be reached"),
        "maint": ("not in maintenance", "entering maintenance"),
        "small": ("platform limits", "1024 MiB exceeds the 512 MiB"),
        "busy": ("vCPU capacity", "1 of 1 committed"),
        "full": ("memory capacity", "4000 of 4096 MiB committed"),
        "disk": ("storage capacity", "1.0 GiB free"),
    }
    for name, (check, words) in expected.items():
        v = verdict(plan, "db-1", name)
        assert v.refused_by == check and words in v.reason, (name, v)
    (stuck,) = plan.unmovable
    assert stuck.reason.startswith("no platform can take it") and "full: " in stuck.reason


def test_overcommit_declared_by_the_platform_lets_more_fit():
    vms = [vm(f"w-{i}", memory_mib=1024, vcpus=2) for i in range(4)]
    tight = plan_evacuation(
        "a", vms, [host("a"), host("b", cpu_count=4, cpu_overcommit=1.0)], dry_run=yes
    )
    loose = plan_evacuation(
        "a", vms, [host("a"), host("b", cpu_count=4, cpu_overcommit=2.0)], dry_run=yes
    )
    assert len(tight.moves) == 2 and len(tight.unmovable) == 2
    assert len(loose.moves) == 4


def test_a_host_is_never_filled_beyond_its_memory():
    vms = [vm(f"w-{i}", memory_mib=1500) for i in range(5)]
    plan = plan_evacuation("a", vms, [host("a"), host("b"), host("c")], dry_run=yes)
    placed: dict[str, int] = {}
    for move in plan.moves:
        placed[move.target] = placed.get(move.target, 0) + move.memory_mib
    assert all(total <= 4096 for total in placed.values())
    assert len(plan.moves) == 4 and len(plan.unmovable) == 1
    assert plan.hosts_after["b"]["memory"] <= 1.0


def test_the_dry_run_is_asked_best_first_and_a_refusal_falls_to_the_next_host():
    asked = []

    def dry_run(v, h):
        asked.append(h.name)
        if h.name == "c":
            return DryRunVerdict(False, reason="network persona-net is not offered by c")
        return DryRunVerdict(True, path="cold", reason="the target needs changes")

    plan = plan_evacuation(
        "a", [vm("web-1")], [host("a"), host("b", used_memory_mib=2000), host("c")], dry_run=dry_run
    )
    assert asked == ["c", "b"]
    (move,) = plan.moves
    assert move.target == "b" and move.path == "cold"
    c = verdict(plan, "web-1", "c")
    assert c.refused_by == "dry run" and "persona-net" in c.reason
    assert plan.dry_runs == 2


def test_cheaper_host_wins_when_headroom_is_equal():
    plan = plan_evacuation(
        "a",
        [vm("web-1", vcpus=2)],
        [host("a"), host("b", cost_vcpu_hour=0.05), host("c", cost_vcpu_hour=0.01)],
        dry_run=yes,
    )
    assert plan.moves[0].target == "c"
    assert (
        verdict(plan, "web-1", "b").scores["running cost"]
        < verdict(plan, "web-1", "c").scores["running cost"]
    )


def test_same_facts_same_plan_and_unmanaged_vms_are_listed_not_placed():
    vms = [vm("b-1", memory_mib=512), vm("a-1", memory_mib=2048), vm("c-1", memory_mib=512)]
    hosts = [host("a"), host("b"), host("c")]
    first = plan_evacuation("a", vms, hosts, dry_run=yes, unmanaged=["legacy"]).to_dict()
    second = plan_evacuation(
        "a", list(reversed(vms)), list(reversed(hosts)), dry_run=yes, unmanaged=["legacy"]
    ).to_dict()
    assert first == second
    assert [m["vm"] for m in first["moves"]] == ["a-1", "b-1", "c-1"]
    assert first["unmanaged"] == ["legacy"]


def test_with_no_other_platform_the_reason_says_so():
    plan = plan_evacuation("a", [vm("web-1")], [host("a")], dry_run=yes)
    assert plan.unmovable[0].reason == "there is no other platform"
