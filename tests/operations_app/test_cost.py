"""The fleet's cost and utilisation: the figures for a small fleet (per platform, per
profile, per currency, never adding currencies), what an open cost plan would save and
its payback, the platforms' committed capacity and recent use, the empty states, a fixed
number of queries however many VMs, and the page, the API and the CLI showing the same
figures to every signed-in user."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations_app.models import (
    ActionStatus,
    Platform,
    PolicyPlanAction,
    VMMetricSample,
    VMState,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.presentation.bars import BarItem, bar_chart
from operations_app.presentation.cost import cost_report
from operations_app.selectors.cost import cost_rows
from operations_app.services import policies as policy_services
from operations_app.services.dryrun import MoveDryRuns
from tests.operations_app.job_support import approved_version, make_platform, managed_vm, persona
from tests.operations_app.maintenance.support import probed
from tests.operations_app.policies.support import scheduling_policy

pytestmark = pytest.mark.django_db


def priced(platform, *, currency="EUR", vcpu="0", ram="0", storage="0", **fields):
    Platform.objects.filter(pk=platform.pk).update(
        currency=currency,
        cost_vcpu_hour=Decimal(vcpu),
        cost_ram_gib_hour=Decimal(ram),
        cost_storage_gib_month=Decimal(storage),
        **fields,
    )
    platform.refresh_from_db()
    return platform


def sample(vm, cpu_percent, memory_mib=None, minutes_ago=1):
    VMMetricSample.objects.create(
        vm=vm,
        at=timezone.now() - timedelta(minutes=minutes_ago),
        cpu_percent=cpu_percent,
        memory_used_mib=memory_mib,
    )


@pytest.fixture
def fleet(users):
    """lab-a and lab-b price in EUR, lab-c in USD; the web profile's VMs have a 1 GiB
    disk (the db profile's too)."""
    a = priced(
        probed(make_platform("lab-a"), cpus=4, memory_mib=16384),
        vcpu="0.01",
        ram="0.005",
        storage="0.05",
        labels={"tier": "gold"},
    )
    b = priced(
        probed(make_platform("lab-b"), cpus=4, memory_mib=8192),
        vcpu="0.02",
        ram="0.005",
        storage="0.05",
    )
    c = priced(
        probed(make_platform("lab-c"), cpus=2, memory_mib=4096),
        currency="USD",
        vcpu="0.03",
        ram="0.01",
        storage="0.1",
    )
    web = approved_version(users, "web")
    db = approved_version(users, "db")
    vms = {
        "web-1": managed_vm(web, a, "web-1", vcpus=1, memory_mib=1024),
        "web-2": managed_vm(web, a, "web-2", vcpus=2, memory_mib=2048),
        "db-1": managed_vm(db, b, "db-1", vcpus=2, memory_mib=4096),
        "web-3": managed_vm(web, c, "web-3", vcpus=1, memory_mib=512),
    }
    managed_vm(web, a, "old", vcpus=8, memory_mib=8192, state=VMState.GONE)  # not counted
    sample(vms["web-1"], 50, 512)  # half a CPU
    sample(vms["web-2"], 25, 512)  # half a CPU of its two
    sample(vms["web-2"], 99, 4096, minutes_ago=60)  # too old to count
    return {"a": a, "b": b, "c": c, "web": web, "db": db, **vms}


@pytest.fixture
def cost_plan(users, fleet, monkeypatch):
    """A proposed plan of a cost policy over lab-a and lab-b (db-1 to the cheaper lab-a),
    and a move from lab-c (USD) to lab-a (EUR) added to it."""
    monkeypatch.setattr(
        MoveDryRuns, "dry_run", lambda self, vm, host: DryRunVerdict(True, path="live")
    )
    policy = scheduling_policy(
        users,
        name="cheaper",
        trigger="cost",
        utilisation=None,
        scope={"platforms": ["lab-a", "lab-b"]},
        cost={"horizon_days": 30, "min_saving_per_month": 1, "move_cost_per_gib": 0.1},
    )
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    PolicyPlanAction.objects.create(
        plan=plan,
        index=9,
        vm=fleet["web-3"],
        vm_name="web-3",
        source=fleet["c"],
        target=fleet["a"],
        effect={"monthly_saving": 16.4, "move_cost": 0.15},
    )
    return plan


def report(**filters):
    return cost_report(cost_rows(**filters))


# --------------------------------------------------------------------------- figures


def test_each_vm_costs_its_vcpus_memory_and_disk_at_its_platforms_rates(fleet):
    r = report()
    eur, usd = r.groups
    assert (eur.currency, usd.currency) == ("EUR", "USD")
    # web-1: (1 × 0.01 + 1 GiB × 0.005) × 730 h + 1 GiB × 0.05 = 11.00; web-2: 21.95
    # db-1 on lab-b: (2 × 0.02 + 4 × 0.005) × 730 + 0.05 = 43.85
    assert [(p.name, p.monthly_cost, p.vm_count) for p in eur.platforms] == [
        ("lab-b", 43.85, 1),
        ("lab-a", 32.95, 2),
    ]
    assert eur.monthly_cost == 76.80 and eur.vm_count == 3
    assert [(p.profile, p.monthly_cost, p.vm_count) for p in eur.profiles] == [
        ("db", 43.85, 1),
        ("web", 32.95, 2),
    ]
    # web-3 on lab-c: (1 × 0.03 + 0.5 GiB × 0.01) × 730 + 1 GiB × 0.1 = 25.65, in USD only
    assert usd.monthly_cost == 25.65 and [p.name for p in usd.platforms] == ["lab-c"]
    assert usd.cost_text == "25.65 USD" and eur.cost_text == "76.80 EUR"
    assert r.vm_count == 4 and r.running_count == 4


def test_the_costs_are_the_ones_the_policies_compute(fleet):
    snapshot, _, _ = policy_services.fleet_snapshot(now=timezone.now())
    theirs = {}
    for vm in snapshot.vms.values():
        host = snapshot.hosts[vm.platform]
        theirs[vm.platform] = theirs.get(vm.platform, 0.0) + vm.monthly_cost(host)
    ours = {p.name: p.monthly_cost for p in report().platforms}
    assert ours == {name: round(total, 2) for name, total in theirs.items()}


def test_utilisation_is_committed_against_capacity_and_overcommit_with_recent_use(fleet):
    lab_a = next(p for p in report().platforms if p.name == "lab-a")
    assert (lab_a.vcpus.committed, lab_a.vcpus.capacity, lab_a.vcpus.overcommit) == (3, 4, 4.0)
    assert lab_a.vcpus.percent == 75.0 and lab_a.vcpus.limit_percent == 18.8
    assert lab_a.vcpus.text == "3 / 4" and lab_a.vcpus.limit_text == "16 at ×4"
    assert (lab_a.memory.committed, lab_a.memory.capacity) == (3072, 16384)
    assert lab_a.storage.capacity == 100 * 1024**3
    # the last 15 minutes: web-1 half a CPU, web-2 a quarter of its two
    assert lab_a.cpu_in_use.used == pytest.approx(1.0) and lab_a.cpu_in_use.percent == 25.0
    assert lab_a.memory_in_use.used == 1024 and lab_a.sampled_vms == 2
    assert (lab_a.vm_count, lab_a.running_count) == (2, 2)


def test_an_open_cost_plan_shows_its_saving_and_payback_in_its_currency(users, fleet, cost_plan):
    (action,) = [a for a in cost_plan.actions.all() if a.vm_name == "db-1"]
    assert action.status == ActionStatus.PROPOSED
    r = report()
    eur, usd = r.groups
    # db-1 costs 43.85 on lab-b and 29.25 on lab-a; moving 5 GiB costs 0.50
    assert eur.savings.monthly_saving == 14.6 == action.effect["monthly_saving"]
    assert eur.savings.move_cost == 0.5
    assert eur.savings.payback_days == round(0.5 / (14.6 / 30), 1) == 1.0
    assert [(p.pk, p.policy) for p in eur.savings.plans] == [(cost_plan.pk, "cheaper")]
    # a move between currencies saves nothing that can be added up
    assert usd.savings.action_count == 0
    assert r.not_counted == [
        {
            "plan": cost_plan.pk,
            "vm": "web-3",
            "source": "lab-c",
            "target": "lab-a",
            "reason": "lab-c prices in USD, lab-a in EUR",
        }
    ]
    # once rejected, nothing is pending
    policy_services.plan_reject(user=users["approver2"], plan=cost_plan, comment="no")
    assert report().groups[0].savings.action_count == 0


def test_a_move_to_a_platform_without_rates_is_not_counted_as_a_saving(fleet, cost_plan):
    free = probed(make_platform("lab-free"))
    PolicyPlanAction.objects.filter(plan=cost_plan, vm_name="db-1").update(target=free)
    eur = report().groups[0]
    assert eur.savings.action_count == 0 and eur.savings.payback_days is None
    reasons = {n["vm"]: n["reason"] for n in report().not_counted}
    assert reasons["db-1"] == "no rates set on lab-free"


def test_the_filters_narrow_the_platforms(fleet):
    assert [g.currency for g in report(currency="USD").groups] == ["USD"]
    gold = report(label="tier=gold")
    assert [p.name for p in gold.platforms] == ["lab-a"] and gold.groups[0].monthly_cost == 32.95
    assert gold.currencies == ["EUR", "USD"] and gold.platform_count == 3


def test_platforms_without_rates_show_no_cost_rather_than_zero(users):
    a = probed(make_platform("lab-a"))
    managed_vm(approved_version(users, "web"), a, "web-1", vcpus=1, memory_mib=512)
    r = report()
    assert r.no_rates and r.groups == [] and r.platforms[0].monthly_cost is None
    assert r.platforms[0].cost_text == "no rates set"
    b = priced(probed(make_platform("lab-b")), vcpu="0.01")
    r = report()
    assert not r.no_rates and [p.name for p in r.unrated] == ["lab-a"]
    assert [p.name for p in r.groups[0].platforms] == ["lab-b"] and b.currency == "EUR"


def test_no_platforms_is_said_so(users):
    r = report()
    assert r.no_platforms and r.platforms == [] and r.groups == []


def test_the_reads_take_the_same_number_of_queries_for_3_or_30_vms(users, client):
    a = priced(probed(make_platform("lab-a")), vcpu="0.01")
    b = priced(probed(make_platform("lab-b")), currency="USD", vcpu="0.02")
    versions = [approved_version(users, "web"), approved_version(users, "db")]
    for i in range(3):
        sample(managed_vm(versions[i % 2], (a, b)[i % 2], f"vm-{i}", vcpus=1, memory_mib=256), 10)
    client.force_login(users["viewer"])
    with CaptureQueriesContext(connection) as small:
        report()
    with CaptureQueriesContext(connection) as small_page:
        assert client.get("/ops/cost/").status_code == 200
    for i in range(3, 30):
        sample(managed_vm(versions[i % 2], (a, b)[i % 2], f"vm-{i}", vcpus=1, memory_mib=256), 10)
    priced(probed(make_platform("lab-c")), vcpu="0.03")
    with CaptureQueriesContext(connection) as large:
        r = report()
    with CaptureQueriesContext(connection) as large_page:
        assert client.get("/ops/cost/").status_code == 200
    assert r.vm_count == 30
    assert len(large) == len(small) == 5
    assert len(large_page) == len(small_page)


def test_the_bar_chart_scales_to_the_largest_value_and_says_each_one():
    chart = bar_chart(
        "Monthly cost by platform, EUR",
        [BarItem("lab-b", 43.85, "43.85 EUR"), BarItem("lab-a", 10.0, "10.00 EUR")],
    )
    assert [b.width for b in chart.bars] == [100.0, 22.81]
    assert chart.summary == "Monthly cost by platform, EUR: lab-b 43.85 EUR; lab-a 10.00 EUR"
    assert chart.bars[1].title == "lab-a: 10.00 EUR" and chart.height == 72
    assert bar_chart("Nothing", []).empty


# --------------------------------------------------------------------------- page, API, CLI


def test_a_viewer_sees_the_page_and_anonymous_is_sent_to_log_in(client, users, fleet, cost_plan):
    response = client.get("/ops/cost/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(users["viewer"])
    page = client.get("/ops/cost/").content.decode()
    assert "76.80 EUR" in page and "25.65 USD" in page
    assert 'href="/ops/cost/" class="active"' in page
    assert "Open cost plans would save 14.60 EUR a month" in page
    assert "paid back in 1.0 day" in page
    assert 'aria-label="Monthly cost by platform, EUR: lab-b 43.85 EUR; lab-a 32.95 EUR"' in page
    assert "<title>lab-b: 43.85 EUR a month, 1 VM</title>" in page
    assert "lab-c prices in USD, lab-a in EUR" in page
    assert "never added together" in page


def test_the_page_filters_and_refuses_a_bad_label_beside_the_field(client, users, fleet):
    client.force_login(users["viewer"])
    page = client.get("/ops/cost/?currency=usd").content.decode()
    assert "25.65 USD" in page and "76.80 EUR" not in page
    response = client.get("/ops/cost/?label=not+a+label!")
    assert response.status_code == 400 and 'id="label-error"' in response.content.decode()


def test_the_page_says_when_there_is_nothing_to_price(client, users):
    client.force_login(users["viewer"])
    assert "No platforms yet" in client.get("/ops/cost/").content.decode()
    probed(make_platform("lab-a"))
    page = client.get("/ops/cost/").content.decode()
    assert "No rates set on these platforms" in page and "0.00" not in page


def test_the_api_answers_the_same_figures(api, users, fleet, cost_plan, client):
    data = api(users["viewer"]).get("/api/v1/cost/").json()
    eur, usd = data["totals"]
    assert (eur["currency"], eur["monthly_cost"], usd["monthly_cost"]) == ("EUR", 76.8, 25.65)
    assert eur["profiles"][0] == {"profile": "db", "vm_count": 1, "monthly_cost": 43.85}
    assert eur["savings"]["monthly_saving"] == 14.6 and eur["savings"]["payback_days"] == 1.0
    assert eur["savings"]["plans"] == [
        {"id": cost_plan.pk, "policy": "cheaper", "status": "proposed"}
    ]
    lab_a = next(p for p in data["platforms"] if p["name"] == "lab-a")
    assert lab_a["utilisation"]["vcpus"]["limit"] == 16.0 and lab_a["monthly_cost"] == 32.95
    assert data["not_counted"][0]["vm"] == "web-3" and data["vm_count"] == 4
    only_usd = api(users["viewer"]).get("/api/v1/cost/?currency=USD").json()
    assert [t["currency"] for t in only_usd["totals"]] == ["USD"]
    bad = api(users["viewer"]).get("/api/v1/cost/?label=a=b=c")
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"].startswith("label")
    assert client.get("/api/v1/cost/").status_code in (401, 403)


def test_the_cli_prints_the_figures_and_the_api_json(users, fleet, cost_plan):
    code, out, _ = persona("cost")
    assert code == 0
    assert "EUR: 76.80 EUR a month, 3 VMs" in out and "USD: 25.65 USD a month, 1 VMs" in out
    assert "Open cost plans would save 14.60 EUR a month" in out
    assert "paid back in 1.0 days" in out and "lab-c prices in USD" in out
    code, out, _ = persona("cost", "--json", "--currency", "eur")
    assert code == 0
    data = json.loads(out)
    assert [t["currency"] for t in data["totals"]] == ["EUR"] and data["totals"][0]["vm_count"] == 3
    code, _, err = persona("cost", "--label", "a=b=c")
    assert code == 1 and err.startswith("label")
