"""The cost page in a real browser: a viewer opens Cost from the navigation, reads each
currency's total, the bar charts' values and tooltips, what the open cost plan would
save, and each platform's utilisation. Nothing spills sideways at 1366x768 or 390x844.
Set VMPERSONA_SCREENSHOTS=/some/dir to keep the screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import log_in, shots_at_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _part(page, selector: str, name: str) -> None:
    """A screenshot of one part of the page, at its size on this screen."""
    folder = os.environ.get("VMPERSONA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.locator(selector).screenshot(path=str(Path(folder) / f"{name}.png"))


def _chart_text_fits(page) -> list[str]:
    """Labels and values of the bar charts that overlap one another or leave the chart."""
    return page.evaluate(
        """() => {
          const bad = [];
          for (const svg of document.querySelectorAll('.barchart svg')) {
            const box = svg.getBoundingClientRect();
            for (const row of svg.querySelectorAll('g.bar-row')) {
              const label = row.querySelector('.bar-label').getBoundingClientRect();
              const value = row.querySelector('.bar-value').getBoundingClientRect();
              if (label.right > value.left - 4) bad.push('overlap ' + row.textContent.trim());
              if (value.right > box.right + 1 || label.left < box.left - 1)
                bad.push('outside ' + row.textContent.trim());
            }
          }
          return bad;
        }"""
    )


def test_a_viewer_reads_the_fleets_cost_savings_and_utilisation(
    live_server, browser_page, users, password, monkeypatch
):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from operations_app.models import Platform, VMMetricSample
    from operations_app.placement.evacuation import DryRunVerdict
    from operations_app.services import policies as policy_services
    from operations_app.services.dryrun import MoveDryRuns
    from tests.operations_app.job_support import approved_version, make_platform, managed_vm
    from tests.operations_app.maintenance.support import probed
    from tests.operations_app.policies.support import scheduling_policy

    def busy(vm, cpu_percent, memory_mib):
        VMMetricSample.objects.create(
            vm=vm,
            at=timezone.now() - timedelta(minutes=1),
            cpu_percent=cpu_percent,
            memory_used_mib=memory_mib,
        )

    def priced(name, currency, vcpu, cpus=4, memory_mib=16384):
        platform = probed(make_platform(name), cpus=cpus, memory_mib=memory_mib)
        Platform.objects.filter(pk=platform.pk).update(
            currency=currency,
            cost_vcpu_hour=Decimal(vcpu),
            cost_ram_gib_hour=Decimal("0.005"),
            cost_storage_gib_month=Decimal("0.05"),
        )
        platform.refresh_from_db()
        return platform

    a = priced("lab-a-frankfurt-rack-12", "EUR", "0.01")
    b = priced("lab-b", "EUR", "0.02", cpus=2, memory_mib=4096)
    c = priced("lab-c", "USD", "0.03")
    web, db = approved_version(users, "web"), approved_version(users, "payments-database")
    for i in range(3):
        busy(managed_vm(web, a, f"web-{i}", vcpus=1, memory_mib=1024), 40, 600)
    busy(managed_vm(db, b, "db-1", vcpus=4, memory_mib=4096), 30, 3000)
    managed_vm(web, c, "web-us", vcpus=2, memory_mib=2048)
    monkeypatch.setattr(
        MoveDryRuns, "dry_run", lambda self, vm, host: DryRunVerdict(True, path="live")
    )
    policy = scheduling_policy(
        users,
        name="cheaper",
        trigger="cost",
        utilisation=None,
        scope={"platforms": [a.name, b.name]},
        cost={"horizon_days": 30, "min_saving_per_month": 1, "move_cost_per_gib": 0.1},
    )
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert plan.actions.get().target == a
    probed(make_platform("lab-d"))  # no rates

    page, base = browser_page, live_server.url
    log_in(page, base, "viewer", password("viewer"))
    page.click("nav.mainnav >> text=Cost")
    page.wait_for_url(f"{base}/ops/cost/")
    totals = page.locator("#totals").inner_text()
    assert "EUR" in totals and "USD" in totals
    assert "lab-d" in page.locator("#unrated").inner_text()
    savings = page.locator("#savings-EUR").inner_text()
    assert "Open cost plans would save" in savings and "paid back in" in savings
    chart = page.locator("#currency-EUR .barchart svg").first
    assert chart.get_attribute("role") == "img"
    assert chart.get_attribute("aria-label").startswith("Monthly cost by platform, EUR: lab-b")
    assert "VM" in chart.locator("g.bar-row title").first.text_content()
    assert page.locator("#utilisation tr[data-platform=lab-d]").inner_text().count("no rates set")
    assert "1.2 of 2 CPUs" in page.locator("#utilisation tr[data-platform=lab-b]").inner_text()
    assert _chart_text_fits(page) == []
    shots_at_sizes(page, "cost-1-fleet")
    page.set_viewport_size({"width": 390, "height": 844})
    assert _chart_text_fits(page) == []
    _part(page, "#currency-EUR", "cost-1-eur-phone")
    _part(page, "#utilisation", "cost-1-utilisation-phone")
    page.set_viewport_size({"width": 1366, "height": 768})

    page.select_option("#currency", "USD")
    page.click("form.filterbar button[type=submit]")
    page.wait_for_url(f"{base}/ops/cost/?currency=USD&label=")
    assert page.locator("#currency-EUR").count() == 0
    assert "USD" in page.locator("#totals").inner_text()
    shots_at_sizes(page, "cost-2-usd")

    # Without rates there is no cost to tell, and the page says so instead of 0.00.
    Platform.objects.update(
        cost_vcpu_hour=Decimal(0), cost_ram_gib_hour=Decimal(0), cost_storage_gib_month=Decimal(0)
    )
    page.goto(f"{base}/ops/cost/")
    assert "No rates set on these platforms" in page.locator("#no-rates").inner_text()
    assert "0.00" not in page.locator("main").inner_text()
    shots_at_sizes(page, "cost-3-no-rates")
