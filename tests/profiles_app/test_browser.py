"""The review workflow in a real browser: an author creates and submits a profile, an
approver approves it. Set VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of each
step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # fixtures afterwards would otherwise be refused as "async unsafe".
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _shot(page, name: str) -> None:
    folder = os.environ.get("VMPERSONA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"browser-{name}.png"), full_page=True)


def _log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/profiles/")


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

    _log_in(page, base, "author", password("author"))
    page.click("text=New profile")
    page.wait_for_url(f"{base}/profiles/new/")
    _shot(page, "1-new")
    page.fill("#id_document", json.dumps(document, indent=2))
    page.fill("#id_change_note", "first draft from the browser")
    page.click("button:has-text('Create profile')")
    page.wait_for_url(f"{base}/profiles/browser-demo/v/1/")
    assert page.locator(".alert-success").inner_text().startswith("Profile browser-demo created")
    assert page.locator(".page-head .badge-draft").inner_text() == "Draft"
    _shot(page, "2-draft")

    page.click("button:has-text('Submit for approval')")
    page.wait_for_selector(".page-head .badge-pending")
    assert "submitted for approval" in page.locator(".alert-success").inner_text()
    # An author is offered no review.
    assert page.locator("#review").count() == 0
    _shot(page, "3-pending")
    _log_out(page, base)

    _log_in(page, base, "approver", password("approver"))
    queue = page.locator("#pending-queue")
    assert "browser-demo@1" in queue.inner_text()
    _shot(page, "4-queue")
    queue.locator("text=Review").click()
    page.wait_for_url(f"{base}/profiles/browser-demo/v/1/#review")
    page.fill("#id_comment", "Looks right.")
    page.click("#review button:has-text('Approve')")
    page.wait_for_selector(".page-head .badge-approved")
    assert "browser-demo@1 approved." in page.locator(".alert-success").inner_text()
    assert "Looks right." in page.content()
    _shot(page, "5-approved")

    page.goto(f"{base}/profiles/browser-demo/")
    assert page.locator(".page-head .badge-approved").inner_text() == "v1 approved"
    assert "approved: Looks right." in page.locator("#history").inner_text()
    _shot(page, "6-detail")

    version = PolicyVersion.objects.get(policy__name="browser-demo")
    assert version.status == VersionStatus.APPROVED
    assert version.reviewer == users["approver"]
