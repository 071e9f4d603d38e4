"""The admin obeys the same rules as every other interface."""

from __future__ import annotations

import pytest

from operations_app.models import OperationJob
from operations_app.services import platforms as platform_services
from profiles_app.models import VersionStatus
from profiles_app.services import versions as svc

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/profiles_app/policyversion/"


def _pending(users, make_document, author="author_approver"):
    v = svc.policy_create(user=users[author], document=make_document("web"))
    return svc.version_submit(user=users[author], version=v)


def test_admin_pages_render(client, users, make_document):
    _pending(users, make_document)
    client.force_login(users["admin"])
    for url in (
        CHANGELIST,
        "/admin/profiles_app/policy/",
        "/admin/profiles_app/volumekey/",
        "/admin/operations_app/operationjob/",
    ):
        assert client.get(url).status_code == 200, url


def test_admin_approve_action_refuses_own_version(client, users, make_document):
    users["author_approver"].is_staff = True
    users["author_approver"].save()
    v = _pending(users, make_document)
    client.force_login(users["author_approver"])
    # Staff without model permissions cannot even reach the action; give them view/change.
    from django.contrib.auth.models import Permission

    users["author_approver"].user_permissions.add(
        *Permission.objects.filter(codename__in=["view_policyversion", "change_policyversion"])
    )
    response = client.post(
        CHANGELIST, {"action": "approve_versions", "_selected_action": [v.pk]}, follow=True
    )
    assert response.status_code == 200
    v.refresh_from_db()
    assert v.status == VersionStatus.PENDING
    assert "may not approve" in response.content.decode()


def test_admin_clone_action_asks_then_queues_a_job(client, users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=v)
    svc.version_approve(user=users["approver"], version=v)
    platform_services.platform_create(name="lab", uri="test:///default")
    client.force_login(users["admin"])
    page = client.post(CHANGELIST, {"action": "clone_version", "_selected_action": [v.pk]})
    assert page.status_code == 200 and "Start the clone" in page.content.decode()
    bad = client.post(
        CHANGELIST,
        {
            "action": "clone_version",
            "_selected_action": [v.pk],
            "platform": "lab",
            "vm_name": "Bad!",
            "apply": "1",
        },
    )
    assert "vm_name" in bad.content.decode() and not OperationJob.objects.exists()
    done = client.post(
        CHANGELIST,
        {
            "action": "clone_version",
            "_selected_action": [v.pk],
            "platform": "lab",
            "vm_name": "web-1",
            "apply": "1",
        },
    )
    job = OperationJob.objects.get()
    assert done.status_code == 302 and done["Location"] == job.get_absolute_url()
    assert (
        job.vm_name == "web-1" and job.profile_version == v and job.requested_by == users["admin"]
    )


@pytest.mark.parametrize("action", ["approve_versions", "reject_versions"])
def test_admin_action_refuses_a_superuser_who_edited_the_draft(
    client, users, make_document, action
):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_update_draft(
        user=users["admin"], version=v, document=make_document("web", description="edited")
    )
    svc.version_submit(user=users["author"], version=v)
    client.force_login(users["admin"])
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [v.pk]}, follow=True)
    assert response.status_code == 200
    v.refresh_from_db()
    assert v.status == VersionStatus.PENDING and v.reviewer is None
    assert "may not" in response.content.decode()
