"""The admin saves windows through the service: its checks beside each field, one
history row per change, operators only."""

from __future__ import annotations

import pytest
from django.test import Client

from operations_app.models import MaintenanceWindow
from tests.operations_app.job_support import make_platform

pytestmark = pytest.mark.django_db

ADD = "/admin/operations_app/maintenancewindow/add/"
LIST = "/admin/operations_app/maintenancewindow/"


def form(**changes):
    return {
        "name": "patch-night",
        "kind": "maintenance",
        "timezone": "Europe/Berlin",
        "start_date": "2026-01-01",
        "start_time": "02:00",
        "duration_minutes": "180",
        "rrule": "FREQ=MONTHLY;BYDAY=2SA",
        "exdates": "[]",
        "cutoff_minutes": "30",
        "enabled": "on",
        "description": "",
        "webhook_url": "",
        "execution_flags": "[]",
        "labels": "{}",
        **changes,
    }


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_adds_through_the_service(users):
    lab = make_platform("lab-a")
    client = client_for(users["admin"])
    response = client.post(ADD, form(platforms=[str(lab.pk)]))
    assert response.status_code == 302, response.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    assert [p.name for p in window.platforms.all()] == ["lab-a"]
    (row,) = window.history.all()
    assert (row.history_user, row.history_change_reason) == (users["admin"], "window created")
    assert client.get(LIST).status_code == 200
    assert b"Second Saturday of every month" in client.get(LIST).content


def test_the_admin_shows_the_rule_problems_beside_their_fields(users):
    response = client_for(users["admin"]).post(
        ADD, form(rrule="FREQ=HOURLY", exdates='["2026-01-02"]', labels='{"team": "a b"}')
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "at most daily" in errors["rrule"][0]
    assert "labels/team" in errors["labels"][0]
    assert not MaintenanceWindow.objects.exists()


def test_staff_without_the_operators_role_may_not_add(users):
    viewer = users["viewer"]
    viewer.is_staff = True
    viewer.save()
    from django.contrib.auth.models import Permission

    viewer.user_permissions.set(Permission.objects.filter(codename__endswith="maintenancewindow"))
    response = client_for(viewer).post(ADD, form())
    assert response.status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_the_admin_changes_through_the_service_and_shows_the_history(users):
    lab = make_platform("lab-a")
    client = client_for(users["admin"])
    client.post(ADD, form())
    window = MaintenanceWindow.objects.get()
    change = f"{LIST}{window.pk}/change/"
    response = client.post(change, form(cutoff_minutes="10", platforms=[str(lab.pk)]))
    assert response.status_code == 302, response.content.decode()[:2000]
    window.refresh_from_db()
    assert window.cutoff_minutes == 10 and [p.name for p in window.platforms.all()] == ["lab-a"]
    rows = list(window.history.order_by("history_date", "history_id"))
    assert [r.history_change_reason for r in rows] == [
        "window created",
        "changed: cutoff_minutes, platforms",
    ]
    assert client.get(f"{LIST}{window.pk}/history/").status_code == 200
