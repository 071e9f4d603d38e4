"""``persona window add|list|show|export|import|delete``: the windows service at the
shell, with its problems as ``path: message`` (exit 1) and refusals (exit 3)."""

from __future__ import annotations

import pytest

from operations_app.management.window_cli import parse_duration, parse_start
from operations_app.models import MaintenanceWindow
from operations_app.services import windows as window_services
from tests.operations_app.job_support import make_platform, persona

pytestmark = pytest.mark.django_db

ADD = (
    "window",
    "add",
    "payments-patching",
    "--kind",
    "maintenance",
    "--tz",
    "Europe/Berlin",
    "--start",
    "2031-01-01T02:00",
    "--duration",
    "3h",
    "--rrule",
    "FREQ=MONTHLY;BYDAY=2SA",
    "--exdate",
    "2031-03-08",
    "--cutoff",
    "30",
    "--platform",
    "lab-a",
    "--flag",
    "Production",
    "--label",
    "team=payments",
    "--description",
    "Patch night.",
)


@pytest.fixture
def lab(users):
    return make_platform("lab-a")


def test_an_operator_adds_a_window(users, lab):
    code, out, err = persona(*ADD, "--as", "operator")
    assert code == 0, err
    assert out.strip() == (
        "window payments-patching created: Second Saturday of every month, 02:00–05:00 "
        "Europe/Berlin; next Sat 11 Jan 2031 02:00–05:00 CET"
    )
    window = MaintenanceWindow.objects.get()
    assert window.rrule == "FREQ=MONTHLY;BYDAY=2SA"
    assert (window.duration_minutes, window.cutoff_minutes) == (180, 30)
    assert window.exdates == ["2031-03-08"]
    assert window.labels == {"team": "payments"} and window.execution_flags == ["Production"]
    assert [p.name for p in window.platforms.all()] == ["lab-a"]
    assert window.created_by == users["operator"]
    assert window.history.first().history_user == users["operator"]


def test_without_as_the_system_adds_it(users, lab, no_cli_user):
    code, _, err = persona(*ADD)
    assert code == 0, err
    assert MaintenanceWindow.objects.get().created_by is None


def test_invalid_options_print_each_problem_with_its_path(users, lab):
    code, _, err = persona(
        "window", "add", "bad", "--tz", "Europe/Berlin", "--start", "2031-13-01",
        "--duration", "3x", "--label", "not a label", "--as", "operator",
    )  # fmt: skip
    assert code == 1
    assert err.splitlines() == [
        "start: '2031-13-01' is not a local date and time such as 2026-12-12T02:00",
        "duration: '3x' is not a duration such as 3h, 90m or 1h30m",
        "label/0: 'not a label' is not key=value",
    ]
    code, _, err = persona(
        "window", "add", "bad", "--tz", "Mars/Base", "--start", "2031-01-01T02:00",
        "--duration", "1h", "--rrule", "FREQ=MONTHLY;BYDAY=2SA", "--exdate", "2031-01-02",
        "--platform", "lab-z", "--as", "operator",
    )  # fmt: skip
    assert code == 1
    lines = err.splitlines()
    assert (
        "timezone: 'Mars/Base' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
        in lines
    )
    assert "platforms/0: no platform named 'lab-z'" in lines
    assert not MaintenanceWindow.objects.exists()


def test_viewers_are_refused(users, lab):
    code, _, err = persona(*ADD, "--as", "viewer")
    assert code == 3
    assert "operators" in err
    assert not MaintenanceWindow.objects.exists()


def test_list_and_show(users, lab):
    persona(*ADD, "--as", "operator")
    code, out, _ = persona("window", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "ENABLED", "TIME", "ZONE", "NEXT"]
    assert lines[1].split()[:4] == ["payments-patching", "maintenance", "yes", "Europe/Berlin"]
    assert lines[1].endswith("Sat 11 Jan 2031 02:00–05:00 CET")
    assert persona("window", "list", "--kind", "blackout")[1].splitlines()[1:] == []

    code, out, _ = persona("window", "show", "payments-patching", "--count", "3")
    assert code == 0
    assert "when:        Second Saturday of every month, 02:00–05:00 Europe/Berlin" in out
    assert "applies to:  platforms lab-a · flags Production · labels team=payments" in out
    assert out.splitlines()[-4:] == [
        "next occurrences:",
        "  Sat 11 Jan 2031 02:00–05:00 CET  =  Sat 11 Jan 2031 01:00–04:00 UTC  [new work until 04:30]",
        "  Sat 8 Feb 2031 02:00–05:00 CET  =  Sat 8 Feb 2031 01:00–04:00 UTC  [new work until 04:30]",
        "  Sat 12 Apr 2031 02:00–05:00 CEST  =  Sat 12 Apr 2031 00:00–03:00 UTC  [new work until 04:30]",
    ]
    code, _, err = persona("window", "show", "nope")
    assert code == 3 and "No maintenance window named 'nope'." in err


def test_export_import_and_delete(users, lab, tmp_path):
    persona(*ADD, "--as", "operator")
    code, out, _ = persona("window", "export")
    assert code == 0
    assert out.startswith("BEGIN:VCALENDAR") and "SUMMARY:payments-patching" in out
    path = tmp_path / "windows.ics"
    code, out, _ = persona("window", "export", "payments-patching", "-o", str(path))
    assert (code, out.strip()) == (0, f"1 window written to {path}")
    assert b"RRULE:FREQ=MONTHLY;BYDAY=2SA" in path.read_bytes()
    assert persona("window", "export", "nope")[0] == 3

    code, _, err = persona("window", "import", str(path), "--as", "operator")
    assert code == 1
    assert err.strip() == (
        "events/0/SUMMARY: a window named 'payments-patching' already exists (import with "
        "replace to update it)"
    )
    code, out, err = persona("window", "import", str(path), "--replace", "--as", "operator")
    assert (code, out.strip()) == (0, "imported 1 window: payments-patching"), err

    code, _, err = persona("window", "delete", "payments-patching", "--as", "viewer")
    assert code == 3
    code, out, _ = persona("window", "delete", "payments-patching", "--as", "operator")
    assert (code, out.strip()) == (0, "window payments-patching deleted")
    assert not MaintenanceWindow.objects.exists()

    code, out, err = persona("window", "import", str(path), "--as", "operator")
    assert (code, out.strip()) == (0, "imported 1 window: payments-patching"), err
    assert persona("window", "import", str(tmp_path / "missing.ics"), "--as", "operator")[0] == 3


def test_blackouts_and_one_offs(users):
    code, out, err = persona(
        "window", "add", "year-end", "--kind", "blackout", "--tz", "UTC",
        "--start", "2031-12-24", "--duration", "2d", "--as", "operator",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == (
        "window year-end created: Once on Wed 24 Dec 2031, 00:00 for 2 days UTC; next Wed 24 "
        "Dec 2031 00:00 – Fri 26 Dec 2031 00:00 UTC"
    )
    window = window_services.windows_export_ics(MaintenanceWindow.objects.all())
    assert b"CATEGORIES:blackout" in window


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("3h", 180),
        ("90m", 90),
        ("90", 90),
        ("1h30m", 90),
        ("1h30", 90),
        ("2d", 2880),
        ("2:30", 150),
    ],
)
def test_durations(text, minutes):
    assert parse_duration(text) == minutes


def test_starts():
    from datetime import date, time

    assert parse_start("2031-12-12T02:00") == (date(2031, 12, 12), time(2, 0))
    assert parse_start("2031-12-12 02:30") == (date(2031, 12, 12), time(2, 30))
    assert parse_start("2031-12-12") == (date(2031, 12, 12), time(0, 0))
