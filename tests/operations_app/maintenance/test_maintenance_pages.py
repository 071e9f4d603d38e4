"""The host maintenance pages as each role sees them: the platform list's badge, the
platform page's Maintenance panel in each state, the form with its evacuation plan
preview and the confirmation (the plan carried signed), ending it, a maintenance's
record, the admin, and the clone and migrate forms refusing a platform in maintenance
beside their field.

The plan's facts come from rows and libvirt's test driver (``support.fleet``); the
adaptation dry run is answered from a table (``support.answer_dry_runs``). No worker
runs: the moves the tick starts stay queued.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from operations_app.models import (
    HostMaintenance,
    JobKind,
    MaintenanceState,
    ManagedVM,
    OperationJob,
    Platform,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import maintenance as maintenance_services
from operations_app.views import maintenance as maintenance_views
from tests.operations_app.job_support import unmanaged_vm
from tests.operations_app.scheduling_support import blackout, tomorrow, window

from .support import answer_dry_runs, fleet

pytestmark = pytest.mark.django_db

PLATFORMS = reverse("operations:platforms")


def platform_url(name: str = "lab-a") -> str:
    return reverse("operations:platform", args=[name])


def form_url(name: str = "lab-a") -> str:
    return reverse("operations:platform_maintenance", args=[name])


def end_url(name: str = "lab-a") -> str:
    return reverse("operations:platform_maintenance_end", args=[name])


def text(response) -> str:
    """The page's text, tags dropped and whitespace folded, entities decoded."""
    body = re.sub(r"<style.*?</style>", " ", response.content.decode(), flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def section(response, element_id: str) -> str:
    """The text of the element with ``element_id`` (up to its closing tag of the same
    name, nesting counted)."""
    body = response.content.decode()
    start = body.index(f'id="{element_id}"')
    tag_start = body.rindex("<", 0, start)
    tag = re.match(r"<(\w+)", body[tag_start:]).group(1)
    depth, pos = 0, tag_start
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", body[tag_start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            pos = tag_start + m.end()
            break
    chunk = body[tag_start:pos]
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", chunk)).split())


def field_errors(response, path: str) -> list[str]:
    body = response.content.decode()
    return [
        " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", m)).split())
        for m in re.findall(
            rf'<span class="field-error"[^>]*data-path="{path}"[^>]*>(.*?)</span>', body, re.S
        )
    ]


def signed_plan(response) -> str:
    match = re.search(r'name="plan" value="([^"]+)"', response.content.decode())
    assert match, "no Confirm form with a plan"
    return match.group(1)


@pytest.fixture
def lab(users, monkeypatch, client):
    f = fleet(users, hosts=("lab-a", "lab-b", "lab-c"), vms=2)
    f["asked"] = answer_dry_runs(monkeypatch)
    f["a"], f["b"], f["c"] = (f["platforms"][n] for n in ("lab-a", "lab-b", "lab-c"))
    f["window"] = window(users, "host-work")
    unmanaged_vm(f["a"], "legacy-db", vcpus=2, memory_mib=1024)
    return f


def as_user(client, users, name="operator"):
    client.force_login(users[name])
    return client


def preview(client, **data):
    return client.post(
        form_url(),
        {"window": "host-work", "reason": "BIOS update", "action": "preview", **data},
    )


def confirm(client, plan: str, **data):
    return client.post(
        form_url(),
        {"window": "host-work", "reason": "BIOS update", "action": "start", "plan": plan, **data},
    )


def start(users, lab, **kw) -> HostMaintenance:
    return maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], **{"window": lab["window"], **kw}
    )


# --------------------------------------------------------------------------- in service


def test_an_operator_is_offered_maintenance_on_the_platform_page(client, users, lab):
    page = as_user(client, users).get(platform_url())
    assert page.status_code == 200
    panel = section(page, "maintenance")
    assert "in service" in panel and "Put into maintenance…" in panel
    assert f'href="{form_url()}"' in page.content.decode()
    assert 'id="maintenance-badge"' not in page.content.decode()


def test_others_see_the_state_but_no_button(client, users, lab):
    page = as_user(client, users, "viewer").get(platform_url())
    assert "in service" in section(page, "maintenance")
    assert "Put into maintenance" not in page.content.decode()
    start(users, lab)
    page = client.get(platform_url())
    panel = section(page, "maintenance")
    assert "Entering maintenance" in panel and "web-1" in panel
    assert 'id="maintenance-end"' not in page.content.decode()


def test_the_form_offers_the_maintenance_windows_with_their_next_occurrence(client, users, lab):
    blackout(users, "freeze", start=tomorrow(), minutes=60)
    window(users, "elsewhere", platforms=[lab["c"]])
    window(users, "switched-off", enabled=False)
    page = as_user(client, users).get(form_url())
    assert page.status_code == 200
    body = page.content.decode()
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', body)
    values = [v for v, _ in options]
    assert values[0] == "" and "Now, no window" in options[0][1]
    # enabled maintenance windows only, those covering lab-a first
    assert values[1:] == ["host-work", "elsewhere"]
    assert '<optgroup label="Windows covering this platform">' in body
    label = dict(options)["host-work"]
    assert re.search(r"host-work — next \w{3} \d+ \w{3} \d{4} 01:00–05:00 UTC \(in ", label), label
    assert "Move the VMs back when maintenance ends" in text(page)
    assert HostMaintenance.objects.count() == 0


def test_an_open_window_is_offered_as_open_until_it_closes(users, lab):
    from operations_app.forms.maintenance import MaintenanceStartForm
    from tests.operations_app.scheduling_support import OPENS

    inside = tomorrow() + OPENS + timedelta(minutes=5)
    form = MaintenanceStartForm(windows=[lab["window"]], covering=["host-work"], now=inside)
    day = inside.strftime("%a %-d %b %Y")
    assert form.fields["window"].widget.choices[1] == (
        "host-work",
        f"host-work — open now, until 05:00 ({day} 01:00–05:00 UTC)",
    )


def test_vms_wait_to_move_when_no_window_holds_them_back(client, users, lab):
    start(users, lab, window=None)
    page = as_user(client, users, "viewer").get(platform_url())
    assert "0 of 2 moved · 2 waits to move" in section(page, "maintenance-progress")
    assert "waits for the window" not in section(page, "maintenance-vms")


def test_others_get_the_form_refused(client, users, lab):
    page = as_user(client, users, "viewer").get(form_url())
    assert page.status_code == 403
    assert "needs the operators role" in text(page)
    assert 'id="maintenance-form"' not in page.content.decode()
    # and a direct POST: the service refuses, nothing is read or changed
    refused = preview(client)
    assert refused.status_code == 403 and lab["asked"] == []
    assert "viewer may not plan host maintenance: this needs the 'operators' role." in section(
        refused, "form-errors"
    )
    refused = confirm(client, "whatever")
    assert refused.status_code == 403
    assert "needs the 'operators' role" in section(refused, "form-errors")
    assert HostMaintenance.objects.count() == 0


# --------------------------------------------------------------------------- the preview


def test_the_preview_shows_the_plan_and_changes_nothing(client, users, lab):
    page = preview(as_user(client, users), move_back="on")
    assert page.status_code == 200
    assert HostMaintenance.objects.count() == 0 and OperationJob.objects.count() == 0
    verdict = section(page, "verdict")
    assert "Plan ready" in verdict and "All 2 managed VMs can move (2 live)." in verdict
    assert re.search(
        r"The VMs move in window 'host-work', next \w{3} \d+ \w{3} \d{4} 01:00–05:00 UTC "
        r"\(in \d+ \w+\) and come back when the maintenance ends\.",
        verdict,
    ), verdict
    moves = section(page, "plan-moves")
    for vm in ("web-1", "web-2"):
        assert vm in moves
    assert "1 vCPU · 512.0 MiB" in moves and "running, no changes" in moves
    assert moves.count("LIVE") == 0 and moves.lower().count("live") >= 2
    # every host's verdict: lab-a (the source) is not a candidate; lab-b and lab-c both
    # pass every filter, one chosen, with its scores
    assert "Every host's verdict (2 hosts)" in moves
    assert "chosen" in moves and "✓ memory capacity" in moves and "✓ dry run" in moves
    assert "memory headroom +" in moves
    assert "legacy-db" in section(page, "plan-unmanaged")
    hosts = section(page, "plan-hosts")
    assert "lab-b" in hosts and "lab-c" in hosts and "lab-a" not in hosts
    assert re.search(r"Memory → 0 % → 13 %", hosts), hosts  # the meters, then the figures
    # the Confirm form repeats the request with the plan, signed
    body = page.content.decode()
    assert 'name="move_back" value="on"' in body
    assert 'name="window" value="host-work"' in body
    payload = signing.loads(signed_plan(page), salt=maintenance_views.PLAN_SALT)
    assert payload["platform"] == "lab-a" and payload["user"] == users["operator"].pk
    assert {m["vm"] for m in payload["plan"]["moves"]} == {"web-1", "web-2"}


def test_vms_nothing_can_take_are_shown_with_the_reason(client, users, lab, monkeypatch):
    refused = DryRunVerdict(False, reason="the target has no network 'storage-net'")
    answer_dry_runs(monkeypatch, {("web-2", "lab-b"): refused, ("web-2", "lab-c"): refused})
    page = preview(as_user(client, users))
    assert page.status_code == 200
    verdict = section(page, "verdict")
    assert "Not every VM can move" in verdict and "1 of 2 managed VMs cannot move now" in verdict
    stuck = section(page, "plan-unmovable")
    assert "web-2" in stuck and "cannot be moved" in stuck
    assert "no platform can take it" in stuck and "storage-net" in stuck
    assert "refused by dry run" in stuck
    # it may still be confirmed: the tick tries it again in each occurrence
    assert 'id="maintenance-confirm"' in page.content.decode()


def test_a_host_that_cannot_be_reached_is_said_at_the_top(client, users, lab):
    Platform.objects.filter(pk=lab["a"].pk).update(uri="test:///no/such/host.xml")
    page = preview(as_user(client, users))
    assert page.status_code == 409
    errors = section(page, "form-errors")
    assert "lab-a cannot be reached" in errors
    assert 'id="maintenance-confirm"' not in page.content.decode()


def test_an_unknown_window_or_a_long_reason_is_said_beside_its_field(client, users, lab):
    page = preview(as_user(client, users), window="no-such-window")
    assert page.status_code == 400
    assert field_errors(page, "window") == [
        "Maintenance window: There is no maintenance window named 'no-such-window'."
    ]
    page = preview(client, reason="x" * 501)
    assert page.status_code == 400
    assert "at most 500 characters" in " ".join(field_errors(page, "reason"))
    assert lab["asked"] == []


# --------------------------------------------------------------------------- confirming


def test_confirming_starts_the_maintenance_with_the_plan_shown(client, users, lab):
    shown = preview(as_user(client, users), move_back="on")
    plan = signing.loads(signed_plan(shown), salt=maintenance_views.PLAN_SALT)["plan"]
    asked = len(lab["asked"])
    done = confirm(client, signed_plan(shown), move_back="on")
    assert done.status_code == 302 and done["Location"] == platform_url() + "#maintenance"
    assert len(lab["asked"]) == asked  # not worked out again
    m = HostMaintenance.objects.get()
    assert m.state == MaintenanceState.ENTERING and m.window == lab["window"]
    assert m.move_back and m.reason == "BIOS update" and m.requested_by == users["operator"]
    assert m.plan == plan

    page = client.get(done["Location"])
    assert "lab-a is entering maintenance" in text(page)
    assert "its 2 managed VMs move away inside window 'host-work'" in text(page)
    assert section(page, "maintenance-badge") == "Entering maintenance · host-work"
    panel = section(page, "maintenance")
    assert "Entering maintenance: no new VMs are placed here" in panel
    assert "host-work" in panel and "next" in panel
    assert "by operator" in panel and "BIOS update" in panel
    assert "0 of 2 moved · 2 waits for the window" in panel
    assert "legacy-db" in section(page, "maintenance-unmanaged")
    end = page.content.decode()
    assert re.search(r'name="move_back" id="id_end_move_back" checked', end)


def test_a_forged_old_or_foreign_plan_is_refused(client, users, lab, monkeypatch):
    as_user(client, users)
    page = confirm(client, "not-a-signed-plan")
    assert page.status_code == 400
    assert "preview the plan first" in section(page, "form-errors")
    forged = signing.dumps(
        {"platform": "lab-b", "user": users["operator"].pk, "plan": {}},
        salt=maintenance_views.PLAN_SALT,
        compress=True,
    )
    page = confirm(client, forged)
    assert page.status_code == 400 and "not for this platform" in section(page, "form-errors")
    shown = preview(client)
    monkeypatch.setattr(maintenance_views, "PLAN_MAX_AGE", -1)
    page = confirm(client, signed_plan(shown))
    assert page.status_code == 400
    assert "more than" in section(page, "form-errors") and "preview it again" in text(page)
    assert HostMaintenance.objects.count() == 0


def test_a_blackout_is_refused_beside_the_window_field(client, users, lab):
    blackout(users, "freeze", start=tomorrow(), minutes=60)
    shown = preview(as_user(client, users), window="freeze")
    assert shown.status_code == 200  # the plan does not depend on the window
    page = confirm(client, signed_plan(shown), window="freeze")
    assert page.status_code == 400
    (error,) = field_errors(page, "window")
    assert "'freeze' is a blackout; maintenance needs a maintenance window." in error
    # the plan stays in view, the Confirm button does not: preview again once fixed
    assert 'id="plan-moves"' in page.content.decode()
    assert 'id="maintenance-confirm"' not in page.content.decode()
    assert HostMaintenance.objects.count() == 0


def test_without_a_window_and_without_managed_vms_it_is_in_maintenance_at_once(client, users, lab):
    ManagedVM.objects.filter(platform=lab["a"], managed=True).delete()
    shown = preview(as_user(client, users), window="")
    assert "No managed VM to move" in section(shown, "verdict")
    assert "at once" in section(shown, "verdict")
    done = confirm(client, signed_plan(shown), window="")
    assert done.status_code == 302
    assert HostMaintenance.objects.get().state == MaintenanceState.IN_MAINTENANCE
    page = client.get(platform_url())
    assert "lab-a is in maintenance: it had no managed VM to move." in text(page)
    assert section(page, "maintenance-badge") == "In maintenance"
    assert "none: the VMs move at once" in section(page, "maintenance-window")
    assert "No managed VM to move." in section(page, "maintenance")


def test_starting_twice_is_refused(client, users, lab):
    shown = preview(as_user(client, users))
    start(users, lab)
    page = client.get(form_url())
    assert page.status_code == 409
    assert "lab-a is already entering maintenance" in section(page, "already")
    assert 'id="maintenance-form"' not in page.content.decode()
    again = preview(client)
    assert again.status_code == 409
    page = confirm(client, signed_plan(shown))
    assert page.status_code == 409
    assert "already entering maintenance" in section(page, "form-errors")
    assert HostMaintenance.objects.count() == 1


# --------------------------------------------------------------------------- progress and end


def test_the_progress_table_links_each_move_to_its_job(client, users, lab):
    start(users, lab, window=None)
    maintenance_services.maintenance_tick(now=timezone.now())
    jobs = list(OperationJob.objects.filter(kind=JobKind.MIGRATE).order_by("vm_name"))
    assert [j.vm_name for j in jobs] == ["web-1", "web-2"]
    page = as_user(client, users, "viewer").get(platform_url())
    table = section(page, "maintenance-vms")
    assert "moving" in table and "LIVE" not in table
    body = page.content.decode()
    for job in jobs:
        assert f'href="{reverse("operations:job", args=[job.pk])}">#{job.pk}</a>' in body
        assert job.platform.name in table
    assert "running, no changes" in table
    assert "0 of 2 moved · 2 moving" in section(page, "maintenance-progress")


def test_ending_puts_it_back_in_service_and_moves_the_vms_back_if_asked(client, users, lab):
    m = start(users, lab, move_back=True)
    web1 = lab["vms"][0]
    ManagedVM.objects.filter(pk=web1.pk).update(platform=lab["b"])
    m.vms["web-1"].update(status="moved", target="lab-b", path="live")
    m.vms["web-2"].update(status="unmovable", reason="no platform can take it")
    HostMaintenance.objects.filter(pk=m.pk).update(vms=m.vms)

    done = as_user(client, users).post(end_url(), {"move_back": "on"})
    assert done.status_code == 302 and done["Location"] == platform_url() + "#maintenance"
    m.refresh_from_db()
    assert m.state == MaintenanceState.ENDED and m.ended_by == users["operator"]
    back = OperationJob.objects.get(kind=JobKind.MIGRATE)
    assert back.vm_name == "web-1" and back.platform == lab["a"]
    page = client.get(done["Location"])
    assert f"lab-a is back in service. 1 VM moves back (job #{back.pk})." in text(page)
    assert "in service" in section(page, "maintenance")
    past = section(page, "maintenance-past")
    assert f"#{m.pk}" in past and "window host-work" in past

    record = client.get(reverse("operations:maintenance", args=["lab-a", m.pk]))
    assert record.status_code == 200
    assert section(record, "maintenance-state") == "Ended"
    vms = section(record, "maintenance-vms")
    assert "moved" in vms and f"back: #{back.pk}" in vms
    assert "left in place, maintenance ended first" in vms
    history = section(record, "history")
    assert "Entering maintenance by operator" in history and "Ended by operator" in history


def test_ending_without_the_box_ticked_moves_nothing_back(client, users, lab):
    m = start(users, lab, move_back=True)
    ManagedVM.objects.filter(pk=lab["vms"][0].pk).update(platform=lab["b"])
    m.vms["web-1"].update(status="moved", target="lab-b")
    HostMaintenance.objects.filter(pk=m.pk).update(vms=m.vms)
    done = as_user(client, users).post(end_url(), {})
    assert done.status_code == 302
    assert not OperationJob.objects.exists()
    assert HostMaintenance.objects.get().state == MaintenanceState.ENDED


def test_ending_is_refused_to_others_and_when_not_in_maintenance(client, users, lab):
    page = as_user(client, users).post(end_url(), {})
    assert page.status_code == 409
    assert "Could not end the maintenance of lab-a: Platform lab-a is not in maintenance." in text(
        page
    )
    start(users, lab)
    page = as_user(client, users, "viewer").post(end_url(), {"move_back": "on"})
    assert page.status_code == 403
    assert "Could not end the maintenance of lab-a" in text(page)
    assert HostMaintenance.objects.get().state == MaintenanceState.ENTERING
    assert client.get(end_url()).status_code == 405


def test_a_record_of_another_platform_is_not_found(client, users, lab):
    m = start(users, lab)
    as_user(client, users, "viewer")
    assert client.get(reverse("operations:maintenance", args=["lab-b", m.pk])).status_code == 404
    page = client.get(reverse("operations:maintenance", args=["lab-a", m.pk]))
    assert page.status_code == 200
    assert "No plan was recorded" in text(page)


def test_the_record_shows_the_plan_confirmed(client, users, lab):
    shown = preview(as_user(client, users))
    confirm(client, signed_plan(shown))
    m = HostMaintenance.objects.get()
    page = client.get(reverse("operations:maintenance", args=["lab-a", m.pk]))
    plan = section(page, "maintenance-plan")
    assert "All 2 managed VMs can move (2 live)." in plan
    assert "web-1" in plan and "legacy-db" in plan


# --------------------------------------------------------------------------- elsewhere


def test_the_platform_list_marks_platforms_in_maintenance(client, users, lab):
    start(users, lab)
    maintenance_services.maintenance_start(user=users["operator"], platform=lab["c"])
    page = as_user(client, users, "viewer").get(PLATFORMS)
    body = page.content.decode()
    badges = dict(re.findall(r'data-maintenance="(\w+)"[^>]*>([^<]+)</a>', body))
    assert badges == {
        "entering": "Entering maintenance · host-work",
        "in_maintenance": "In maintenance",
    }


def test_the_clone_form_refuses_a_platform_in_maintenance_beside_the_field(client, users, lab):
    start(users, lab)
    as_user(client, users)
    page = client.get(reverse("operations:clone"))
    options = dict(
        re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page.content.decode())
    )
    assert options["lab-a"] == "lab-a (entering maintenance)" and options["lab-b"] == "lab-b"
    page = client.post(
        reverse("operations:clone"),
        {"version": lab["version"].pk, "platform": "lab-a", "vm_name": "web-9", "when": "now"},
    )
    assert page.status_code == 400
    (error,) = field_errors(page, "platform")
    assert "Platform lab-a is entering maintenance for window 'host-work'" in error
    assert "no new VMs are placed there until its maintenance ends" in error


def test_the_migrate_form_refuses_a_platform_in_maintenance_beside_the_field(client, users, lab):
    maintenance_services.maintenance_start(user=users["operator"], platform=lab["c"])
    vm = lab["vms"][0]
    as_user(client, users)
    page = client.get(reverse("operations:vm_migrate", args=[vm.pk]))
    options = dict(
        re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page.content.decode())
    )
    assert options["lab-c"] == "lab-c (in maintenance)" and options["lab-b"] == "lab-b"
    page = client.post(
        reverse("operations:vm_migrate", args=[vm.pk]),
        {"target": "lab-c", "mode": "auto", "action": "migrate", "when": "now"},
    )
    assert page.status_code == 400
    (error,) = field_errors(page, "target")
    assert "Platform lab-c is in maintenance" in error
    assert not OperationJob.objects.exists()


def test_the_admin_shows_a_maintenance_read_only_and_readable(client, users, lab):
    shown = preview(as_user(client, users))
    confirm(client, signed_plan(shown))
    m = HostMaintenance.objects.get()
    client.force_login(users["admin"])
    listing = client.get("/admin/operations_app/hostmaintenance/")
    assert listing.status_code == 200 and "0 of 2 moved" in text(listing)
    page = client.get(f"/admin/operations_app/hostmaintenance/{m.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "waits for the window" in text(page)
    assert "&quot;moves&quot;: [" in body  # indented JSON, not one long line
    assert 'name="reason"' not in body  # read-only
    history = client.get(f"/admin/operations_app/hostmaintenance/{m.pk}/history/")
    assert history.status_code == 200
    done = client.post(
        "/admin/operations_app/hostmaintenance/",
        {"action": "end_maintenance", "_selected_action": [m.pk]},
    )
    assert done.status_code == 302
    assert HostMaintenance.objects.get().state == MaintenanceState.ENDED
