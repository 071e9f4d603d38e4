"""The maintenance window pages: the list, the form (friendly recurrence controls, the
service's problems beside their fields, the preview), a window's page with its history,
the calendar with a conflict, and iCalendar import and export. Operators change
windows; everyone else reads them."""

from __future__ import annotations

import html
import re
from datetime import date, time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from operations_app.forms.windows import WindowForm, build_rrule, controls_from_rrule
from operations_app.models import MaintenanceWindow
from operations_app.services import windows as window_services
from tests.operations_app.job_support import approved_version, make_platform

pytestmark = pytest.mark.django_db

LIST = reverse("operations:windows")
NEW = reverse("operations:window_create")
CALENDAR = reverse("operations:window_calendar")
IMPORT = reverse("operations:window_import")
EXPORT = reverse("operations:windows_export")

# Every date is in 2031, after the day the tests run: the next occurrences are fixed.
PATCHING = {
    "name": "payments-patching",
    "kind": "maintenance",
    "timezone": "Europe/Berlin",
    "start_date": "2031-01-01",
    "start_time": "02:00",
    "duration_minutes": 180,
    "rrule": "FREQ=MONTHLY;BYDAY=2SA",
    "cutoff_minutes": 30,
    "description": "Second Saturday patch night.",
    "execution_flags": ["Production"],
    "labels": {"team": "payments"},
}

# The form as a browser sends it: a monthly window on the second Saturday.
FORM = {
    "name": "payments-patching",
    "kind": "maintenance",
    "description": "Patch night.",
    "timezone": "Europe/Berlin",
    "start_date": "2031-01-01",
    "start_time": "02:00",
    "duration_hours": "3",
    "duration_mins": "0",
    "repeat": "monthly",
    "interval": "1",
    "on": "weekday",
    "nth": "2",
    "weekday": "SA",
    "monthday": "1",
    "month": "1",
    "ends": "never",
    "rrule": "",
    "exdates": "2031-03-08",
    "cutoff_minutes": "30",
    "execution_flags": ["Production"],
    "other_flags": "",
    "labels": "team=payments",
    "enabled": "on",
    "webhook_url": "https://hooks.example.test/windows",
}


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def field_block(text: str, name: str) -> str:
    """The HTML of the form field ``name`` (from its ``field-<name>`` anchor to the next)."""
    start = text.index(f'id="field-{name}"')
    following = text.find('id="field-', start + 1)
    return text[start : following if following != -1 else len(text)]


def window_url(name: str, view: str = "window") -> str:
    return reverse(f"operations:{view}", args=[name])


@pytest.fixture
def lab(users):
    return make_platform("lab-a")


@pytest.fixture
def patching(users, lab):
    return window_services.window_create(
        user=users["operator"], data={**PATCHING, "platforms": ["lab-a"]}
    )


# --------------------------------------------------------------------------- the list


def test_the_navigation_links_to_the_windows(client, users):
    client.force_login(users["viewer"])
    text = page_text(client.get(LIST))
    assert f'<a href="{LIST}" class="active">Windows</a>' in text


def test_the_list_shows_each_window_in_words(client, users, patching):
    window_services.window_create(
        user=users["operator"],
        data={
            "name": "year-end-freeze",
            "kind": "blackout",
            "timezone": "America/New_York",
            "start_date": "2031-12-20",
            "start_time": "00:00",
            "duration_minutes": 7 * 24 * 60,
            "enabled": False,
        },
    )
    client.force_login(users["viewer"])
    response = client.get(LIST)
    text = page_text(response)
    assert response.status_code == 200
    assert '<span class="badge badge-maintenance">maintenance</span>' in text
    assert '<span class="badge badge-blackout">blackout</span>' in text
    assert "Second Saturday of every month, 02:00–05:00 Europe/Berlin" in text
    assert "Sat 11 Jan 2031 02:00–05:00 CET" in text
    assert "platforms lab-a · flags Production · labels team=payments" in text
    assert "Once on Sat 20 Dec 2031" in text
    # Viewers get no buttons that change windows.
    assert NEW not in text and IMPORT not in text
    assert EXPORT in text and CALENDAR in text


def test_the_list_filters_by_kind_and_enabled(client, users, patching):
    window_services.window_create(
        user=users["operator"],
        data={**PATCHING, "name": "freeze", "kind": "blackout", "rrule": "", "enabled": False},
    )
    client.force_login(users["viewer"])
    names = lambda response: re.findall(r"<strong>([a-z-]+)</strong></a>", page_text(response))  # noqa: E731
    assert names(client.get(LIST)) == ["freeze", "payments-patching"]
    assert names(client.get(LIST, {"kind": "blackout"})) == ["freeze"]
    assert names(client.get(LIST, {"enabled": "yes"})) == ["payments-patching"]
    assert names(client.get(LIST, {"kind": "maintenance", "enabled": "no"})) == []


# --------------------------------------------------------------------------- the form


def test_an_operator_creates_a_window_with_the_friendly_controls(client, users, lab):
    approved_version(users, "web")
    client.force_login(users["operator"])
    form = client.get(NEW)
    assert form.status_code == 200
    text = page_text(form)
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in text
    assert 'type="date"' in text and 'type="time"' in text

    response = client.post(NEW, {**FORM, "platforms": ["lab-a"], "profiles": ["web"]})
    assert response.status_code == 302
    assert response["Location"] == window_url("payments-patching")
    window = MaintenanceWindow.objects.get(name="payments-patching")
    assert window.rrule == "FREQ=MONTHLY;BYDAY=2SA"
    assert window.rule().start_time == time(2, 0)
    assert (window.duration_minutes, window.cutoff_minutes) == (180, 30)
    assert window.exdates == ["2031-03-08"]
    assert window.labels == {"team": "payments"}
    assert window.execution_flags == ["Production"]
    assert [p.name for p in window.platforms.all()] == ["lab-a"]
    assert [p.name for p in window.profiles.all()] == ["web"]
    assert window.created_by == users["operator"]
    assert window.webhook_url == "https://hooks.example.test/windows"
    page = client.get(response["Location"])
    assert "Maintenance window payments-patching created." in messages_of(page)


@pytest.mark.parametrize(
    ("controls", "rrule"),
    [
        ({"repeat": "none"}, ""),
        ({"repeat": "daily", "interval": "2"}, "FREQ=DAILY;INTERVAL=2"),
        ({"repeat": "weekly", "weekdays": ["TU", "TH"]}, "FREQ=WEEKLY;BYDAY=TU,TH"),
        (
            {"repeat": "monthly", "on": "weekday", "nth": "-1", "weekday": "SU"},
            "FREQ=MONTHLY;BYDAY=-1SU",
        ),
        ({"repeat": "monthly", "on": "day", "monthday": "-1"}, "FREQ=MONTHLY;BYMONTHDAY=-1"),
        (
            {"repeat": "yearly", "month": "3", "on": "weekday", "nth": "-1", "weekday": "SU"},
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        ),
        (
            {"repeat": "monthly", "ends": "count", "count": "6"},
            "FREQ=MONTHLY;COUNT=6;BYDAY=2SA",
        ),
        (
            {"repeat": "monthly", "ends": "until", "until": "2031-12-31"},
            "FREQ=MONTHLY;UNTIL=20311231;BYDAY=2SA",
        ),
        (
            {"repeat": "rrule", "rrule": "freq=monthly;bysetpos=-1;byday=MO,TU,WE,TH,FR"},
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ),
    ],
)
def test_each_recurrence_control_makes_its_rule(client, users, controls, rrule):
    client.force_login(users["operator"])
    data = {**FORM, "exdates": "", **controls}
    response = client.post(NEW, data)
    assert response.status_code == 302, response.context["form"].errors
    window = MaintenanceWindow.objects.get(name="payments-patching")
    assert window.rrule == rrule
    # The edit form shows it again with the same controls (an advanced rule as text).
    initial = WindowForm(window=window).initial
    assert initial["repeat"] == controls["repeat"]
    assert build_rrule(initial) == rrule


def test_controls_read_back_only_the_rules_they_make():
    assert controls_from_rrule("FREQ=MONTHLY;BYDAY=2SA") == {
        "repeat": "monthly",
        "interval": 1,
        "ends": "never",
        "on": "weekday",
        "nth": "2",
        "weekday": "SA",
    }
    assert controls_from_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA")["weekdays"] == ["SA"]
    for advanced in (
        "FREQ=WEEKLY",  # the start's weekday: no control shows that exactly
        "FREQ=MONTHLY;BYDAY=2SA,4SA",
        "FREQ=DAILY;BYHOUR=2,14",
        "FREQ=MONTHLY;UNTIL=20311231T235959;BYDAY=2SA",
        "FREQ=MONTHLY;BYDAY=2SA;WKST=SU",
    ):
        assert controls_from_rrule(advanced) == {"repeat": "rrule", "rrule": advanced}


def test_problems_are_shown_next_to_their_fields(client, users, patching):
    client.force_login(users["operator"])
    response = client.post(
        NEW,
        {
            **FORM,
            # a name that exists, a day with no occurrence (line 2), a bad label line
            "exdates": "2031-03-08\n\n2031-03-09",
            "labels": "team=payments\nnot a label",
            "duration_hours": "0",
            "duration_mins": "20",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["labels"] == ["line 2: 'not a label' is not key=value"]
    assert not MaintenanceWindow.objects.filter(name="other").exists()

    # With the form's own problems fixed, the service's come back beside their fields.
    response = client.post(NEW, {**FORM, "exdates": "2031-03-08\n\n2031-03-09"})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["name"] == ["a window named 'payments-patching' already exists"]
    assert form.errors["exdates"] == ["line 3: the window has no occurrence on 2031-03-09 to skip"]
    text = page_text(response)
    assert "already exists" in field_block(text, "name")
    assert "line 3: the window has no occurrence on 2031-03-09" in field_block(text, "exdates")
    assert "Not saved: 2 problems" in text

    response = client.post(
        NEW, {**FORM, "name": "short", "duration_hours": "0", "duration_mins": "20"}
    )
    form = response.context["form"]
    assert form.errors["cutoff_minutes"] == ["must be shorter than the duration (20 minutes)"]
    assert "must be shorter than the duration" in field_block(page_text(response), "cutoff_minutes")
    assert MaintenanceWindow.objects.count() == 1


def test_a_rule_problem_lands_on_the_control_that_made_it(client, users):
    client.force_login(users["operator"])
    # The 5th... there is no "fifth" choice; a yearly rule on 30 February never occurs.
    response = client.post(
        NEW,
        {**FORM, "exdates": "", "repeat": "yearly", "month": "2", "on": "day", "monthday": "30"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["repeat"] == [
        "the rule never occurs: no date from the start date on matches all of its parts "
        "(the rule is FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30)"
    ]
    response = client.post(NEW, {**FORM, "exdates": "", "repeat": "rrule", "rrule": "FREQ=HOURLY"})
    assert response.context["form"].errors["rrule"][0].startswith("FREQ=HOURLY: a window")
    response = client.post(NEW, {**FORM, "repeat": "weekly", "weekdays": []})
    assert response.context["form"].errors["weekdays"] == ["Choose at least one weekday."]


def test_the_form_maps_every_service_path_to_a_control(users):
    make_platform("lab-a")
    form = WindowForm(
        {**FORM, "platforms": ["lab-a"], "other_flags": "nightly, Bad Flag", "exdates": ""}
    )
    assert form.is_valid(), form.errors
    form.add_problems(
        [
            ("platforms/0", "no platform named 'lab-a'"),
            ("profiles/0", "no VPPD profile named 'web'"),
            ("labels/team", "the value 'x y' of 'team' is not ..."),
            ("execution_flags/2", "Development, Testing, Production or a lowercase flag"),
            ("rrule", "FREQ is missing"),
            ("timezone", "'Mars/Base' is not an IANA time zone"),
            ("duration_minutes", "a whole number of minutes from 1 to 10080"),
            ("", "an object of window settings"),
        ]
    )
    assert form.errors["platforms"] == ["no platform named 'lab-a'"]
    assert form.errors["profiles"] == ["no VPPD profile named 'web'"]
    assert form.errors["labels"] == ["the value 'x y' of 'team' is not ..."]
    assert form.errors["execution_flags"] == [
        "'Bad Flag': Development, Testing, Production or a lowercase flag"
    ]
    assert form.errors["repeat"] == ["FREQ is missing (the rule is FREQ=MONTHLY;BYDAY=2SA)"]
    assert form.errors["timezone"] == ["'Mars/Base' is not an IANA time zone"]
    assert form.errors["duration_hours"] == ["a whole number of minutes from 1 to 10080"]
    assert form.non_field_errors() == ["an object of window settings"]


def test_preview_shows_the_rule_and_its_next_occurrences_without_saving(client, users):
    client.force_login(users["operator"])
    response = client.post(NEW, {**FORM, "name": "", "preview": "1"})
    assert response.status_code == 200
    text = page_text(response)
    assert not MaintenanceWindow.objects.exists()
    assert "Second Saturday of every month, 02:00–05:00 Europe/Berlin" in text
    occurrences = re.findall(r'<span class="occ-text">([^<]+)</span>', text)
    assert occurrences == [
        "Sat 11 Jan 2031 02:00–05:00 CET",
        "Sat 8 Feb 2031 02:00–05:00 CET",
        # 8 March is an exception date
        "Sat 12 Apr 2031 02:00–05:00 CEST",
        "Sat 10 May 2031 02:00–05:00 CEST",
        "Sat 14 Jun 2031 02:00–05:00 CEST",
        "Sat 12 Jul 2031 02:00–05:00 CEST",
    ]
    assert "Sat 11 Jan 2031 01:00–04:00 UTC · new work until 04:30" in text
    # No name yet is no problem for a preview; a real problem is shown beside its field.
    assert "form-errors" not in text
    response = client.post(NEW, {**FORM, "exdates": "2031-03-09", "preview": "1"})
    assert response.status_code == 200
    assert "no occurrence on 2031-03-09" in field_block(page_text(response), "exdates")
    assert not MaintenanceWindow.objects.exists()


def test_an_operator_edits_a_window_and_the_history_says_what_changed(client, users, patching):
    client.force_login(users["operator"])
    edit = client.get(window_url(patching.name, "window_edit"))
    assert edit.status_code == 200
    form = edit.context["form"]
    assert (form.initial["repeat"], form.initial["nth"], form.initial["weekday"]) == (
        "monthly",
        "2",
        "SA",
    )
    assert form.initial["labels"] == "team=payments"
    # The edit page previews the window as it is.
    assert "Sat 11 Jan 2031 02:00–05:00 CET" in page_text(edit)

    data = {
        **FORM,
        "exdates": "",
        "duration_hours": "4",
        "platforms": ["lab-a"],
        "description": PATCHING["description"],
        "webhook_url": "",
    }
    response = client.post(window_url(patching.name, "window_edit"), data)
    assert response.status_code == 302
    patching.refresh_from_db()
    assert patching.duration_minutes == 240

    page = client.get(window_url(patching.name))
    text = page_text(page)
    history = text[text.index('id="history"') :]
    assert "operator</strong> changed the window" in history
    assert "changed: duration_minutes" in history
    assert '<span class="field-name">duration:</span> <span class="old-value">3 h</span>' in history
    assert '<span class="new-value">4 h</span>' in history
    assert "operator</strong> created the window" in history


def test_the_window_page_shows_its_occurrences_scope_and_actions(client, users, patching):
    client.force_login(users["operator"])
    response = client.get(window_url(patching.name))
    text = page_text(response)
    assert response.status_code == 200
    assert len(re.findall(r'<span class="occ-text">', text)) == 10
    assert "Sat 11 Jan 2031 02:00–05:00 CET" in text
    assert "new work until 04:30" in text
    assert 'href="/ops/platforms/lab-a/"' in text
    assert "team=payments" in text
    assert window_url(patching.name, "window_edit") in text
    assert 'data-confirm="Delete the maintenance window payments-patching?' in text
    assert window_url(patching.name, "window_export") in text


def test_viewers_see_windows_read_only(client, users, patching):
    client.force_login(users["viewer"])
    text = page_text(client.get(window_url(patching.name)))
    assert window_url(patching.name, "window_edit") not in text
    assert "data-confirm" not in text
    response = client.get(NEW)
    assert response.status_code == 302
    assert client.get(window_url(patching.name, "window_edit")).status_code == 302
    response = client.post(NEW, {**FORM, "name": "sneaky"})
    assert response.status_code == 403
    assert "needs the 'operators' role" in " ".join(messages_of(response))
    assert not MaintenanceWindow.objects.filter(name="sneaky").exists()
    response = client.post(window_url(patching.name, "window_delete"), follow=True)
    assert MaintenanceWindow.objects.filter(pk=patching.pk).exists()
    assert "operators" in " ".join(messages_of(response))
    assert client.get(IMPORT).status_code == 302


def test_an_operator_deletes_a_window(client, users, patching):
    client.force_login(users["operator"])
    assert client.get(window_url(patching.name, "window_delete")).status_code == 405
    response = client.post(window_url(patching.name, "window_delete"), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "Maintenance window payments-patching deleted." in messages_of(response)
    assert not MaintenanceWindow.objects.exists()
    last = MaintenanceWindow.history.filter(id=patching.pk).latest("history_date")
    assert (last.history_type, last.history_user) == ("-", users["operator"])
    assert client.get(window_url("payments-patching")).status_code == 404


# --------------------------------------------------------------------------- calendar


@pytest.fixture
def conflicting(users, patching):
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
            "kind": "maintenance",
            "timezone": "America/New_York",
            "start_date": "2031-01-06",
            "start_time": "22:00",
            "duration_minutes": 240,
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
        },
    )


def test_the_calendar_shows_occurrences_and_a_conflict(client, users, conflicting):
    client.force_login(users["viewer"])
    response = client.get(CALENDAR, {"start": "2031-01-06", "weeks": "2", "tz": "Europe/Berlin"})
    assert response.status_code == 200
    text = page_text(response)
    # Two weeks from Monday 6 January: 14 days in the grid.
    assert len(re.findall(r'data-day="2031-01-', text)) == 14
    grid = text[text.index('id="calendar-grid"') : text.index('id="agenda"')]
    assert re.search(r'<td class="[^"]*\bconflict\b[^"]*" data-day="2031-01-11">', grid)
    assert not re.search(r'<td class="[^"]*\bconflict\b[^"]*" data-day="2031-01-12">', grid)
    saturday = grid[grid.index('data-day="2031-01-11"') : grid.index('data-day="2031-01-12"')]
    assert 'class="cal-entry maintenance has-conflict"' in saturday
    assert "02:00–05:00</span>⚠ payments-patching" in saturday
    assert 'class="cal-entry blackout has-conflict"' in saturday
    assert "03:00–04:00</span>⚠ core-switch-freeze" in saturday
    # A New York night shows in Berlin on two days, and in its own zone in the agenda.
    tuesday = grid[grid.index('data-day="2031-01-07"') : grid.index('data-day="2031-01-08"')]
    assert "from 04:00" not in tuesday and "04:00–08:00</span>nyc-nightly" in tuesday
    agenda = text[text.index('id="agenda"') :]
    assert '<strong title="Tue 7 Jan 2031 04:00–08:00 CET">04:00–08:00 CET</strong>' in agenda
    assert "Mon 6 Jan 2031 22:00 – Tue 7 Jan 2031 02:00 EST · America/New_York" in agenda
    assert (
        "⚠ blackout 'core-switch-freeze' cuts into it (Sat 11 Jan 2031 03:00–04:00 CET)" in agenda
    )
    assert "1 conflict:" in text
    assert (
        "blackout 'core-switch-freeze' (Sat 11 Jan 2031 03:00–04:00 CET) overlaps maintenance "
        "window 'payments-patching' (Sat 11 Jan 2031 02:00–05:00 CET)" in text
    )


def test_the_calendar_lists_scheduled_operations_under_their_occurrence(
    client, users, conflicting, monkeypatch
):
    from datetime import UTC, datetime

    from operations_app.views import windows as window_views

    start = datetime(2031, 1, 11, 1, 0, tzinfo=UTC)
    monkeypatch.setattr(
        window_views,
        "scheduled_operations",
        lambda a, b: [
            {"window": "payments-patching", "start": start, "label": "migrate web-01", "url": "/x/"}
        ],
    )
    client.force_login(users["viewer"])
    text = page_text(client.get(CALENDAR, {"start": "2031-01-06", "weeks": "1"}))
    assert '<ul class="ops" aria-label="Scheduled operations">' in text
    assert '<a href="/x/">migrate web-01</a>' in text


def test_the_calendar_reads_its_parameters_and_says_what_it_could_not(client, users, conflicting):
    client.force_login(users["viewer"])
    response = client.get(CALENDAR, {"start": "2031-13-01", "weeks": "40", "tz": "Mars/Base"})
    assert response.status_code == 200
    text = page_text(response)
    assert "'Mars/Base' is not an IANA time zone: times are shown in UTC." in text
    assert "Weeks: 1 to 12, not '40'." in text
    assert "'2031-13-01' is not a date (YYYY-MM-DD): from today." in text
    response = client.get(CALENDAR, {"start": "2031-01-06", "weeks": "1", "tz": "UTC"})
    assert response.context["next_url"] == "?start=2031-01-13&weeks=1&tz=UTC"
    assert response.context["previous_url"] == "?start=2030-12-30&weeks=1&tz=UTC"
    # The window that is not enabled is not shown.
    window_services.window_update(
        user=users["operator"],
        window=MaintenanceWindow.objects.get(name="core-switch-freeze"),
        data={"enabled": False},
    )
    text = page_text(client.get(CALENDAR, {"start": "2031-01-06", "weeks": "1"}))
    assert "core-switch-freeze" not in text and "conflict:" not in text


# --------------------------------------------------------------------------- iCalendar


def test_export_all_and_one_as_ics(client, users, patching):
    client.force_login(users["viewer"])
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="maintenance-windows.ics"'
    body = response.content.decode()
    assert "SUMMARY:payments-patching" in body and "RRULE:FREQ=MONTHLY;BYDAY=2SA" in body
    one = client.get(window_url(patching.name, "window_export"))
    assert one["Content-Disposition"] == 'attachment; filename="payments-patching.ics"'


def test_an_operator_imports_an_ics_file(client, users, patching):
    exported = window_services.windows_export_ics([patching])
    patching.delete()
    client.force_login(users["operator"])
    assert client.get(IMPORT).status_code == 200
    upload = SimpleUploadedFile("w.ics", exported, content_type="text/calendar")
    response = client.post(IMPORT, {"file": upload}, follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "Imported 1 window: payments-patching." in messages_of(response)
    window = MaintenanceWindow.objects.get(name="payments-patching")
    assert window.rule().start_date == date(2031, 1, 1)
    assert [p.name for p in window.platforms.all()] == ["lab-a"]

    # Again: refused (it exists), unless replacing.
    upload = SimpleUploadedFile("w.ics", exported, content_type="text/calendar")
    response = client.post(IMPORT, {"file": upload})
    assert response.status_code == 400
    text = page_text(response)
    assert "Nothing imported: 1 problem" in text
    assert '<td class="nowrap">event 1</td><td class="where">SUMMARY</td>' in text
    assert "already exists (import with replace to update it)" in text
    upload = SimpleUploadedFile("w.ics", exported, content_type="text/calendar")
    response = client.post(IMPORT, {"file": upload, "replace": "on"})
    assert response.status_code == 302


def test_import_shows_each_events_problems(client, users):
    bad = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        b"BEGIN:VEVENT\r\nUID:a@x\r\nSUMMARY:a\r\nDTSTART;TZID=Mars/Base:20310101T020000\r\n"
        b"DURATION:PT1H\r\nCATEGORIES:maintenance\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:b@x\r\nSUMMARY:b\r\nDTSTART:20310101T020000Z\r\n"
        b"DURATION:PT1H\r\nCATEGORIES:holiday\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    client.force_login(users["operator"])
    response = client.post(IMPORT, {"file": SimpleUploadedFile("bad.ics", bad)})
    assert response.status_code == 400
    problems = response.context["problems"]
    assert [(p["event"], p["where"]) for p in problems] == [
        ("event 1", "DTSTART"),
        ("event 2", "CATEGORIES"),
    ]
    assert not MaintenanceWindow.objects.exists()


def test_viewers_may_not_import(client, users, patching):
    client.force_login(users["viewer"])
    upload = SimpleUploadedFile("w.ics", window_services.windows_export_ics([patching]))
    response = client.post(IMPORT, {"file": upload, "replace": "on"})
    assert response.status_code == 403
    assert "operators" in " ".join(messages_of(response))
