"""Maintenance windows in a real browser: an operator fills the form for a monthly
"second Saturday" window in Europe/Berlin, previews its occurrences, saves it, and finds
it with a conflicting blackout in the calendar. Set VMPERSONA_SCREENSHOTS=/some/dir to
keep a screenshot of each step."""

from __future__ import annotations

import pytest

from tests.browser import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch_console(page) -> list[str]:
    """What the content security policy refused on the page, and script errors (the
    notifications websocket, which the plain live server does not serve, aside)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_an_operator_makes_a_second_saturday_window_and_sees_it_in_the_calendar(
    live_server, browser_page, users, password
):
    from operations_app.models import MaintenanceWindow
    from operations_app.services import windows as window_services
    from tests.operations_app.job_support import make_platform

    make_platform("lab-a")
    page, base = browser_page, live_server.url
    console = _watch_console(page)

    log_in(page, base, "operator", password("operator"))
    page.click("nav.mainnav >> text=Windows")
    page.wait_for_url(f"{base}/ops/windows/")
    page.click("text=+ New window")
    page.wait_for_url(f"{base}/ops/windows/new/")

    # The script shows only the controls of the chosen recurrence.
    assert page.locator("#field-weekdays").is_hidden()
    assert page.locator("#field-on").is_hidden()

    page.fill("#id_name", "payments-patching")
    page.fill("#id_description", "Second Saturday patch night.")
    page.select_option("#id_timezone", "Europe/Berlin")
    page.fill("#id_start_date", "2031-01-01")
    page.fill("#id_start_time", "02:00")
    page.fill("#id_duration_hours", "3")
    page.fill("#id_duration_mins", "0")
    page.fill("#id_cutoff_minutes", "30")
    page.check("input[name=repeat][value=monthly]")
    assert page.locator("#field-on").is_visible()
    assert page.locator("#field-weekdays").is_hidden()
    assert page.locator("[data-unit]").inner_text() == "month(s)"
    page.check("input[name=on][value=weekday]")
    page.select_option("#id_nth", "2")
    page.select_option("#id_weekday", "SA")
    page.fill("#id_exdates", "2031-03-08")
    page.select_option("#id_platforms", ["lab-a"])
    page.check("input[name=execution_flags][value=Production]")
    page.fill("#id_labels", "team=payments")

    # Saved too early: the problems are shown beside their fields, the choices kept.
    page.fill("#id_exdates", "2031-03-08\n2031-03-09")
    page.fill("#id_labels", "team=payments\nnot a label")
    page.click("#save-button")
    page.wait_for_selector("#form-errors")
    assert "line 2: 'not a label' is not key=value" in page.locator("#field-labels").inner_text()
    assert page.locator("input[name=repeat][value=monthly]").is_checked()
    page.fill("#id_labels", "team=payments")
    page.click("#save-button")
    page.wait_for_selector("#form-errors")
    assert (
        "line 2: the window has no occurrence on 2031-03-09 to skip"
        in page.locator("#field-exdates").inner_text()
    )
    shot(page, "window-0-form-errors")
    page.fill("#id_exdates", "2031-03-08")
    assert not MaintenanceWindow.objects.exists()

    page.click("#preview-button")
    page.wait_for_selector("#preview-occurrences")
    assert (
        page.locator("#preview-describe").inner_text()
        == "Second Saturday of every month, 02:00–05:00 Europe/Berlin"
    )
    assert page.locator("#preview-occurrences .occ-text").all_inner_texts() == [
        "Sat 11 Jan 2031 02:00–05:00 CET",
        "Sat 8 Feb 2031 02:00–05:00 CET",
        "Sat 12 Apr 2031 02:00–05:00 CEST",
        "Sat 10 May 2031 02:00–05:00 CEST",
        "Sat 14 Jun 2031 02:00–05:00 CEST",
        "Sat 12 Jul 2031 02:00–05:00 CEST",
    ]
    # Nothing saved yet, and the form kept every choice.
    assert not MaintenanceWindow.objects.exists()
    assert page.locator("#field-on").is_visible()
    assert page.input_value("#id_timezone") == "Europe/Berlin"
    shot(page, "window-1-form-preview")

    page.click("#save-button")
    page.wait_for_url(f"{base}/ops/windows/payments-patching/")
    assert (
        "Maintenance window payments-patching created."
        in page.locator(".alert-success").inner_text()
    )
    assert page.locator("#window-when").inner_text() == (
        "Second Saturday of every month, 02:00–05:00 Europe/Berlin"
    )
    assert page.locator("#occurrences .occ-text").count() == 10
    assert "operator created the window" in page.locator("#history").inner_text()
    window = MaintenanceWindow.objects.get()
    assert window.rrule == "FREQ=MONTHLY;BYDAY=2SA" and window.exdates == ["2031-03-08"]

    # A change, seen in the history.
    page.click(".page-head >> text=Edit")
    page.wait_for_url(f"{base}/ops/windows/payments-patching/edit/")
    assert page.locator("input[name=repeat][value=monthly]").is_checked()
    page.fill("#id_duration_hours", "4")
    page.click("#save-button")
    page.wait_for_url(f"{base}/ops/windows/payments-patching/")
    assert "duration: 3 h → 4 h" in page.locator("#history").inner_text()
    shot(page, "window-2-detail")

    window_services.window_create(
        user=users["operator"],
        data={
            "name": "core-switch-freeze",
            "kind": "blackout",
            "timezone": "Europe/Berlin",
            "start_date": "2031-01-11",
            "start_time": "03:00",
            "duration_minutes": 60,
            "description": "Core switch swap.",
        },
    )
    window_services.window_create(
        user=users["operator"],
        data={
            "name": "nyc-nightly",
            "timezone": "America/New_York",
            "start_date": "2031-01-06",
            "start_time": "22:00",
            "duration_minutes": 240,
            "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
        },
    )
    page.goto(f"{base}/ops/windows/calendar/?start=2031-01-06&weeks=4&tz=Europe/Berlin")
    saturday = page.locator("td[data-day='2031-01-11']")
    assert "conflict" in (saturday.get_attribute("class") or "")
    assert saturday.locator(".cal-entry.maintenance.has-conflict").inner_text() == (
        "02:00–06:00⚠ payments-patching"
    )
    assert saturday.locator(".cal-entry.blackout").inner_text() == "03:00–04:00⚠ core-switch-freeze"
    assert "1 conflict" in page.locator("#conflicts").inner_text()
    shot(page, "window-3-calendar")
    saturday.locator(".cal-entry.blackout").click()
    assert page.url.endswith("#o-core-switch-freeze-20310111T0200Z")
    assert (
        "cuts into maintenance window 'payments-patching'"
        in page.locator("#o-core-switch-freeze-20310111T0200Z").inner_text()
    )
    page.goto(f"{base}/ops/windows/")
    assert page.locator("#windows tbody tr").count() == 3
    shot(page, "window-4-list")
    assert console == []
