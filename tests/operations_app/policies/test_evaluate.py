"""Policy evaluations (pure): utilisation relieves a host that stayed hot, to a target,
without ping-pong; cost moves pay back; rules and capacity always hold (hypothesis over
random fleets); the same snapshot gives the same plan; a 30-day replay never moves a
VM twice within its cooldown."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operations_app.placement.evacuation import DryRunVerdict, HostFacts, VMFacts
from operations_app.policies.evaluate import NotEvaluated, evaluate
from operations_app.policies.fleet import FleetHost, FleetSnapshot, FleetVM, cpu_load
from profiles_app.scheduling.settings import policy_settings

pytestmark = pytest.mark.dbfree

GIB = 1024**3
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def yes(vm, host):
    return DryRunVerdict(True, path="live", reason="running, no changes")


def host(name, cpus=4, memory_mib=8192, **costs) -> FleetHost:
    facts = HostFacts(
        name=name,
        cpu_count=cpus,
        memory_mib=memory_mib,
        storage_capacity_bytes=500 * GIB,
        storage_free_bytes=500 * GIB,
    )
    return FleetHost(facts=facts, **costs)


def vm(name, platform, cores=0.5, vcpus=1, memory_mib=512, **kw) -> FleetVM:
    facts = VMFacts(
        name=name,
        vcpus=vcpus,
        memory_mib=memory_mib,
        disk_bytes=2 * GIB,
        disk_allocation_bytes=1 * GIB,
    )
    return FleetVM(facts=facts, platform=platform, cpu_cores=cores, profile="web", **kw)


def snapshot(hosts, vms, at=NOW) -> FleetSnapshot:
    # hosts' committed vCPUs and memory, as the service reads them from the inventory
    used = {}
    for v in vms:
        u = used.setdefault(v.platform, [0, 0])
        u[0] += v.facts.vcpus
        u[1] += v.facts.memory_mib
    from dataclasses import replace

    hosts = [
        replace(
            h,
            facts=replace(
                h.facts,
                used_vcpus=used.get(h.name, [0, 0])[0],
                used_memory_mib=used.get(h.name, [0, 0])[1],
            ),
        )
        for h in hosts
    ]
    return FleetSnapshot.of(taken_at=at, hosts=hosts, vms=vms)


def policy(**kw) -> dict:
    doc = {
        "schema_version": "1.0",
        "name": "balance-cpu",
        "trigger": "utilisation",
        "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 60},
        "aggressiveness": 5,
        "automation": "recommend",
        "caps": {"moves_per_run": 5, "moves_per_platform": 3},
    }
    doc.update(kw)
    return doc


def run(doc, snap, streaks=None, dry_run=yes):
    return evaluate(policy_settings(doc), doc, snap, streaks=streaks, dry_run=dry_run)


# --------------------------------------------------------------------------- utilisation


def hot_fleet():
    return snapshot(
        [host("a"), host("b"), host("c", cpus=1)],
        [
            vm("big", "a", cores=1.6),
            vm("mid", "a", cores=1.0),
            vm("small", "a", cores=0.8),
            vm("idle", "b", cores=0.2),
        ],
    )


def test_a_host_that_stays_hot_is_relieved_to_its_target_with_reasons():
    plan = run(policy(), hot_fleet())
    assert plan.efficacy["load_before"]["a"] == 85.0
    assert [(a.vm, a.source) for a in plan.actions] == [("big", "a")]
    action = plan.actions[0]
    assert action.target == "b"  # the lightest host that stays below the trigger
    assert action.effect["source_load"] == [85.0, 45.0]
    assert "a at 85.0 % cpu (trigger 80 %, target 60 %)" in action.reasons[0]
    verdicts = {v["host"]: v for v in action.placement["verdicts"]}
    assert verdicts["c"]["refused_by"] == "cpu after the move"  # 1 CPU: 160 % after
    assert plan.efficacy["peak_after"] < plan.efficacy["peak_before"]
    assert plan.efficacy["spread_after"] < plan.efficacy["spread_before"]


def test_hysteresis_a_host_must_stay_hot_for_consecutive_evaluations():
    doc = policy(aggressiveness=2)  # 4 evaluations in a row
    streaks: dict[str, int] = {}
    for round_ in range(1, 4):
        plan = run(doc, hot_fleet(), streaks)
        streaks = plan.streaks
        assert plan.actions == [] and streaks["a"] == round_
        assert f"for {round_} of the 4 evaluations in a row" in plan.findings[0]
    assert [a.vm for a in run(doc, hot_fleet(), streaks).actions] == ["big"]
    # a cool evaluation resets the streak
    cool = snapshot([host("a"), host("b")], [vm("x", "a", cores=0.4)])
    assert run(doc, cool, streaks).streaks["a"] == 0


def test_no_move_that_improves_too_little_or_overloads_the_target():
    snap = snapshot(
        [host("a", cpus=2), host("b", cpus=2)],
        [vm("one", "a", cores=1.7), vm("two", "b", cores=0.5)],
    )
    plan = run(policy(), snap)
    assert plan.actions == []
    assert "no VM can move" in plan.findings[0] and "above the trigger" in plan.findings[0]


def test_caps_and_cooldown_hold_vms_back():
    snap = hot_fleet()
    plan = run(policy(caps={"moves_per_run": 1, "moves_per_platform": 1}), snap)
    assert len(plan.actions) == 1
    moved = vm("big", "a", cores=1.6, policy_moves=(NOW - timedelta(minutes=30),))
    snap = snapshot(
        [host("a"), host("b"), host("c", cpus=2)],
        [moved, vm("mid", "a", cores=1.0), vm("small", "a", cores=0.8)],
    )
    plan = run(policy(cooldown={"minutes": 60}), snap)
    assert "big" not in [a.vm for a in plan.actions]
    assert plan.actions and plan.actions[0].vm == "mid"


def test_anti_affinity_and_must_rules_are_never_broken():
    doc = policy(
        affinity=[{"name": "db", "kind": "anti_affinity", "vms": {"labels": {"app": "db"}}}],
        platform_rules=[
            {
                "name": "not-c",
                "rule": "must_not",
                "vms": {"vms": ["big"]},
                "platforms": {"platforms": ["c"]},
            }
        ],
    )
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [
            vm("big", "a", cores=2.4, labels={"app": "db"}),
            vm("mid", "a", cores=1.0),
            vm("replica", "b", cores=0.2, labels={"app": "db"}),
        ],
    )
    plan = run(doc, snap)
    assert [a.vm for a in plan.actions] == ["mid"]
    finding = " ".join(plan.findings)
    # big could go nowhere: b holds its replica, c is ruled out
    assert "mid moved rather than big: no platform can take it" in finding
    assert "anti-affinity 'db': replica already on b" in finding
    assert "rule 'not-c' says big must not run on c" in finding


def test_the_same_snapshot_gives_the_same_plan():
    first = run(policy(), hot_fleet()).to_dict()
    second = run(policy(), copy.deepcopy(hot_fleet())).to_dict()
    assert first == second


def test_vulnerability_policies_are_evaluated_and_unknown_triggers_refused():
    doc = policy(trigger="vulnerability")
    doc.pop("utilisation")
    plan = run(doc, hot_fleet())  # no platform is exposed: nothing to do
    assert plan.trigger == "vulnerability" and plan.actions == []
    with pytest.raises(NotEvaluated, match="the trigger is unknown"):
        run(policy(trigger="sunspots"), hot_fleet())


# --------------------------------------------------------------------------- cost


def cost_doc(**kw):
    doc = {
        "schema_version": "1.0",
        "name": "cheaper",
        "trigger": "cost",
        "cost": {"horizon_days": 90, "min_saving_per_month": 1, "move_cost_per_gib": 0.5},
        "aggressiveness": 3,
        "automation": "approve",
    }
    doc.update(kw)
    return doc


def test_a_cost_move_must_pay_back_within_the_horizon():
    snap = snapshot(
        [
            host("dear", cost_vcpu_hour=0.02),
            host("cheap", cost_vcpu_hour=0.01),
            host("cheapest", cost_vcpu_hour=0.0099),
        ],
        [vm("web", "dear", vcpus=2)],
    )
    plan = run(cost_doc(), snap)
    (action,) = plan.actions
    assert action.target == "cheapest"
    assert action.effect["monthly_cost"] == [29.2, 14.45]
    assert action.effect["move_cost"] == 0.75 and action.effect["payback_days"] == 1.5
    assert plan.efficacy["monthly_saving"] == 14.75
    # a tiny saving does not pay for the move within a short horizon
    small = snapshot(
        [host("dear", cost_vcpu_hour=0.0101), host("cheap", cost_vcpu_hour=0.01)],
        [vm("web", "dear")],
    )
    plan = run(
        cost_doc(cost={"horizon_days": 1, "min_saving_per_month": 0, "move_cost_per_gib": 0.5}),
        small,
    )
    assert plan.actions == [] and "not more than the move costs" in plan.findings[0]


def test_a_platform_without_rates_or_in_another_currency_is_never_the_cheaper_place():
    snap = snapshot(
        [
            host("dear", cost_vcpu_hour=0.02),
            host("unrated"),
            host("dollars", cost_vcpu_hour=0.001, currency="USD"),
            host("cheap", cost_vcpu_hour=0.01),
        ],
        [vm("web", "dear", vcpus=2), vm("free-rider", "unrated", vcpus=2)],
    )
    plan = run(cost_doc(), snap)
    assert [(a.vm, a.target) for a in plan.actions] == [("web", "cheap")]
    verdicts = {v["host"]: v for v in plan.actions[0].placement["verdicts"]}
    assert "no rates set on unrated" in verdicts["unrated"]["reason"]
    assert "dollars prices in USD, dear in EUR" in verdicts["dollars"]["reason"]
    assert any(f.startswith("no rates set on unrated") for f in plan.findings)
    assert any("platforms priced in USD are counted apart" in f for f in plan.findings)
    # the totals are in euros, the unrated VM and the dollar platform left out
    assert plan.efficacy["currency"] == "EUR"
    assert plan.efficacy["monthly_cost_before"] == 29.2
    assert plan.efficacy["monthly_cost_after"] == 14.6


# --------------------------------------------------------------------------- properties


@st.composite
def fleets(draw):
    n_hosts = draw(st.integers(2, 6))
    hosts = [
        host(
            f"h{i}",
            cpus=draw(st.sampled_from([2, 4, 8])),
            memory_mib=draw(st.sampled_from([2048, 4096, 8192])),
        )
        for i in range(n_hosts)
    ]
    vms = []
    for i in range(draw(st.integers(1, 20))):
        vms.append(
            vm(
                f"v{i:02d}",
                f"h{draw(st.integers(0, n_hosts - 1))}",
                cores=draw(st.floats(0.0, 2.0)),
                vcpus=draw(st.integers(1, 2)),
                memory_mib=draw(st.sampled_from([256, 512, 1024])),
                labels={"app": draw(st.sampled_from(["db", "web", "cache"]))},
            )
        )
    return snapshot(hosts, vms)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.integers(1, 5))
def test_plans_never_exceed_capacity_or_break_anti_affinity(snap, level):
    doc = policy(
        aggressiveness=level,
        caps={"moves_per_run": 10, "moves_per_platform": 5},
        affinity=[{"name": "db", "kind": "anti_affinity", "vms": {"labels": {"app": "db"}}}],
    )
    plan = run(doc, snap)
    placed = {v.name: v.platform for v in snap.vms.values()}
    for action in plan.actions:
        placed[action.vm] = action.target
        assert action.source != action.target
    for name, h in snap.hosts.items():
        here = [v for v in snap.vms.values() if placed[v.name] == name]
        moved_in = [v for v in here if v.platform != name]
        if moved_in:
            assert sum(v.facts.memory_mib for v in here) <= h.facts.memory_limit_mib
            assert sum(v.facts.vcpus for v in here) <= h.facts.vcpu_limit
            # a move never lands on a host that ends above the trigger
            assert cpu_load(snap, name, placed) <= 80 + 1e-9
            dbs = [v for v in moved_in if v.labels.get("app") == "db"]
            others = [v for v in here if v.labels.get("app") == "db" and v not in dbs]
            assert not (dbs and others) and len(dbs) <= 1
    assert run(doc, snap).to_dict() == plan.to_dict()


def test_thirty_days_of_utilisation_never_move_a_vm_twice_within_its_cooldown():
    rng = random.Random(7)
    doc = policy(
        aggressiveness=4, cooldown={"minutes": 720, "backoff_factor": 2, "max_minutes": 4320}
    )
    settings_ = policy_settings(doc)
    hosts = [host("a"), host("b"), host("c")]
    where = {f"v{i}": "abc"[i % 3] for i in range(9)}
    moves: dict[str, list[datetime]] = {name: [] for name in where}
    streaks: dict[str, int] = {}
    at = NOW
    for _ in range(30 * 24):  # hourly evaluations for 30 days
        vms = [
            vm(
                name,
                where[name],
                cores=rng.uniform(0.0, 1.4),
                policy_moves=tuple(sorted(moves[name], reverse=True)),
            )
            for name in sorted(where)
        ]
        plan = evaluate(settings_, doc, snapshot(hosts, vms, at=at), streaks=streaks, dry_run=yes)
        streaks = plan.streaks
        for action in plan.actions:
            last = moves[action.vm][-1] if moves[action.vm] else None
            assert last is None or at - last >= timedelta(minutes=720), (action.vm, last, at)
            moves[action.vm].append(at)
            where[action.vm] = action.target
        at += timedelta(hours=1)
    assert sum(len(m) for m in moves.values()) > 0  # it did move VMs


def test_among_platforms_otherwise_alike_the_less_exposed_takes_the_vm():
    from dataclasses import replace

    snap = snapshot(
        [
            host("hot", cpus=2),
            replace(host("exposed"), advisories=(("CVE-2026-1", 9.8),)),
            host("clean"),
        ],
        [vm("big", "hot", cores=1.0), vm("small", "hot", cores=0.7)],
    )
    plan = run(policy(), snap)
    assert [a.target for a in plan.actions] == ["clean"]
    verdicts = {v["host"]: v for v in plan.actions[0].placement["verdicts"]}
    assert verdicts["exposed"]["scores"]["exposure"] == -19.6
    assert verdicts["clean"]["scores"]["exposure"] == 0.0
