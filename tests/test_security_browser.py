"""The pages keep working under the content security policy, in a real browser: no
violation reported while the account page creates and revokes a token, a confirm()
handler still asks, and the API docs render."""

from __future__ import annotations

import pytest

from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_account_page_and_confirm_dialogs_work_under_the_policy(
    live_server, browser_page, users, password, make_document
):
    from knox.models import AuthToken

    from profiles_app.services import versions as svc

    page, base = browser_page, live_server.url
    violations = _watch_csp(page)
    log_in(page, base, "author", password("author"))

    page.click(".usermenu summary")
    page.click("#account-link")
    page.wait_for_url(f"{base}/accounts/me/")
    page.fill("#id_days", "3")
    page.click("#token-create button[type=submit]")
    key = page.locator("#new-token-key").inner_text()
    assert len(key) >= 32 and AuthToken.objects.filter(user=users["author"]).count() == 1
    page.click("#revoke-all")
    page.wait_for_selector(".alert-success")
    assert not AuthToken.objects.filter(user=users["author"]).exists()

    # An inline onsubmit="return confirm(...)" handler still runs.
    version = svc.policy_create(user=users["author"], document=make_document("csp-demo"))
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base}/profiles/csp-demo/v/{version.number}/")
    page.click("button:has-text('Discard draft')")
    page.wait_for_timeout(200)
    assert dialogs and "Discard draft" in dialogs[0]

    page.goto(f"{base}/api/docs/")
    page.wait_for_selector("#swagger-ui .info", timeout=20_000)
    assert violations == []
