"""The scheduling policy editor in a real browser, on a laptop and on a phone: an author
starts a policy from an example, is shown the problem at its path, fixes it, submits it,
and another user approves it. Set VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot
of each step."""

from __future__ import annotations

import json

import pytest

from tests.browser import console_problems, log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_out(page, base: str) -> None:
    page.click(".usermenu summary")
    page.click(".usermenu-panel button[type=submit]")
    page.wait_for_url(f"{base}/accounts/login/")


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_an_author_writes_a_policy_from_an_example_and_another_user_approves_it(
    live_server, browser_page, users, password, width, height
):
    from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus

    page, base = browser_page, live_server.url
    size = f"{width}x{height}"
    page.set_viewport_size({"width": width, "height": height})
    console = console_problems(page)

    log_in(page, base, "author", password("author"))
    page.click("nav.mainnav >> text=Policies")
    page.wait_for_url(f"{base}/policies/")
    assert page.locator("h1").inner_text() == "Scheduling policies"
    page.click("text=+ New policy")
    page.wait_for_url(f"{base}/policies/new/")
    page.click("#examples a[data-example='relieve-hot-hosts']")
    page.wait_for_url(f"{base}/policies/new/?example=relieve-hot-hosts")
    document = json.loads(page.input_value("#id_document"))
    assert document["name"] == "relieve-hot-hosts"
    assert document["trigger"] == "utilisation"
    shot(page, f"policy-1-example-{size}")

    # A target above the trigger: refused, the problem shown at its path, the text kept.
    document["utilisation"]["target_percent"] = 90
    page.fill("#id_document", json.dumps(document, indent=2))
    page.fill("#id_change_note", "relieve hot hosts, from the example")
    page.click("button:has-text('Create policy')")
    page.wait_for_selector("#document-errors")
    errors = page.locator("#document-errors li")
    assert errors.count() == 1
    assert errors.locator(".path").inner_text() == "/utilisation/target_percent"
    assert "must be below trigger_percent (85)" in errors.inner_text()
    assert json.loads(page.input_value("#id_document"))["utilisation"]["target_percent"] == 90
    shot(page, f"policy-2-error-{size}")

    document["utilisation"]["target_percent"] = 70
    page.fill("#id_document", json.dumps(document, indent=2))
    page.click("button:has-text('Create policy')")
    page.wait_for_url(f"{base}/policies/relieve-hot-hosts/v/1/")
    assert "Policy relieve-hot-hosts created" in page.locator(".alert-success").inner_text()
    assert page.locator(".page-head .badge-draft").inner_text() == "Draft"
    assert page.locator("#doc-trigger").inner_text() == "utilisation"
    shot(page, f"policy-3-draft-{size}")

    page.click("button:has-text('Submit for approval')")
    page.wait_for_selector(".page-head .badge-pending")
    assert page.locator("#review").count() == 0
    _log_out(page, base)

    log_in(page, base, "approver", password("approver"))
    page.goto(f"{base}/policies/")
    queue = page.locator("#pending-queue")
    assert "relieve-hot-hosts@1" in queue.inner_text()
    shot(page, f"policy-4-queue-{size}")
    queue.locator("text=Review").click()
    page.wait_for_url(f"{base}/policies/relieve-hot-hosts/v/1/#review")
    page.fill("#id_comment", "Fine for the patch night.")
    page.click("#review button:has-text('Approve')")
    page.wait_for_selector(".page-head .badge-approved")
    assert "relieve-hot-hosts@1 approved." in page.locator(".alert-success").inner_text()
    shot(page, f"policy-5-approved-{size}")

    page.goto(f"{base}/policies/relieve-hot-hosts/")
    assert page.locator(".page-head .badge-approved").inner_text() == "v1 approved"
    assert "approved: Fine for the patch night." in page.locator("#history").inner_text()
    shot(page, f"policy-6-detail-{size}")

    version = PolicyVersion.objects.get(policy__name="relieve-hot-hosts")
    assert version.policy.kind == PolicyKind.SCHEDULING
    assert version.status == VersionStatus.APPROVED
    assert version.author == users["author"] and version.reviewer == users["approver"]
    assert console == []
