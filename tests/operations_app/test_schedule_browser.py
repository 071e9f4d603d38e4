"""Scheduling a migration in a real browser: an operator opens a managed VM's Migrate
page, chooses the target, "In a maintenance window" and a window in Europe/Berlin,
previews the dry run (replaced here: the test driver has no such VM), migrates, and
finds the job scheduled for the window's next occurrence, in its local time, on the job
page and under that occurrence in the calendar. A time in the past comes back on its
field and records nothing. Set VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of
each step."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


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


@pytest.fixture
def fake_preview(monkeypatch):
    """The dry run, replaced where the view imports it (it would read web-1 on both
    hosts; the test driver has no such domain): the real checks, then a ready plan."""
    from operations_app.services import migrations as migration_services
    from tests.operations_app.test_migrate_pages import preview

    calls: list[str] = []

    def fake(*, user, vm, target, mode):
        vm = migration_services.migration_check(user=user, vm=vm, target=target, mode=mode)
        calls.append(target.name)
        return preview(vm=vm.name, source=vm.platform.name, target=target.name, mode=mode)

    # The live server runs in this process, in a thread: the patch reaches its views.
    monkeypatch.setattr("operations_app.views.migrate.migration_preview", fake)
    return calls


def _first_occurrence() -> datetime:
    """When ``patch-night`` first opens: 03:00 Berlin time on its start date (tomorrow,
    by the UTC date, so always ahead)."""
    from tests.operations_app.scheduling_support import tomorrow

    return datetime.combine(tomorrow().date(), time(3, 0), BERLIN)


def test_an_operator_schedules_a_migration_for_a_window_and_finds_it_in_the_calendar(
    live_server, browser_page, users, password, fake_preview
):
    from operations_app.models import JobStatus, ManagedVM, OperationJob
    from tests.operations_app.scheduling_support import fleet, window

    made = fleet(users)
    vm = made["web-1"]
    ManagedVM.objects.filter(pk=vm.pk).update(vcpus=1, memory_mib=512)  # as inventory reads
    # 03:00–06:00 Berlin time every night, no new work in its last 30 minutes.
    window(
        users,
        "patch-night",
        timezone="Europe/Berlin",
        start_time="03:00",
        duration_minutes=180,
        description="Nightly patching.",
    )
    window(users, "lab-b-only", platforms=["lab-b"])  # does not cover web-1
    opens = _first_occurrence()
    interval = f"{opens:%a} {opens.day} {opens:%b %Y} 03:00–05:30 {opens.tzname()}"

    page, base = browser_page, live_server.url
    console = _watch_console(page)
    log_in(page, base, "operator", password("operator"))

    page.goto(f"{base}/ops/vms/{vm.pk}/")
    page.click("#vm-migrate-link")
    page.wait_for_url(f"{base}/ops/vms/{vm.pk}/migrate/")

    # "Now" is chosen: none of the details of the other choices show.
    assert page.locator("#id_when_now").is_checked()
    assert page.locator("#field-window").is_hidden()
    assert page.locator("#field-at").is_hidden()
    assert page.locator("#field-on_miss").is_hidden()
    shot(page, "schedule-0-form-now")

    page.select_option("#id_target", "lab-b")
    page.click("label[for=id_when_window]")
    assert page.locator("#id_when_window").is_checked()
    assert page.locator("#field-window").is_visible()
    assert page.locator("#field-on_miss").is_visible()
    assert page.locator("#field-at").is_hidden()
    # Only the windows that cover web-1 are offered.
    assert page.locator("#id_window option").evaluate_all("os => os.map(o => o.value)") == [
        "",
        "patch-night",
    ]
    page.select_option("#id_window", "patch-night")
    shot(page, "schedule-1-form-window")

    # The dry run keeps the choice and offers to migrate exactly that, in the window.
    page.click("#btn-preview")
    page.wait_for_selector("#verdict")
    assert fake_preview == ["lab-b"]
    assert page.locator("#id_when_window").is_checked()
    assert page.input_value("#id_window") == "patch-night"
    assert page.locator("#verdict-when").inner_text() == (
        "Migrate schedules the job in maintenance window patch-night"
    )
    assert not OperationJob.objects.exists()
    page.evaluate("window.scrollTo(0, 0)")  # the whole page, not from the #dry-run anchor
    shot(page, "schedule-2-preview")

    asked: list[str] = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#verdict-migrate button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/ops/jobs/\d+/$"))
    assert asked == ["Migrate web-1 from lab-a to lab-b (auto), in maintenance window patch-night?"]

    job = OperationJob.objects.get()
    assert job.status == JobStatus.SCHEDULED and job.kind == "migrate"
    assert job.window.name == "patch-night" and job.platform.name == "lab-b"
    assert job.not_before == opens and job.not_after == opens + timedelta(hours=2, minutes=30)
    assert page.url == f"{base}/ops/jobs/{job.pk}/"
    assert page.locator(".alert-success").inner_text().strip() == (
        f"Migration of web-1 from lab-a to lab-b (auto) scheduled (job #{job.pk}): "
        f"in maintenance window 'patch-night', may start {interval}."
    )
    assert page.locator(".jb-scheduled").first.is_visible()
    assert page.locator("#schedule-window").inner_text() == "patch-night Europe/Berlin"
    lines = page.locator("#schedule-interval").inner_text().splitlines()
    assert lines[0] == interval and lines[1].endswith(" your time")
    shot(page, "schedule-3-job")
    # Its requester may move it: the same "When" fields, keeping its time to start with.
    page.click("#schedule-move summary")
    assert page.locator("#job-schedule-form #id_when_keep").is_checked()
    assert page.locator("#job-schedule-form #field-on_miss").is_visible()
    page.click("#job-schedule-form label[for=id_when_at]")
    assert page.locator("#job-schedule-form #field-at").is_visible()
    assert page.locator("#job-schedule-form #field-on_miss").is_hidden()
    shot(page, "schedule-3-job-move")

    # The calendar lists the job under the occurrence it waits for.
    page.goto(f"{base}/ops/windows/calendar/?start={opens.date().isoformat()}&weeks=1")
    anchor = f"o-patch-night-{opens.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%MZ}"
    entry = page.locator(f"#{anchor}")
    assert entry.locator(".ops a").inner_text() == f"Migrate web-1 (#{job.pk})"
    assert entry.locator(".ops a").get_attribute("href") == f"/ops/jobs/{job.pk}/"
    assert "Scheduled" in entry.locator(".ops").inner_text()
    assert page.locator(".agenda-entry .ops").count() == 1  # under that occurrence only
    shot(page, "schedule-4-calendar")

    # At a time in the past: the error is beside its field, the choice kept, no job made.
    page.goto(f"{base}/ops/vms/{vm.pk}/migrate/")
    page.select_option("#id_target", "lab-b")
    page.click("label[for=id_when_at]")
    assert page.locator("#field-at").is_visible() and page.locator("#field-window").is_hidden()
    # A job for a time always expires: no "if it cannot start in time" to choose, a note.
    assert page.locator("#field-on_miss").is_hidden()
    assert page.locator("#when-at-note").is_visible()
    page.fill("#id_at", "2020-01-01T02:00")
    page.select_option("#id_at_zone", "Europe/Berlin")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#btn-migrate")
    page.wait_for_selector("#field-at .field-error")
    assert page.locator("#field-at .field-error").inner_text() == (
        "Date and time: 2020-01-01T02:00:00+01:00 is in the past"
    )
    assert page.locator("#id_when_at").is_checked()
    assert page.input_value("#id_at") == "2020-01-01T02:00"
    assert page.input_value("#id_at_zone") == "Europe/Berlin"
    # The date and time box is as tall as the zone list beside it.
    at_box, zone_box = (
        page.locator("#id_at").bounding_box(),
        page.locator("#id_at_zone").bounding_box(),
    )
    assert at_box["height"] == zone_box["height"] and at_box["y"] == zone_box["y"]
    assert OperationJob.objects.count() == 1
    shot(page, "schedule-5-form-error")
    assert console == []
