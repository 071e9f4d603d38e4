"""Host maintenance in a real browser: an operator opens a platform, asks to put it into
maintenance, chooses a window, previews the evacuation plan (every host's verdict
unfolded), confirms, and finds the platform entering maintenance with each VM's
progress; on a phone's width nothing spills sideways. Set
VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of each step at 1366x768 and
390x844."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser import log_in, shot

from .support import answer_dry_runs, fleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


def _watch_console(page) -> list[str]:
    """What the content security policy refused on the page, and script errors."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _overflow(page) -> int:
    """How far the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def _shots(page, name: str) -> None:
    """A screenshot at each size; at each, the page must not scroll sideways."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top
        shot(page, f"{name}-{size}")
        assert _overflow(page) == 0, f"{name} scrolls sideways at {width}px"
    page.set_viewport_size({"width": 1366, "height": 768})


def test_an_operator_puts_a_platform_into_maintenance_after_previewing_the_plan(
    live_server, browser_page, users, password, monkeypatch, settings
):
    from operations_app.models import HostMaintenance, MaintenanceState
    from operations_app.services import maintenance as maintenance_services
    from tests.operations_app.job_support import unmanaged_vm
    from tests.operations_app.scheduling_support import OPENS, tomorrow, window

    settings.VMPERSONA_EVACUATION_PARALLEL = 2
    lab = fleet(users, hosts=("lab-a", "lab-b", "lab-c"), vms=3)
    answer_dry_runs(monkeypatch)
    unmanaged_vm(lab["platforms"]["lab-a"], "legacy-db", vcpus=2, memory_mib=1024)
    window(users, "host-work")
    page, base = browser_page, live_server.url
    console = _watch_console(page)

    log_in(page, base, "operator", password("operator"))
    page.goto(f"{base}/ops/platforms/lab-a/")
    assert "in service" in page.locator("#maintenance").inner_text()
    page.click("#maintenance-start")
    page.wait_for_url(f"{base}/ops/platforms/lab-a/maintenance/")

    page.select_option("#id_window", "host-work")
    page.check("#id_move_back")
    page.fill("#id_reason", "BIOS update and a new NIC")
    _shots(page, "maintenance-1-form")

    page.click("#btn-preview")
    page.wait_for_selector("#verdict")
    assert "All 3 managed VMs can move (3 live)." in page.locator("#verdict").inner_text()
    assert page.input_value("#id_window") == "host-work"
    assert page.locator("#plan-moves .evac-vm").count() == 3
    assert "legacy-db" in page.locator("#plan-unmanaged").inner_text()
    # every host's verdict, folded under each VM until asked for
    first = page.locator("#plan-moves .evac-vm").first
    assert first.locator(".verdict-table").is_hidden()
    first.locator("summary").click()
    assert first.locator(".verdict-table tr.v-chosen").count() == 1
    assert "✓ dry run" in first.locator(".verdict-table tr.v-chosen").inner_text()
    assert page.locator("#plan-hosts .host-card").count() == 2
    assert not HostMaintenance.objects.exists()
    _shots(page, "maintenance-2-preview")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#btn-confirm")
    page.wait_for_url(f"{base}/ops/platforms/lab-a/#maintenance")
    assert page.locator("#maintenance-badge").inner_text() == "Entering maintenance · host-work"
    assert "lab-a is entering maintenance" in page.locator(".alert-success").inner_text()
    panel = page.locator("#maintenance")
    assert panel.get_attribute("data-state") == "entering"
    assert page.locator("#maintenance-vms tbody tr").count() == 3
    assert (
        "0 of 3 moved · 3 waits for the window"
        in page.locator("#maintenance-progress").inner_text()
    )
    assert page.locator("#id_end_move_back").is_checked()
    _shots(page, "maintenance-3-platform")

    # Inside the window the tick starts the moves (no worker runs them here): each VM's
    # row says where it goes and links to its job.
    maintenance_services.maintenance_tick(now=tomorrow() + OPENS + timedelta(minutes=5))
    page.reload()
    rows = page.locator("#maintenance-vms tbody tr")
    moving = [r for r in rows.all() if r.locator("[data-status=moving]").count()]
    assert len(moving) == 2  # two at once, the third waits its turn
    moving[0].locator("td.job a").click()
    page.wait_for_url(re.compile(rf"{base}/ops/jobs/\d+/$"))
    page.go_back()
    _shots(page, "maintenance-4-moving")

    page.click("#maintenance >> text=record and history")
    page.wait_for_selector("#history")
    assert page.locator("#maintenance-state").inner_text() == "Entering maintenance"
    assert "Entering maintenance by operator" in page.locator("#history").inner_text()
    page.click("#maintenance-plan summary")
    assert page.locator("#maintenance-plan .evac-vm").count() == 3
    _shots(page, "maintenance-5-record")

    page.goto(f"{base}/ops/platforms/")
    assert (
        page.locator("[data-maintenance=entering]").inner_text()
        == "Entering maintenance · host-work"
    )
    _shots(page, "maintenance-6-list")

    maintenance = HostMaintenance.objects.get()
    assert maintenance.state == MaintenanceState.ENTERING and maintenance.move_back
    assert {m["vm"] for m in maintenance.plan["moves"]} == {"web-1", "web-2", "web-3"}
    assert console == []
