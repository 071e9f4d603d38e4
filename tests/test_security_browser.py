"""The pages keep working under the content security policy, in a real browser: no
violation reported while the account page creates and revokes a token, a confirmation
still asks, and the API docs render; no page carries an inline event handler."""

from __future__ import annotations

import re
from pathlib import Path

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

    # A form's data-confirm asks first (static code: the policy allows no inline handler).
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


TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
INLINE_HANDLER = re.compile(r"""<[^>]*\son[a-z]+\s*=""", re.IGNORECASE)


def test_no_template_has_an_inline_event_handler():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)[:60]}"
        for path in TEMPLATES.rglob("*.html")
        for match in INLINE_HANDLER.finditer(path.read_text())
    ]
    assert found == []


@pytest.mark.django_db
def test_the_policy_allows_no_inline_script_or_handler(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives.get("script-src-attr", [])
