"""The Snapshots panel of the VM page, taking a snapshot and rolling back from it.

Snapshot rows are made directly, as the snapshot runner records them; requesting a
snapshot or a rollback uses the real services. No worker runs, so the jobs stay queued.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.models import (
    JobKind,
    JobStatus,
    ManagedVM,
    OperationJob,
    SnapshotOrigin,
    VMSnapshot,
    VMState,
)
from tests.operations_app.job_support import approved_version, make_platform, managed_vm
from tests.operations_app.test_migrate_pages import text_of, visible

pytestmark = pytest.mark.django_db


def snapshot(vm, name, *, platform=None, minutes_ago=0, removed=None, **fields) -> VMSnapshot:
    row = VMSnapshot.objects.create(
        vm=vm, platform=platform or vm.platform, name=name, kind="internal", **fields
    )
    at = timezone.now() - timedelta(minutes=minutes_ago)
    update: dict = {"created_at": at}
    if removed:
        update.update(removed_at=at + timedelta(minutes=1), removed_reason=removed)
    VMSnapshot.objects.filter(pk=row.pk).update(**update)
    row.refresh_from_db()
    return row


@pytest.fixture
def setup(users):
    """web-01, running on lab, with a snapshot job behind its newest snapshot; three
    present snapshots (one taken on host-b before a migration) and one removed."""
    version = approved_version(users)
    lab = make_platform("lab")
    host_b = make_platform("host-b")
    vm = managed_vm(version, lab, "web-01", vcpus=1, memory_mib=512, last_seen=timezone.now())
    job = OperationJob.objects.create(
        kind=JobKind.SNAPSHOT,
        status=JobStatus.SUCCEEDED,
        platform=lab,
        vm=vm,
        vm_name=vm.name,
        profile_version=version,
        params={"description": "before the kernel update"},
    )
    rows = {
        "newest": snapshot(
            vm,
            "snap-7-20260101-120000",
            minutes_ago=5,
            with_memory=True,
            vm_state="running",
            description="before the kernel update",
            job=job,
        ),
        "older": snapshot(
            vm,
            "before-rollback-5-20260101-110000",
            minutes_ago=60,
            vm_state="shutoff",
            origin=SnapshotOrigin.BEFORE_ROLLBACK,
        ),
        "elsewhere": snapshot(
            vm,
            "before-migration-3-20260101-100000",
            platform=host_b,
            minutes_ago=120,
            vm_state="running",
            origin=SnapshotOrigin.MANUAL,
        ),
        "removed": snapshot(
            vm,
            "snap-1-20251231-090000",
            minutes_ago=24 * 60,
            vm_state="running",
            removed="retention (job #7)",
        ),
    }
    return {"vm": vm, "lab": lab, "host_b": host_b, "job": job, **rows}


def vm_url(vm) -> str:
    return reverse("operations:vm", args=[vm.pk])


def take_url(vm) -> str:
    return reverse("operations:vm_snapshot", args=[vm.pk])


def rollback_url(vm, snap) -> str:
    return reverse("operations:vm_snapshot_rollback", args=[vm.pk, snap.pk])


def panel_of(page: str) -> str:
    start = page.index('id="snapshots"')
    return page[start : page.index("</section>", start)]


def snapshot_jobs():
    return OperationJob.objects.filter(kind__in=[JobKind.SNAPSHOT, JobKind.ROLLBACK])


# --- the list -------------------------------------------------------------------------------


def test_the_panel_lists_present_snapshots_newest_first_and_folds_the_removed(client, users, setup):
    client.force_login(users["viewer"])
    response = client.get(vm_url(setup["vm"]))
    assert response.status_code == 200
    panel = panel_of(text_of(response))
    text = visible(panel)
    assert "Snapshots 3" in text and "keeps the newest 3" in text
    listed = panel[panel.index('id="snapshot-list"') : panel.index("</table>")]
    names = re.findall(r'<span class="mono">([^<]+)</span>', listed)
    assert names == [
        "snap-7-20260101-120000",
        "before-rollback-5-20260101-110000",
        "before-migration-3-20260101-100000",
    ]
    newest = re.search(rf'<tr id="snapshot-{setup["newest"].pk}">.*?</tr>', listed, re.S)
    assert newest
    row = visible(newest.group(0))
    assert "before the kernel update" in row and "with memory" in row
    assert "running" in row and "Taken on request" in row
    assert f'href="{setup["job"].get_absolute_url()}">#{setup["job"].pk}</a>' in newest.group(0)
    older = visible(re.search(rf'<tr id="snapshot-{setup["older"].pk}">.*?</tr>', listed, re.S)[0])
    assert "disks only" in older and "shutoff" in older
    assert "Before a rollback to an earlier snapshot" in older
    elsewhere = re.search(rf'<tr id="snapshot-{setup["elsewhere"].pk}">.*?</tr>', listed, re.S)
    assert "on host-b" in visible(elsewhere[0])
    # The removed one is only in the folded list, with when and why.
    assert "snap-1-20251231-090000" not in listed
    removed = panel[panel.index('id="snapshots-removed"') :]
    assert "1 removed" in visible(removed)
    assert "snap-1-20251231-090000" in removed and "retention (job #7)" in removed
    removed_at = setup["removed"].removed_at.astimezone(timezone.get_current_timezone())
    assert removed_at.strftime("%Y-%m-%d %H:%M") in removed


def test_a_vm_without_snapshots_says_so(client, users, setup):
    VMSnapshot.objects.all().delete()
    client.force_login(users["viewer"])
    panel = panel_of(text_of(client.get(vm_url(setup["vm"]))))
    assert "No snapshots." in visible(panel)
    assert 'id="snapshot-list"' not in panel and 'id="snapshots-removed"' not in panel


def test_operators_get_the_take_form_and_a_rollback_button_per_snapshot_here(client, users, setup):
    vm = setup["vm"]
    for who in ("operator", "admin"):
        client.force_login(users[who])
        panel = panel_of(text_of(client.get(vm_url(vm))))
        assert f'action="{take_url(vm)}" id="snapshot-form"' in panel
        assert 'name="description"' in panel and 'maxlength="300"' in panel
        for key in ("newest", "older"):
            assert f'action="{rollback_url(vm, setup[key])}"' in panel
        form = re.search(
            rf'<form[^>]*action="{re.escape(rollback_url(vm, setup["newest"]))}"[^>]*>', panel
        )
        assert form and "data-confirm=" in form.group(0)
        assert "kept first as a before-rollback snapshot" in form.group(0)
        # Not to a snapshot taken on another platform, nor to a removed one.
        assert rollback_url(vm, setup["elsewhere"]) not in panel
        assert rollback_url(vm, setup["removed"]) not in panel
        assert "not here" in visible(panel)


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_other_roles_see_the_list_without_buttons(client, users, setup, who):
    client.force_login(users[who])
    panel = panel_of(text_of(client.get(vm_url(setup["vm"]))))
    assert "snap-7-20260101-120000" in panel
    assert 'id="snapshot-form"' not in panel and "/rollback/" not in panel
    assert "Roll back" not in panel


def test_no_buttons_for_a_gone_or_unmanaged_vm(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["operator"])
    ManagedVM.objects.filter(pk=vm.pk).update(state=VMState.GONE)
    panel = panel_of(text_of(client.get(vm_url(vm))))
    assert "snap-7-20260101-120000" in panel
    assert 'id="snapshot-form"' not in panel and "/rollback/" not in panel
    stray = ManagedVM.objects.create(
        platform=setup["lab"], name="stray", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    panel = panel_of(text_of(client.get(vm_url(stray))))
    assert 'id="snapshot-form"' not in panel and "No snapshots." in visible(panel)


# --- taking one -----------------------------------------------------------------------------


def test_take_queues_a_snapshot_job_and_goes_to_its_page(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.post(take_url(vm), {"description": "  before the upgrade  "})
    job = snapshot_jobs().exclude(pk=setup["job"].pk).get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == JobKind.SNAPSHOT and job.status == JobStatus.QUEUED
    assert job.vm == vm and job.platform == setup["lab"]
    assert job.params == {"description": "before the upgrade"}
    assert job.requested_by == users["operator"]
    page = client.get(response["Location"])
    assert f"Snapshot of web-01 queued (job #{job.pk})." in visible(text_of(page))


def test_take_without_a_description(client, users, setup):
    client.force_login(users["operator"])
    response = client.post(take_url(setup["vm"]), {})
    assert response.status_code == 302
    job = OperationJob.objects.filter(status=JobStatus.QUEUED).get()
    assert job.kind == JobKind.SNAPSHOT and job.params == {"description": ""}


@pytest.mark.parametrize("description", ["x" * 301, "two\nlines"])
def test_a_bad_description_is_shown_on_its_field_with_its_path(client, users, setup, description):
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.post(take_url(vm), {"description": description})
    assert response.status_code == 400
    page = text_of(response)
    assert "<h1>web-01</h1>" in page  # the VM page, not an error page
    panel = panel_of(page)
    field = panel[panel.index('id="field-description"') : panel.index("</form>")]
    error = re.search(
        r'<span class="field-error" role="alert" data-path="description">(.*?)</span>', field
    )
    assert error and error.group(1) == "Description: at most 300 characters, on one line"
    assert f'value="{description}"' in field  # what was typed stays
    assert not OperationJob.objects.filter(status=JobStatus.QUEUED).exists()


def test_a_viewer_posting_anyway_gets_403_and_no_job(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["viewer"])
    response = client.post(take_url(vm), {"description": "mine"})
    assert response.status_code == 403
    errors = re.search(r'id="snapshot-errors">(.*?)</div></div>', text_of(response), re.S)
    assert errors and "may not take snapshots" in visible(errors.group(1))
    assert "needs the 'operators' role" in visible(errors.group(1))
    response = client.post(rollback_url(vm, setup["newest"]))
    assert response.status_code == 403
    assert "may not roll VMs back" in visible(text_of(response))
    assert not OperationJob.objects.filter(status=JobStatus.QUEUED).exists()


def test_a_second_request_while_a_job_is_active_is_a_conflict(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["operator"])
    assert client.post(take_url(vm)).status_code == 302
    response = client.post(take_url(vm), {"description": "again"})
    assert response.status_code == 409
    assert "already has an active job" in visible(panel_of(text_of(response)))
    assert 'value="again"' in text_of(response)
    assert OperationJob.objects.filter(status=JobStatus.QUEUED).count() == 1


def test_only_posts_are_accepted_and_unknown_vms_are_404(client, users, setup):
    client.force_login(users["operator"])
    assert client.get(take_url(setup["vm"])).status_code == 405
    assert client.get(rollback_url(setup["vm"], setup["newest"])).status_code == 405
    missing = reverse("operations:vm_snapshot", args=[999999])
    assert client.post(missing).status_code == 404
    missing = reverse("operations:vm_snapshot_rollback", args=[setup["vm"].pk, 999999])
    assert client.post(missing).status_code == 404


# --- rolling back ---------------------------------------------------------------------------


def test_rollback_queues_a_rollback_job_and_goes_to_its_page(client, users, setup):
    vm, target = setup["vm"], setup["older"]
    client.force_login(users["operator"])
    response = client.post(rollback_url(vm, target))
    job = OperationJob.objects.get(kind=JobKind.ROLLBACK)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.status == JobStatus.QUEUED and job.vm == vm and job.platform == setup["lab"]
    assert job.params == {"snapshot": target.name, "snapshot_id": target.pk}
    text = visible(text_of(client.get(response["Location"])))
    assert f"Rollback of web-01 to {target.name} queued (job #{job.pk})" in text


def test_rollback_to_a_removed_snapshot_is_refused_on_the_vm_page(client, users, setup):
    vm, gone = setup["vm"], setup["removed"]
    client.force_login(users["operator"])
    response = client.post(rollback_url(vm, gone))
    assert response.status_code == 409
    page = text_of(response)
    assert "<h1>web-01</h1>" in page
    errors = re.search(r'id="snapshot-errors">(.*?)</div></div>', page, re.S)
    assert errors
    assert visible(errors.group(1)).strip() == (
        f"Could not roll web-01 back to {gone.name}: "
        f"Snapshot {gone.name} was removed (retention (job #7))."
    )
    assert not OperationJob.objects.filter(kind=JobKind.ROLLBACK).exists()


def test_rollback_to_a_snapshot_on_another_platform_or_vm_is_refused(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.post(rollback_url(vm, setup["elsewhere"]))
    assert response.status_code == 409
    assert "was taken on host-b; web-01 now runs on lab" in visible(text_of(response))
    other = ManagedVM.objects.create(
        platform=setup["lab"],
        name="web-02",
        domain_uuid=uuid.uuid4(),
        state=VMState.RUNNING,
        managed=True,
        profile_version=vm.profile_version,
    )
    response = client.post(rollback_url(other, setup["newest"]))
    assert response.status_code == 400
    assert "snapshot: snapshot is not one of web-02&#x27;s" in text_of(response)
    assert not OperationJob.objects.filter(kind=JobKind.ROLLBACK).exists()
