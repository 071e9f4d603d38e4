"""The plan pages: the list with Evaluate now for operators, a plan's review page with
reasons and verdicts, approving with an action unticked, rejecting with a reason, and
refusals on the page (never a 500)."""

from __future__ import annotations

import pytest

from operations_app.models import ActionStatus, PlanStatus, PolicyPlan
from operations_app.services import policies as policy_services

from .support import hot_fleet, scheduling_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(users, monkeypatch):
    hot_fleet(users, monkeypatch, vms=("big", "small", "third"), loads=(100, 70, 60), target_cpus=4)
    policy = scheduling_policy(users)
    return policy_services.policy_evaluate(user=users["operator"], policy=policy)


def test_the_list_offers_evaluate_now_to_operators_only(client, users, plan):
    client.force_login(users["operator"])
    page = client.get("/ops/plans/").content.decode()
    assert f"#{plan.pk}" in page and "balance-cpu@1" in page and "Evaluate now" in page
    client.force_login(users["viewer"])
    page = client.get("/ops/plans/").content.decode()
    assert f"#{plan.pk}" in page and "Evaluate now" not in page
    assert client.post("/ops/policies/balance-cpu/evaluate/").status_code == 302
    assert PolicyPlan.objects.count() == 1  # the viewer's evaluation was refused


def test_the_review_page_shows_reasons_and_verdicts_and_approves_the_ticked_actions(
    client, users, plan
):
    client.force_login(users["approver2"])
    page = client.get(plan.get_absolute_url()).content.decode()
    assert "lab-a at 115.0 % cpu" in page and "Every platform's verdict" in page
    assert 'name="decision" value="approve"' in page
    response = client.post(
        f"/ops/plans/{plan.pk}/decide/", {"decision": "approve", "action": ["0"], "comment": "ok"}
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    first, second = plan.actions.all()
    assert plan.status == PlanStatus.APPROVED
    assert first.status == ActionStatus.SCHEDULED and second.status == ActionStatus.SKIPPED
    page = client.get(plan.get_absolute_url()).content.decode()
    assert f"job #{first.job.pk}" in page and "Approved by approver2" in page


def test_refusals_come_back_on_the_page(client, users, plan):
    client.force_login(users["viewer"])
    page = client.get(plan.get_absolute_url()).content.decode()
    assert 'value="approve"' not in page
    response = client.post(f"/ops/plans/{plan.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403 and "may not" in response.content.decode()
    client.force_login(users["approver2"])
    response = client.post(f"/ops/plans/{plan.pk}/decide/", {"decision": "reject", "comment": ""})
    assert (
        response.status_code == 400 and "say why the plan is rejected" in response.content.decode()
    )
    response = client.post(f"/ops/plans/{plan.pk}/decide/", {"decision": "reject", "comment": "no"})
    assert response.status_code == 302
    response = client.post(f"/ops/plans/{plan.pk}/decide/", {"decision": "approve"})
    assert (
        response.status_code == 409
        and "only proposed plans can be decided" in response.content.decode()
    )
    assert client.get("/ops/plans/99999/").status_code == 404
