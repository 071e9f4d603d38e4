"""Job pages, the clone form, decommissioning and notifications as each role sees them."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from operations_app.models import (
    JobStatus,
    ManagedVM,
    Notification,
    OperationJob,
    Severity,
)
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from tests.browser import log_in, shot
from tests.operations_app.job_support import (
    CHECKS,
    approved_version,
    clone_job,
    drive,
    make_platform,
    managed_vm,
)
from vmpersona.realtime import redis_channel_layer

pytestmark = pytest.mark.django_db

ROLES_SEEING_ALL = ("admin", "operator", "approver", "viewer")


def page(client, user, path, **params):
    client.force_login(user)
    response = client.get(path, params)
    return response, response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def setup(users):
    version = approved_version(users)
    platform = make_platform()
    return version, platform


@pytest.fixture
def finished(users, setup):
    """A clone that succeeded and one that was rolled back, and one still queued."""
    version, platform = setup
    ok = drive(clone_job(users, vm_name="web-ok", version=version, platform=platform))
    bad = drive(
        clone_job(users, vm_name="web-bad", version=version, platform=platform),
        outcome="fail_check",
    )
    queued = clone_job(users, by="author", vm_name="web-queued", version=version, platform=platform)
    return ok, bad, queued


# --- list -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES_SEEING_ALL)
def test_job_list_shows_every_job_to_roles_that_see_all(client, users, finished, role):
    response, html = page(client, users[role], reverse("operations:jobs"))
    assert response.status_code == 200
    for job in finished:
        assert f'data-job="{job.pk}"' in html
    assert "jb-succeeded" in html and "jb-rolled_back" in html and "jb-queued" in html
    assert "web@1" in html and "lab" in html
    assert "You see the jobs you requested" not in html


def test_job_list_shows_others_only_their_own_jobs(client, users, finished):
    ok, bad, queued = finished
    response, html = page(client, users["author"], reverse("operations:jobs"))
    assert response.status_code == 200
    assert f'data-job="{queued.pk}"' in html
    assert f'data-job="{ok.pk}"' not in html and f'data-job="{bad.pk}"' not in html
    assert "You see the jobs you requested" in html
    response, html = page(client, users["author2"], reverse("operations:jobs"))
    assert "No jobs yet." in html


def test_job_list_filters(client, users, finished):
    ok, bad, queued = finished
    url = reverse("operations:jobs")

    def shown(**params):
        _, html = page(client, users["operator"], url, **params)
        return {int(pk) for pk in re.findall(r'data-job="(\d+)"', html)}

    assert shown() == {ok.pk, bad.pk, queued.pk}
    assert shown(status="succeeded") == {ok.pk}
    assert shown(status="active") == {queued.pk}
    assert shown(kind="clone", platform="lab") == {ok.pk, bad.pk, queued.pk}
    assert shown(kind="decommission") == set()
    assert shown(platform="elsewhere") == set()
    assert shown(vm="web-bad") == {bad.pk}
    assert shown(mine="1") == {ok.pk, bad.pk}
    assert shown(status="bogus") == {ok.pk, bad.pk, queued.pk}  # ignored, not an error


# --- detail -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES_SEEING_ALL)
def test_job_page_renders_everything_up_to_its_last_event(client, users, finished, role):
    ok, bad, _ = finished
    response, html = page(client, users[role], reverse("operations:job", args=[bad.pk]))
    assert response.status_code == 200
    assert response.context["last_seq"] == bad.event_seq
    assert f'data-after="{bad.event_seq}"' in html
    assert f'data-ws="/ws/jobs/{bad.pk}/"' in html
    assert f"/api/v1/jobs/{bad.pk}/events/" in html
    assert "js/job_live.js" in html
    # Header: what failed and why.
    assert 'id="job-error"' in html and "Verification failed: 1 of 5 checks" in html
    assert "eth0 on network default (/network_configuration/interfaces/0)" in html
    assert bad.profile_version.get_absolute_url() in html
    assert bad.content_hash[:10] in html
    # Steps, log, checks.
    assert html.count('class="st-') >= 3
    assert "define_domain" in html and "Define the domain" in html
    assert "domain started; waiting for the guest agent" in html
    assert "status → rolled_back" in html
    for _, pointer, *_ in CHECKS:
        assert pointer in html
    assert 'class="fail"' in html and "isolated" in html
    assert "jb-fail" in html
    # A finished job cannot be cancelled.
    assert "job-cancel-form" not in html


def test_job_page_offers_cancel_to_operators_and_the_requester_only(client, users, finished):
    _, _, queued = finished  # requested by "author"
    url = reverse("operations:job", args=[queued.pk])
    for name, offered in (
        ("operator", True),
        ("admin", True),
        ("author", True),
        ("viewer", False),
        ("approver", False),
    ):
        response, html = page(client, users[name], url)
        assert response.status_code == 200
        assert ("job-cancel-form" in html) is offered, name
        assert ('data-confirm="Cancel job' in html) is offered


def test_job_page_is_404_for_someone_who_may_not_see_it(client, users, finished):
    ok, _, queued = finished
    response, _ = page(client, users["author2"], reverse("operations:job", args=[queued.pk]))
    assert response.status_code == 404
    response, _ = page(client, users["author"], reverse("operations:job", args=[ok.pk]))
    assert response.status_code == 404
    response, _ = page(client, users["author"], reverse("operations:job_report", args=[ok.pk]))
    assert response.status_code == 404
    response, _ = page(client, users["operator"], reverse("operations:job", args=[999999]))
    assert response.status_code == 404


def test_job_page_needs_a_login(client, finished):
    response = client.get(reverse("operations:job", args=[finished[0].pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_job_page_costs_a_constant_number_of_queries(client, users, setup):
    version, platform = setup
    small = drive(clone_job(users, vm_name="small", version=version, platform=platform))
    client.force_login(users["viewer"])

    def queries(job) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("operations:job", args=[job.pk])).status_code == 200
        return len(captured)

    before = queries(small)
    for n in range(20):
        event_services.job_log(job=small, message=f"more {n}")
    step = job_services.step_start(job=small, index=3, name="extra")
    job_services.step_finish(step=step, status="succeeded", output="x")
    assert queries(small) == before


# --- cancel ------------------------------------------------------------------------------------


def test_operator_cancels_a_queued_job(client, users, finished):
    _, _, queued = finished
    client.force_login(users["operator"])
    response = client.post(reverse("operations:job_cancel", args=[queued.pk]), follow=True)
    assert response.status_code == 200
    queued.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED and queued.cancel_requested
    assert any("cancelled before it started" in m for m in messages_of(response))
    assert "jb-cancelled" in response.content.decode()


def test_cancelling_a_running_job_asks_it_to_stop(client, users, setup):
    version, platform = setup
    job = clone_job(users, version=version, platform=platform)
    job = job_services.job_transition(job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED])
    client.force_login(users["operator"])
    response = client.post(reverse("operations:job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.cancel_requested
    assert any("stops and rolls back" in m for m in messages_of(response))
    html = response.content.decode()
    assert 'id="job-cancelling" class="jb jb-rolling_back">' in html  # shown, not hidden


def test_viewers_cannot_cancel(client, users, finished):
    _, _, queued = finished
    client.force_login(users["viewer"])
    response = client.post(reverse("operations:job_cancel", args=[queued.pk]), follow=True)
    queued.refresh_from_db()
    assert queued.status == JobStatus.QUEUED and not queued.cancel_requested
    assert any("Only operators or the job's requester" in m for m in messages_of(response))


def test_cancel_of_a_finished_job_is_refused(client, users, finished):
    ok, _, _ = finished
    client.force_login(users["operator"])
    response = client.post(reverse("operations:job_cancel", args=[ok.pk]), follow=True)
    assert any("already ended" in m for m in messages_of(response))
    ok.refresh_from_db()
    assert ok.status == JobStatus.SUCCEEDED


def test_cancel_is_post_only(client, users, finished):
    client.force_login(users["operator"])
    response = client.get(reverse("operations:job_cancel", args=[finished[2].pk]))
    assert response.status_code == 405


# --- report ------------------------------------------------------------------------------------


def test_report_itemises_every_check_with_a_summary(client, users, finished):
    ok, bad, _ = finished
    response, html = page(
        client, users["approver"], reverse("operations:job_report", args=[bad.pk])
    )
    assert response.status_code == 200
    assert response.context["summary"] == {"total": 5, "passed": 4, "failed": 1}
    assert "1 of 5 checks failed" in html
    for section in ("resources", "network", "security", "applications"):
        assert f"<h2>{section} " in html
    for _, pointer, name, *_ in CHECKS:
        assert pointer in html and name in html
    assert 'data-action="print"' in html and "@media print" in html

    response, html = page(client, users["viewer"], reverse("operations:job_report", args=[ok.pk]))
    assert "All 5 checks passed" in html and "FAIL</span>" not in html


def test_report_of_a_job_without_checks(client, users, finished):
    _, _, queued = finished
    _, html = page(client, users["operator"], reverse("operations:job_report", args=[queued.pk]))
    assert "No checks recorded" in html and "no verification checks yet" in html


# --- clone form ----------------------------------------------------------------------------------


def test_clone_form_lists_approved_versions_by_profile_and_enabled_platforms(client, users, setup):
    approved_version(users, "db")
    make_platform("off").__class__.objects.filter(name="off").update(enabled=False)
    response, html = page(client, users["operator"], reverse("operations:clone"))
    assert response.status_code == 200
    assert '<optgroup label="db">' in html and '<optgroup label="web">' in html
    assert ">web@1 · Testing</option>" in html
    assert '<option value="lab">lab</option>' in html
    assert 'value="off"' not in html


def test_clone_form_is_prefilled_from_a_version_page(client, users, setup):
    version, _ = setup
    response, html = page(
        client, users["operator"], reverse("operations:clone"), profile="web", version="1"
    )
    assert response.context["form"].initial["version"] == version.pk
    assert f'<option value="{version.pk}" selected>' in html


def test_clone_form_warns_about_a_version_that_is_not_approved(client, users, setup):
    from profiles_app.services import versions as version_services

    version, _ = setup
    version_services.version_create_draft(user=users["author"], policy=version.policy)
    response, html = page(
        client, users["operator"], reverse("operations:clone"), profile="web", version="2"
    )
    assert any("web@2 is draft; only approved versions" in m for m in messages_of(response))
    assert "version" not in response.context["form"].initial


def test_clone_request_redirects_to_the_job(client, users, setup):
    version, platform = setup
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:clone"),
        {"version": version.pk, "platform": "lab", "vm_name": "web-02"},
    )
    job = OperationJob.objects.get(vm_name="web-02")
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == "clone" and job.status == "queued" and job.requested_by == users["operator"]
    assert job.profile_version == version and job.platform == platform
    assert job.content_hash == version.content_hash


def test_clone_form_shows_service_errors_on_their_fields(client, users, setup):
    version, platform = setup
    ManagedVM.objects.create(platform=platform, name="taken", domain_uuid=uuid.uuid4())
    client.force_login(users["operator"])
    url = reverse("operations:clone")

    response = client.post(url, {"version": version.pk, "platform": "lab", "vm_name": "Bad_Name"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-path="vm_name"' in html and "lowercase letters, digits and dashes" in html
    assert response.context["form"].errors["vm_name"]
    # The error names the field as its label does, never by its internal name.
    error = re.search(r'data-path="vm_name">([^<]*)</span>', html).group(1)
    assert error.startswith("VM name: lowercase letters, digits and dashes")
    assert "vm_name" not in re.sub(r"<[^>]+>", " ", html.split('id="clone-form"', 1)[1])

    response = client.post(url, {"version": version.pk, "platform": "lab", "vm_name": "taken"})
    assert response.status_code == 400
    assert "a VM named &#x27;taken&#x27; already exists" in response.content.decode()

    clone_job(users, vm_name="busy", version=version, platform=platform)
    response = client.post(url, {"version": version.pk, "platform": "lab", "vm_name": "busy"})
    assert response.status_code == 409
    assert "already has an active job" in response.content.decode()
    assert 'id="form-errors"' in response.content.decode()

    response = client.post(url, {"version": "", "platform": "nowhere", "vm_name": ""})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"version", "platform", "vm_name"}
    assert OperationJob.objects.filter(vm_name__in=["Bad_Name", "taken"]).count() == 0


def test_service_errors_away_from_their_field_name_it_by_its_label():
    from django.core.exceptions import ValidationError

    from operations_app.forms.clone import CloneForm
    from vmpersona.errors import field_error

    class Form(CloneForm):
        service_error_fields = {"platform": "platform"}  # vm_name's errors go to the top

    form = Form({})
    form.is_valid()
    form.add_service_error(
        ValidationError(
            [
                field_error("vm_name", "a VM named 'x' already exists"),
                field_error("vm_name/suffix", "too long"),
                field_error("platform", "in maintenance"),
                field_error("/resource_allocation/vcpus", "more than the platform has"),
                field_error("profile", "no profile named 'web'"),
            ]
        )
    )
    assert form.errors["platform"][-1] == "in maintenance"
    assert form.non_field_errors() == [
        "VM name: a VM named 'x' already exists",
        "VM name › suffix: too long",
        "/resource_allocation/vcpus: more than the platform has",
        "profile: no profile named 'web'",
    ]


def test_moving_a_scheduled_job_names_the_fields_by_their_labels(client, users, setup):
    from datetime import timedelta

    from django.utils import timezone

    from operations_app.services import clones as clone_services

    version, platform = setup
    job = clone_services.job_request_clone(
        user=users["operator"],
        version=version,
        platform=platform,
        vm_name="web-s",
        at=timezone.now() + timedelta(days=1),
    )
    assert job.status == JobStatus.SCHEDULED
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:job_schedule", args=[job.pk]),
        {"when": "at", "at": "", "on_miss": "next"},
        follow=True,
    )
    problems = " ".join(messages_of(response))
    assert problems.startswith(f"Could not move job #{job.pk}: ")
    assert "Date and time: " in problems and "at:" not in problems


def test_clone_form_refuses_roles_that_may_not_clone(client, users, setup):
    version, _ = setup
    prod = approved_version(users, "payroll", flags=("Production",))
    data = {"platform": "lab", "vm_name": "x-1"}

    client.force_login(users["viewer"])
    response = client.post(reverse("operations:clone"), {**data, "version": version.pk})
    assert response.status_code == 403
    assert "needs the &#x27;operators&#x27; role" in response.content.decode()

    client.force_login(users["author"])
    response = client.post(reverse("operations:clone"), {**data, "version": prod.pk})
    assert response.status_code == 403
    assert "flagged Production" in response.content.decode()
    assert not OperationJob.objects.exists()

    # An author may clone a Testing profile.
    response = client.post(reverse("operations:clone"), {**data, "version": version.pk})
    assert response.status_code == 302


def test_clone_page_warns_users_without_the_role(client, users, setup):
    _, html = page(client, users["viewer"], reverse("operations:clone"))
    assert "Cloning needs the <strong>operators</strong> role" in html
    # A viewer is offered no form to fill in and no button to press.
    assert 'id="clone-form"' not in html and "Request clone" not in html
    _, html = page(client, users["viewer"], reverse("operations:jobs"))
    assert reverse("operations:clone") not in html
    # An author gets the form (they may clone Development and Testing profiles).
    _, html = page(client, users["author"], reverse("operations:clone"))
    assert 'id="clone-form"' in html and "Request clone" in html


def test_version_page_offers_clone_for_approved_versions(client, users, setup):
    from profiles_app.services import versions as version_services

    version, _ = setup
    url = version.get_absolute_url()
    _, html = page(client, users["operator"], url)
    assert 'id="clone-button"' in html and "/ops/clone/?profile=web&amp;version=1" in html
    _, html = page(client, users["viewer"], url)
    assert 'id="clone-button"' not in html
    draft = version_services.version_create_draft(user=users["author"], policy=version.policy)
    _, html = page(client, users["operator"], draft.get_absolute_url())
    assert 'id="clone-button"' not in html
    # An author may clone the Testing profile, not a Production one: its button is not
    # offered to them (and the service still refuses, see above).
    _, html = page(client, users["author"], url)
    assert 'id="clone-button"' in html
    prod = approved_version(users, "payroll", flags=("Production",))
    _, html = page(client, users["author"], prod.get_absolute_url())
    assert 'id="clone-button"' not in html
    _, html = page(client, users["operator"], prod.get_absolute_url())
    assert 'id="clone-button"' in html


# --- a cancelled job ---------------------------------------------------------------------------


def _cancelled_inside_a_step(users, version, platform, vm_name="web-c"):
    """A clone an operator cancels while its disks are copied: libvirt aborts the copy."""
    from operations_app.hypervisor.errors import OperationAborted
    from tests.operations_app.job_support import ScriptedRunner

    job = clone_job(users, by="author", vm_name=vm_name, version=version, platform=platform)

    class CancelledWhileCopying(ScriptedRunner):
        def _define(self):
            job_services.job_cancel(user=users["operator"], job=self.job)
            self.log("copying volume web-root")
            raise OperationAborted("the copy was aborted on request")

    job = OperationJob.objects.select_related("platform", "requested_by").get(pk=job.pk)
    CancelledWhileCopying(job).run()
    job.refresh_from_db()
    return job


def test_a_cancelled_job_says_cancelled_on_its_page_and_in_its_toast(client, users, setup):
    version, platform = setup
    job = _cancelled_inside_a_step(users, version, platform)
    assert job.status == JobStatus.CANCELLED

    response, html = page(client, users["author"], job.get_absolute_url())
    head = html[html.index('class="page-head"') : html.index('id="progress"')]
    assert '<span class="jb jb-cancelled" data-status="cancelled">Cancelled</span>' in head
    # Cancelled is what was asked for: a warning saying who cancelled, not an error.
    assert re.search(
        r'class="alert alert-warning job-error" id="job-error">\s*<strong id="job-error-title">Cancelled</strong>',
        html,
    )
    assert 'id="job-error-text">Cancelled by operator.<' in html
    steps = html[html.index('id="steps-table"') : html.index('id="steps-empty"')]
    assert 'class="st-cancelled"' in steps and ">Cancelled</span>" in steps
    assert "st-failed" not in steps and "jb-failed" not in steps
    assert 'class="jb jb-rolled_back"' not in html and "Rolled back" not in head
    # The rollback is in the log, as for any job that ends early.
    log = html[html.index('id="job-log"') : html.index("</section>", html.index('id="job-log"'))]
    assert "status → rolling_back" in log and "status → cancelled (rolled back)" in log
    # The toast and the bell say the same.
    note = Notification.objects.get(job=job, recipient=users["author"])
    assert note.severity == Severity.WARNING
    assert "was cancelled and rolled back: Cancelled by operator." in note.message
    assert "failed" not in note.message
    assert "was cancelled and rolled back" in html  # the bell lists it


# --- verification only where there is one -------------------------------------------------------


def test_jobs_that_do_not_verify_show_no_verification_section(client, users, setup, vm):
    from operations_app.services import decommissions as decommission_services
    from operations_app.services import snapshots as snapshot_services

    version, platform = setup
    clone = clone_job(users, vm_name="web-v", version=version, platform=platform)
    _, html = page(client, users["operator"], clone.get_absolute_url())
    assert 'id="verification"' in html and ">Verification report</a>" in html

    snapshot = snapshot_services.job_request_snapshot(user=users["operator"], vm=vm)
    job_services.job_cancel(user=users["operator"], job=snapshot)
    decommission = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    # Nor does a clone that ended before it verified anything.
    cancelled = _cancelled_inside_a_step(users, version, platform, vm_name="web-x")
    for job in (snapshot, decommission, cancelled):
        _, html = page(client, users["operator"], job.get_absolute_url())
        assert 'id="verification"' not in html and 'id="checks-table"' not in html
        assert "Verification report" not in html and "No verification yet" not in html
        assert 'id="steps"' in html and 'id="job-log"' in html


# --- durations in one unit system ----------------------------------------------------------------


def test_durations_read_the_same_on_the_job_page_and_in_the_cli(client, users, setup):
    from datetime import timedelta

    from django.utils import timezone

    from operations_app.models import JobStep
    from tests.operations_app.job_support import persona

    version, platform = setup
    job = drive(clone_job(users, vm_name="web-d", version=version, platform=platform))
    start = timezone.now() - timedelta(minutes=5)
    # The three steps took 11.389 s, 125 s and 0.85 s; the job 2 min 17 s.
    for step, took in zip(job.steps.order_by("index"), (11.389, 125, 0.85), strict=True):
        JobStep.objects.filter(pk=step.pk).update(
            started_at=start, finished_at=start + timedelta(seconds=took)
        )
    OperationJob.objects.filter(pk=job.pk).update(
        started_at=start, finished_at=start + timedelta(seconds=137)
    )
    _, html = page(client, users["operator"], job.get_absolute_url())
    steps = html[html.index('id="steps-table"') : html.index('id="steps-empty"')]
    durations = re.findall(r'<td class="step-duration num nowrap">([^<]*)</td>', steps)
    assert durations == ["11.4 s", "2 min 5 s", "850 ms"]
    assert 'id="job-duration">2 min 17 s<' in html
    assert "11389" not in html
    _, listing = page(client, users["operator"], reverse("operations:jobs"))
    assert "2 min 17 s" in listing

    code, out, _ = persona("job", str(job.pk))
    assert code == 0
    assert "2 min 17 s" in out and "11.4 s" in out and "2 min 5 s" in out and "850 ms" in out


# --- decommission -----------------------------------------------------------------------------


@pytest.fixture
def vm(setup):
    version, platform = setup
    return managed_vm(version, platform, "old-vm")


def test_operator_decommissions_a_vm(client, users, vm):
    client.force_login(users["operator"])
    response = client.post(reverse("operations:vm_decommission", args=[vm.pk]))
    job = OperationJob.objects.get(vm=vm)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == "decommission" and job.vm_name == "old-vm" and job.status == "queued"

    # A second request while the first is active is refused, with the reason.
    response = client.post(reverse("operations:vm_decommission", args=[vm.pk]), follow=True)
    assert any("already has an active job" in m for m in messages_of(response))
    assert OperationJob.objects.filter(vm=vm).count() == 1


def test_decommission_is_refused_for_viewers(client, users, vm):
    client.force_login(users["viewer"])
    response = client.post(reverse("operations:vm_decommission", args=[vm.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("operations:vm", args=[vm.pk])
    assert not OperationJob.objects.exists()
    response = client.get(response["Location"])
    assert any("may not decommission" in m for m in messages_of(response))


def test_vm_page_offers_decommission_to_operators(client, users, vm):
    url = reverse("operations:vm", args=[vm.pk])
    _, html = page(client, users["operator"], url)
    assert 'id="vm-decommission-form"' in html
    assert f'action="/ops/vms/{vm.pk}/decommission/"' in html
    assert 'data-confirm="Decommission old-vm?' in html
    _, html = page(client, users["viewer"], url)
    assert 'id="vm-decommission-form"' not in html
    assert "/ops/jobs/?vm=old-vm" in html


def test_decommission_button_partial(users, vm, rf):
    from django.template import loader

    template = loader.get_template("operations_app/job_vm_decommission.html")
    request = rf.get("/")
    html = template.render(
        {"vm": vm, "user": users["operator"], "user_roles": ["operators"]}, request
    )
    assert f'action="/ops/vms/{vm.pk}/decommission/"' in html and "data-confirm=" in html
    html = template.render({"vm": vm, "user": users["viewer"], "user_roles": ["viewers"]}, request)
    assert "decommission/" not in html and "?vm=old-vm" in html


# --- notifications --------------------------------------------------------------------------------


def test_bell_shows_unread_count_and_latest_notifications(client, users, setup):
    operator = users["operator"]
    for n in range(12):
        Notification.objects.create(
            recipient=operator, severity=Severity.ERROR, message=f"note {n}", link=f"/ops/jobs/{n}/"
        )
    Notification.objects.create(recipient=operator, message="seen", read=True)
    Notification.objects.create(recipient=users["viewer"], message="not yours")
    response, html = page(client, operator, reverse("operations:jobs"))
    assert re.search(r'id="notif-count">12</span>', html)
    items = re.findall(r'<li class="notif sev-(\w+)( unread)?" data-id="\d+">', html)
    assert len(items) == 10
    assert "note 11" in html and "not yours" not in html
    assert 'href="/ops/jobs/11/"' in html
    assert "js/notifications.js" in html and 'data-ws="/ws/notifications/"' in html


def test_bell_costs_two_queries_however_many_notifications(client, users, setup):
    client.force_login(users["viewer"])
    url = reverse("operations:jobs")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = queries()
    for n in range(30):
        Notification.objects.create(recipient=users["viewer"], message=f"n{n}")
    assert queries() == before


def test_mark_all_read_and_the_notifications_page(client, users, setup):
    viewer = users["viewer"]
    for n in range(3):
        Notification.objects.create(recipient=viewer, message=f"m{n}", severity=Severity.WARNING)
    other = Notification.objects.create(recipient=users["operator"], message="theirs")
    client.force_login(viewer)
    _, html = page(client, viewer, reverse("operations:notifications"))
    assert html.count('class="unread"') == 3 and "theirs" not in html

    response = client.post(
        reverse("operations:notifications_read"), {"next": reverse("operations:jobs")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("operations:jobs")
    assert not Notification.objects.filter(recipient=viewer, read=False).exists()
    other.refresh_from_db()
    assert other.read is False
    _, html = page(client, viewer, reverse("operations:jobs"))
    assert 'id="notif-count" hidden>0</span>' in html

    # An outside "next" is ignored.
    response = client.post(
        reverse("operations:notifications_read"), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("operations:notifications")
    _, html = page(client, viewer, reverse("operations:notifications"), unread="1")
    assert "Nothing unread." in html


@pytest.mark.django_db(transaction=True)  # the runner closes the connection after an error
def test_job_outcome_notifications_link_to_the_job(client, users, setup):
    version, platform = setup
    job = drive(clone_job(users, by="author", version=version, platform=platform), outcome="error")
    assert job.status == "errored"
    note = Notification.objects.get(recipient=users["author"], job=job)
    assert note.severity == "error" and note.link == job.get_absolute_url()
    _, html = page(client, users["author"], reverse("operations:notifications"))
    assert "hit an unexpected error and was rolled back" in html
    assert f'href="/ops/jobs/{job.pk}/"' in html


# --- in a real browser ---------------------------------------------------------------------------
# The job page in headless Chromium while a job runs. Set VMPERSONA_SCREENSHOTS=/some/dir
# to keep screenshots.

LOG_KINDS = ("log", "status", "cancel_requested")


def _make_asgi_app():
    from channels.routing import get_default_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(get_default_application())


def _forget_inherited_connections():
    # The server process is forked from this one: let it open its own database connections.
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.connection = None


@pytest.fixture
def asgi_server(settings):
    """Daphne serving the project (HTTP and websockets) in a child process, with the
    Redis channel layer, so pushes made here reach the browser through it."""
    import os

    from channels.layers import channel_layers
    from daphne.testing import DaphneProcess

    url = os.environ.get("VMPERSONA_TEST_REDIS_URL")
    if not url:
        pytest.skip("VMPERSONA_TEST_REDIS_URL is not set (scripts/test.sh starts a Redis)")
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(url, prefix=f"vmpersona-browser-{os.getpid()}")
    }
    channel_layers.backends.clear()
    process = DaphneProcess("127.0.0.1", _make_asgi_app, setup=_forget_inherited_connections)
    process.start()
    try:
        if not process.ready.wait(20):
            raise RuntimeError("daphne did not start")
        yield f"http://127.0.0.1:{process.port.value}"
    finally:
        process.terminate()
        process.join(10)
        channel_layers.backends.clear()


def _run_in_thread(job, outcome: str, pause: float):
    import threading

    def work():
        from django.db import connection

        try:
            drive(job, outcome=outcome, pause=pause)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _log_seqs(page) -> list[int]:
    return [
        int(s)
        for s in page.eval_on_selector_all("#job-log .ln", "els => els.map(e => e.dataset.seq)")
    ]


def _expected_log_seqs(job) -> list[int]:
    from operations_app.models import JobEvent

    return list(
        JobEvent.objects.filter(job=job, kind__in=LOG_KINDS)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


@pytest.fixture
def live_job(users, setup):
    """Requested before the browser starts (its push is made outside Playwright's loop)."""
    version, platform = setup
    return clone_job(users, vm_name="web-live", version=version, platform=platform)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_job_page_follows_a_running_job_live(live_job, asgi_server, browser_page, password):
    page, base, job = browser_page, asgi_server, live_job

    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    log_in(page, base, "operator", password("operator"))
    page.goto(f"{base}/ops/jobs/{job.pk}/")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
    assert _log_seqs(page) == [1]
    shot(page, "jobs-1-queued")

    worker = _run_in_thread(job, "fail_check", pause=0.4)
    page.wait_for_selector('#steps-table tr[data-index="1"].st-running')
    assert page.locator("#job-status .jb").inner_text() == "Running"
    shot(page, "jobs-2-running")

    # The connection drops in the middle; the page reconnects after its last seq.
    page.evaluate("window.VMPersonaJobLive.dropConnection()")
    page.wait_for_function(
        "() => document.getElementById('live-state').textContent.startsWith('reconnecting')"
    )
    page.wait_for_function(
        "() => ['live', 'finished'].includes(document.getElementById('live-state').textContent)"
    )
    job_sockets = [url for url in sockets if f"/ws/jobs/{job.pk}/" in url]
    assert job_sockets[0].endswith("?after=1")
    resumed_after = int(job_sockets[1].rsplit("after=", 1)[1])
    assert resumed_after > 1
    page.wait_for_selector('#checks-table tbody tr[data-index="2"].fail')
    shot(page, "jobs-3-verifying")

    page.wait_for_selector("#job-status .jb-rolled_back", timeout=30_000)
    page.wait_for_selector("#job-error:not([hidden])")
    worker.join(10)
    job.refresh_from_db()
    assert job.status == "rolled_back"
    page.wait_for_function(f"() => window.VMPersonaJobLive.lastSeq() === {job.event_seq}")

    # Everything arrived once, in order.
    assert _log_seqs(page) == _expected_log_seqs(job)
    assert page.locator("#steps-table tbody tr").count() == 3
    assert page.locator("#steps-table tbody tr.st-failed code").inner_text() == "verify"
    assert page.locator("#checks-table tbody tr").count() == len(CHECKS)
    assert page.locator("#checks-table tbody tr.fail").count() == 1
    assert page.locator("#checks-failed").inner_text() == "1 failed"
    assert "Verification failed: 1 of 5 checks" in page.locator("#job-error-text").inner_text()
    assert "eth0 on network default" in page.locator("#job-failing-check-text").inner_text()
    assert page.locator("#job-cancel-form").is_hidden()
    assert page.locator("#job-finished time").count() == 1
    assert page.locator("#result").is_visible()
    # The operator was told, live: a toast and the bell.
    page.wait_for_selector("#toasts .toast.sev-error")
    assert "failed and was rolled back" in page.locator("#toasts .toast").first.inner_text()
    assert page.locator("#notif-count").inner_text() == "1"
    shot(page, "jobs-4-rolled-back")

    # What a reload renders is what the live page showed.
    live_log = page.locator("#job-log").inner_text()
    live_checks = page.locator("#checks-table").inner_text()
    live_steps = [
        r.split("\t")[:3] for r in page.locator("#steps-table tbody").inner_text().splitlines()
    ]
    page.reload()
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'finished'")
    assert page.locator("#job-log").inner_text() == live_log
    assert page.locator("#checks-table").inner_text() == live_checks
    assert [
        r.split("\t")[:3] for r in page.locator("#steps-table tbody").inner_text().splitlines()
    ] == live_steps
    page.click("#notif-menu summary")
    shot(page, "jobs-5-reloaded-with-bell")

    page.goto(f"{base}/ops/jobs/{job.pk}/report/")
    assert "1 of 5 checks failed" in page.locator("#verdict").inner_text()
    shot(page, "jobs-6-report")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_job_page_polls_when_websockets_are_unavailable(
    live_job, live_server, browser_page, password
):
    page, base, job = browser_page, live_server.url, live_job
    page.add_init_script("window.WebSocket = undefined;")
    log_in(page, base, "viewer", password("viewer"))
    page.goto(f"{base}/ops/jobs/{job.pk}/")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'polling'")
    worker = _run_in_thread(job, "succeed", pause=0.1)
    page.wait_for_selector("#job-status .jb-succeeded", timeout=30_000)
    worker.join(10)
    job.refresh_from_db()
    page.wait_for_function(f"() => window.VMPersonaJobLive.lastSeq() === {job.event_seq}")
    assert _log_seqs(page) == _expected_log_seqs(job)
    assert page.locator("#job-progress-text").inner_text() == "100%"
    assert page.locator("#checks-table tbody tr.pass").count() == len(CHECKS)
    assert page.locator("#job-error").is_hidden()
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'finished'")
    shot(page, "jobs-7-polled")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_a_cancelled_job_reads_cancelled_in_a_browser(
    live_server, browser_page, users, setup, password, width, height
):
    version, platform = setup
    job = _cancelled_inside_a_step(users, version, platform)
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, base, "author", password("author"))
    page.goto(f"{base}{job.get_absolute_url()}")
    page.wait_for_selector("#live-state:has-text('finished')")
    assert page.locator("#job-status").inner_text() == "Cancelled"
    assert page.locator("#side-status").inner_text() == "Cancelled"
    assert page.locator("#job-error-title").inner_text() == "Cancelled"
    assert "alert-warning" in page.locator("#job-error").get_attribute("class")
    rows = page.locator("#steps-table tbody tr")
    assert rows.nth(1).locator(".step-status").inner_text() == "Cancelled"
    assert page.locator("#steps-table .jb-failed").count() == 0
    # The duration reads as everywhere else.
    assert re.fullmatch(r"\d+ ms|\d+\.\d s", page.locator("#job-duration").inner_text())
    # The bell's newest notification says what the page says.
    page.click("#notif-menu summary")
    assert "was cancelled and rolled back" in page.locator("#notif-list li").first.inner_text()
    shot(page, f"job-cancelled-{width}x{height}")
