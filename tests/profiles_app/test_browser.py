"""The review workflow in a real browser: an author creates and submits a profile, an
approver approves it. Set VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of each
step."""

from __future__ import annotations

import json

import pytest

from tests.browser import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_out(page, base: str) -> None:
    page.click(".usermenu summary")
    page.click(".usermenu-panel button[type=submit]")
    page.wait_for_url(f"{base}/accounts/login/")


def test_author_creates_and_submits_then_approver_approves(
    live_server, browser_page, users, password, make_document
):
    from profiles_app.models import PolicyVersion, VersionStatus

    page, base = browser_page, live_server.url
    document = make_document("browser-demo", description="Made in a browser.")

    log_in(page, base, "author", password("author"))
    page.click("text=New profile")
    page.wait_for_url(f"{base}/profiles/new/")
    shot(page, "browser-1-new")
    page.fill("#id_document", json.dumps(document, indent=2))
    page.fill("#id_change_note", "first draft from the browser")
    page.click("button:has-text('Create profile')")
    page.wait_for_url(f"{base}/profiles/browser-demo/v/1/")
    assert page.locator(".alert-success").inner_text().startswith("Profile browser-demo created")
    assert page.locator(".page-head .badge-draft").inner_text() == "Draft"
    shot(page, "browser-2-draft")

    page.click("button:has-text('Submit for approval')")
    page.wait_for_selector(".page-head .badge-pending")
    assert "submitted for approval" in page.locator(".alert-success").inner_text()
    # An author is offered no review.
    assert page.locator("#review").count() == 0
    shot(page, "browser-3-pending")
    _log_out(page, base)

    log_in(page, base, "approver", password("approver"))
    queue = page.locator("#pending-queue")
    assert "browser-demo@1" in queue.inner_text()
    shot(page, "browser-4-queue")
    queue.locator("text=Review").click()
    page.wait_for_url(f"{base}/profiles/browser-demo/v/1/#review")
    page.fill("#id_comment", "Looks right.")
    page.click("#review button:has-text('Approve')")
    page.wait_for_selector(".page-head .badge-approved")
    assert "browser-demo@1 approved." in page.locator(".alert-success").inner_text()
    assert "Looks right." in page.content()
    shot(page, "browser-5-approved")

    page.goto(f"{base}/profiles/browser-demo/")
    assert page.locator(".page-head .badge-approved").inner_text() == "v1 approved"
    assert "approved: Looks right." in page.locator("#history").inner_text()
    shot(page, "browser-6-detail")

    version = PolicyVersion.objects.get(policy__name="browser-demo")
    assert version.status == VersionStatus.APPROVED
    assert version.reviewer == users["approver"]


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (768, 1024), (390, 844)])
def test_the_review_box_jumped_to_is_not_hidden_under_the_top_bar(
    live_server, browser_page, users, password, make_document, width, height
):
    from profiles_app.services import versions as version_services

    page, base = browser_page, live_server.url
    version = version_services.policy_create(
        user=users["author"], document=make_document("anchored", example="web-server")
    )
    version = version_services.version_submit(user=users["author"], version=version)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, base, "approver", password("approver"))
    # As the pending queue's Review link does: straight to the review box.
    page.goto(f"{base}{version.get_absolute_url()}#review")
    page.wait_for_function("window.scrollY > 0")  # the page did jump
    bar = page.locator(".topbar").bounding_box()
    box = page.locator("#review").bounding_box()
    assert box["y"] >= bar["y"] + bar["height"], (box, bar)  # (a static bar scrolled away)
    # And it is where the jump put it: at the top, or as high as the page's end allows.
    at_end = page.evaluate(
        "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1"
    )
    assert box["y"] < height / 3 or at_end, box
    assert page.locator("#review h2").is_visible()
    shot(page, f"review-anchor-{width}x{height}")
