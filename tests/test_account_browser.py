"""The email preferences on "Your account" in a real browser, on a laptop and on a phone:
an approver turns review requests off by email, saves, sees it said and kept, and the
page neither overflows sideways nor trips the content security policy. Set
VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of each step."""

from __future__ import annotations

import pytest

from tests.browser import console_problems, log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_an_approver_turns_review_request_emails_off(
    live_server, browser_page, users, password, width, height
):
    from vmpersona.accounts.selectors import notification_email_choices

    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": width, "height": height})
    problems = console_problems(page)

    log_in(page, base, "approver", password("approver"))
    page.goto(f"{base}/accounts/me/")
    form = page.locator("#notification-preferences")
    assert form.is_visible()
    boxes = form.locator("input[type=checkbox]")
    assert boxes.count() == 5
    assert all(boxes.nth(i).is_checked() for i in range(5))
    assert "Review requests" in form.inner_text()
    shot(page, f"account-preferences-{width}")

    # A click on the words ticks the box too.
    page.click("#notification-preferences >> text=Review requests")
    assert not page.locator("#id_email_review_requests").is_checked()
    page.click("text=Save email preferences")
    page.wait_for_url(f"{base}/accounts/me/")
    # The message is in view, above the form that was just saved.
    said = page.locator(".messages").bounding_box()
    assert said is not None and 0 <= said["y"] and said["y"] + said["height"] <= height
    assert "Email preferences saved." in page.inner_text("body")
    assert not page.locator("#id_email_review_requests").is_checked()
    assert page.locator("#id_email_review_decisions").is_checked()
    shot(page, f"account-preferences-saved-{width}")

    choices = notification_email_choices(user=users["approver"])
    assert choices["review_requests"] is False and choices["review_decisions"] is True
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert [p for p in problems if "WebSocket" not in p] == []
