"""The maintenance window API: list, create, read, change and delete windows, their
occurrences, the calendar with conflicts, iCalendar export and import; 400 with paths,
403 for non-operators' writes, 404 for unknown windows."""

from __future__ import annotations

import pytest

from operations_app.models import MaintenanceWindow
from operations_app.services import windows as window_services
from tests.operations_app.job_support import errors, make_platform

pytestmark = pytest.mark.django_db

BASE = "/api/v1/windows/"
PATCHING = {
    "name": "payments-patching",
    "kind": "maintenance",
    "timezone": "Europe/Berlin",
    "start_date": "2031-01-01",
    "start_time": "02:00",
    "duration_minutes": 180,
    "rrule": "FREQ=MONTHLY;BYDAY=2SA",
    "exdates": ["2031-03-08"],
    "cutoff_minutes": 30,
    "execution_flags": ["Production"],
    "labels": {"team": "payments"},
    "platforms": ["lab-a"],
}
FREEZE = {
    "name": "core-switch-freeze",
    "kind": "blackout",
    "timezone": "Europe/Berlin",
    "start_date": "2031-01-11",
    "start_time": "03:00",
    "duration_minutes": 60,
}


@pytest.fixture
def lab(users):
    return make_platform("lab-a")


@pytest.fixture
def patching(users, lab):
    return window_services.window_create(user=users["operator"], data=PATCHING)


def test_an_operator_creates_a_window(api, users, lab):
    response = api(users["operator"]).post(BASE, PATCHING, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == body["links"]["self"]
    assert body["links"]["self"].endswith("/api/v1/windows/payments-patching/")
    assert body["rrule"] == "FREQ=MONTHLY;BYDAY=2SA"
    assert body["start_time"] == "02:00:00"
    assert body["exdates"] == ["2031-03-08"]
    assert body["platforms"] == ["lab-a"] and body["profiles"] == []
    assert body["labels"] == {"team": "payments"}
    assert body["when"] == "Second Saturday of every month, 02:00–05:00 Europe/Berlin"
    assert body["next_occurrence"] == {
        "start": "2031-01-11T01:00:00Z",
        "end": "2031-01-11T04:00:00Z",
        "last_start": "2031-01-11T03:30:00Z",
        "text": "Sat 11 Jan 2031 02:00–05:00 CET",
    }
    assert body["open_now"] is False
    assert body["created_by"] == "operator"
    assert MaintenanceWindow.objects.get().created_by == users["operator"]


def test_problems_answer_400_with_their_paths(api, users, lab):
    client = api(users["operator"])
    response = client.post(
        BASE,
        {
            **PATCHING,
            "rrule": "FREQ=MONTHLY;BYDAY=2SA;COUNT=3;UNTIL=20311231",
            "platforms": ["lab-a", "lab-b"],
            "labels": {"team": "pay ments"},
            "colour": "red",
        },
        format="json",
    )
    assert response.status_code == 400
    assert errors(response) == {"colour": "not a window setting"}
    response = client.post(
        BASE,
        {
            **PATCHING,
            "rrule": "FREQ=MONTHLY;BYDAY=2SA;COUNT=3;UNTIL=20311231",
            "platforms": ["lab-a", "lab-b"],
            "labels": {"team": "pay ments"},
            "exdates": ["2031-03-08", "not-a-date"],
        },
        format="json",
    )
    assert response.status_code == 400
    found = errors(response)
    assert set(found) == {"exdates/1"}  # the request's own check comes first
    response = client.post(
        BASE,
        {
            **PATCHING,
            "rrule": "FREQ=MONTHLY;BYDAY=2SA;COUNT=3;UNTIL=20311231",
            "platforms": ["lab-a", "lab-b"],
            "labels": {"team": "pay ments"},
        },
        format="json",
    )
    found = errors(response)
    assert found["rrule"] == "COUNT and UNTIL cannot both be given"
    assert found["platforms/1"] == "no platform named 'lab-b'"
    assert found["labels/team"].startswith("the value 'pay ments' of 'team' is not")
    response = client.post(BASE, {"name": "x"}, format="json")
    assert set(errors(response)) == {"timezone", "start_date", "start_time", "duration_minutes"}
    assert not MaintenanceWindow.objects.exists()


def test_viewers_read_but_may_not_write(api, users, patching):
    client = api(users["viewer"])
    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}payments-patching/").status_code == 200
    response = client.post(BASE, {**PATCHING, "name": "other"}, format="json")
    assert response.status_code == 403
    assert "operators" in response.json()["detail"]
    assert (
        client.patch(f"{BASE}payments-patching/", {"enabled": False}, format="json").status_code
        == 403
    )
    assert client.delete(f"{BASE}payments-patching/").status_code == 403
    ics = window_services.windows_export_ics([patching])
    response = client.post(f"{BASE}import/?replace=true", ics, content_type="text/calendar")
    assert response.status_code == 403
    assert MaintenanceWindow.objects.count() == 1


def test_unknown_windows_are_404(api, users):
    client = api(users["operator"])
    for response in (
        client.get(f"{BASE}nope/"),
        client.patch(f"{BASE}nope/", {"enabled": False}, format="json"),
        client.delete(f"{BASE}nope/"),
        client.get(f"{BASE}nope/occurrences/"),
        client.get(f"{BASE}export.ics?name=nope"),
    ):
        assert response.status_code == 404
        assert "No maintenance window named 'nope'." in response.json()["detail"]


def test_list_filters_and_pages(api, users, patching):
    window_services.window_create(user=users["operator"], data=FREEZE)
    client = api(users["viewer"])
    body = client.get(BASE).json()
    assert body["count"] == 2
    assert [w["name"] for w in body["results"]] == ["core-switch-freeze", "payments-patching"]
    assert [w["name"] for w in client.get(BASE, {"kind": "blackout"}).json()["results"]] == [
        "core-switch-freeze"
    ]
    assert client.get(BASE, {"enabled": "false"}).json()["count"] == 0
    assert set(errors(client.get(BASE, {"kind": "other"}))) == {"kind"}


def test_patch_changes_only_what_is_given(api, users, patching):
    client = api(users["operator"])
    response = client.patch(
        f"{BASE}payments-patching/",
        {"duration_minutes": 240, "platforms": [], "rrule": "FREQ=MONTHLY;BYDAY=-1SU"},
        format="json",
    )
    # 8 March 2031 is a Saturday: no last Sunday to skip.
    assert errors(response) == {"exdates/0": "the window has no occurrence on 2031-03-08 to skip"}
    response = client.patch(
        f"{BASE}payments-patching/",
        {
            "duration_minutes": 240,
            "platforms": [],
            "rrule": "FREQ=MONTHLY;BYDAY=-1SU",
            "exdates": [],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["duration_minutes"] == 240 and body["platforms"] == []
    assert body["when"] == "Last Sunday of every month, 02:00–06:00 Europe/Berlin"
    assert body["labels"] == {"team": "payments"}  # unchanged
    record = MaintenanceWindow.history.filter(id=patching.pk).latest("history_date")
    assert record.history_change_reason == "changed: duration_minutes, exdates, platforms, rrule"
    assert record.history_user == users["operator"]
    response = client.patch(f"{BASE}payments-patching/", {}, format="json")
    assert errors(response) == {"": "Give at least one setting to change."}
    response = client.patch(f"{BASE}payments-patching/", {"cutoff_minutes": 300}, format="json")
    assert errors(response) == {"cutoff_minutes": "must be shorter than the duration (240 minutes)"}


def test_delete(api, users, patching):
    response = api(users["operator"]).delete(f"{BASE}payments-patching/")
    assert response.status_code == 204
    assert not MaintenanceWindow.objects.exists()


def test_occurrences(api, users, patching):
    client = api(users["viewer"])
    body = client.get(f"{BASE}payments-patching/occurrences/", {"limit": 3}).json()
    assert body["window"] == "payments-patching" and body["timezone"] == "Europe/Berlin"
    assert [o["text"] for o in body["occurrences"]] == [
        "Sat 11 Jan 2031 02:00–05:00 CET",
        "Sat 8 Feb 2031 02:00–05:00 CET",
        "Sat 12 Apr 2031 02:00–05:00 CEST",  # 8 March is an exception date
    ]
    assert body["occurrences"][2]["start"] == "2031-04-12T00:00:00Z"
    body = client.get(
        f"{BASE}payments-patching/occurrences/",
        {"from": "2031-06-01T00:00:00Z", "until": "2031-09-01T00:00:00Z"},
    ).json()
    assert [o["start"][:10] for o in body["occurrences"]] == [
        "2031-06-14",
        "2031-07-12",
        "2031-08-09",
    ]
    response = client.get(
        f"{BASE}payments-patching/occurrences/",
        {"from": "2031-06-01T00:00:00Z", "until": "2031-05-01T00:00:00Z", "limit": 0},
    )
    assert set(errors(response)) == {"limit"}
    response = client.get(
        f"{BASE}payments-patching/occurrences/",
        {"from": "2031-06-01T00:00:00Z", "until": "2031-05-01T00:00:00Z"},
    )
    assert errors(response) == {"until": "must be after 'from'"}


def test_calendar_with_a_conflict(api, users, patching):
    window_services.window_create(user=users["operator"], data=FREEZE)
    client = api(users["viewer"])
    body = client.get(
        f"{BASE}calendar/", {"from": "2031-01-06", "weeks": 1, "tz": "Europe/Berlin"}
    ).json()
    assert body["start"] == "2031-01-05T23:00:00Z" and body["end"] == "2031-01-12T23:00:00Z"
    rows = [(o["window"], o["kind"], o["text"]) for o in body["occurrences"]]
    assert rows == [
        ("payments-patching", "maintenance", "Sat 11 Jan 2031 02:00–05:00 CET"),
        ("core-switch-freeze", "blackout", "Sat 11 Jan 2031 03:00–04:00 CET"),
    ]
    assert all(len(o["conflicts"]) == 1 for o in body["occurrences"])
    assert body["conflicts"] == [
        {
            "maintenance": "payments-patching",
            "maintenance_start": "2031-01-11T01:00:00Z",
            "blackout": "core-switch-freeze",
            "blackout_start": "2031-01-11T02:00:00Z",
            "text": "blackout 'core-switch-freeze' (Sat 11 Jan 2031 03:00–04:00 CET) overlaps "
            "maintenance window 'payments-patching' (Sat 11 Jan 2031 02:00–05:00 CET)",
        }
    ]
    assert set(errors(client.get(f"{BASE}calendar/", {"weeks": 13}))) == {"weeks"}
    assert errors(client.get(f"{BASE}calendar/", {"tz": "Mars/Base"}))["tz"].startswith(
        "'Mars/Base' is not an IANA time zone"
    )


def test_export_and_import_round_trip(api, users, patching):
    client = api(users["viewer"])
    response = client.get(f"{BASE}export.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="maintenance-windows.ics"'
    ics = response.content
    assert b"SUMMARY:payments-patching" in ics
    one = client.get(
        f"{BASE}export.ics", {"name": "payments-patching"}, HTTP_ACCEPT="text/calendar"
    )
    assert one.status_code == 200
    assert one["Content-Disposition"] == 'attachment; filename="payments-patching.ics"'

    operator = api(users["operator"])
    response = operator.post(f"{BASE}import/", ics, content_type="text/calendar")
    assert response.status_code == 400
    assert errors(response) == {
        "events/0/SUMMARY": "a window named 'payments-patching' already exists (import with "
        "replace to update it)"
    }
    response = operator.post(f"{BASE}import/?replace=true", ics, content_type="text/calendar")
    assert response.status_code == 201, response.json()
    assert response.json()["imported"] == ["payments-patching"]

    patching.delete()
    response = operator.post(f"{BASE}import/", {"file": _file(ics)}, format="multipart")
    assert response.status_code == 201, response.json()
    window = response.json()["windows"][0]
    assert window["name"] == "payments-patching" and window["platforms"] == ["lab-a"]
    assert window["rrule"] == "FREQ=MONTHLY;BYDAY=2SA" and window["cutoff_minutes"] == 30


def test_import_problems_name_their_event(api, users, lab):
    bad = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        b"BEGIN:VEVENT\r\nUID:a@x\r\nSUMMARY:ok-window\r\nDTSTART:20310101T020000Z\r\n"
        b"DURATION:PT1H\r\nCATEGORIES:maintenance\r\n"
        b'X-VMPERSONA-SCOPE:{"platforms": ["lab-b"]}\r\nEND:VEVENT\r\n'
        b"BEGIN:VEVENT\r\nUID:b@x\r\nSUMMARY:b\r\nDTSTART;VALUE=DATE:20310101\r\n"
        b"CATEGORIES:blackout\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    client = api(users["operator"])
    response = client.post(f"{BASE}import/", bad, content_type="text/calendar")
    assert response.status_code == 400
    found = errors(response)
    assert any(path.startswith("events/1/") for path in found), found
    assert not MaintenanceWindow.objects.exists()
    response = client.post(f"{BASE}import/", {}, format="multipart")
    assert set(errors(response)) == {"file"}
    response = client.post(
        f"{BASE}import/",
        bad.replace(
            b"SUMMARY:b\r\nDTSTART;VALUE=DATE:20310101",
            b"SUMMARY:b\r\nDTSTART:20310101T020000Z\r\nDURATION:PT1H",
        ),
        content_type="text/calendar",
    )
    assert errors(response) == {"events/0/platforms/0": "no platform named 'lab-b'"}


def _file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("windows.ics", content, content_type="text/calendar")


def test_the_schema_documents_the_window_endpoints(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    expected = {
        ("/api/v1/windows/", "get"),
        ("/api/v1/windows/", "post"),
        ("/api/v1/windows/{name}/", "get"),
        ("/api/v1/windows/{name}/", "patch"),
        ("/api/v1/windows/{name}/", "delete"),
        ("/api/v1/windows/{name}/occurrences/", "get"),
        ("/api/v1/windows/calendar/", "get"),
        ("/api/v1/windows/export.ics", "get"),
        ("/api/v1/windows/import/", "post"),
    }
    assert expected <= {(p, m) for p, item in paths.items() for m in item}
    assert (
        "text/calendar" in paths["/api/v1/windows/export.ics"]["get"]["responses"]["200"]["content"]
    )
    assert {"400", "403"} <= set(paths["/api/v1/windows/import/"]["post"]["responses"])
    assert {"400", "403", "404"} <= set(paths["/api/v1/windows/{name}/"]["patch"]["responses"])
