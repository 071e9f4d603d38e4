"""A plan's review in a real browser: an approver opens the plan a scheduling policy
proposed, reads each action's reasons, unfolds every platform's verdict, unticks an
action and approves; the page then shows the job of the action that runs and the one
skipped. Nothing spills sideways at 1366x768 or 390x844. Set
VMPERSONA_SCREENSHOTS=/some/dir to keep the screenshots."""

from __future__ import annotations

import pytest

from tests.browser import log_in, shots_at_sizes

from .support import hot_fleet, scheduling_policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_approver_reviews_and_approves_a_plan_leaving_one_action_out(
    live_server, browser_page, users, password, monkeypatch
):
    from operations_app.models import ActionStatus, PlanStatus
    from operations_app.services import policies as policy_services

    hot_fleet(users, monkeypatch, vms=("big", "small", "third"), loads=(100, 70, 60), target_cpus=4)
    plan = policy_services.policy_evaluate(user=users["operator"], policy=scheduling_policy(users))
    page, base = browser_page, live_server.url

    log_in(page, base, "approver2", password("approver2"))
    page.goto(f"{base}/ops/plans/")
    page.click(f'main a[href="/ops/plans/{plan.pk}/"]')
    page.wait_for_url(f"{base}/ops/plans/{plan.pk}/")
    assert "115.0 %" in page.locator("#effect").inner_text()
    page.locator("#action-0 summary").click()
    assert "chosen" in page.locator("#action-0 table").inner_text()
    shots_at_sizes(page, "plan-1-review")

    page.uncheck("#action-1 input[name=action]")
    page.fill("#comment", "one at a time")
    page.click("button[value=approve]")
    page.wait_for_selector("text=Approved by approver2")
    plan.refresh_from_db()
    first, second = plan.actions.all()
    assert plan.status == PlanStatus.APPROVED
    assert first.status == ActionStatus.SCHEDULED and second.status == ActionStatus.SKIPPED
    assert f"job #{first.job.pk}" in page.locator("#action-0").inner_text()
    assert "Skipped by the reviewer" in page.locator("#action-1").inner_text()
    shots_at_sizes(page, "plan-2-approved")
