"""Login throttling: wrong passwords on the login page, the admin and the API token
endpoint lock the account and the client address out (django-axes); the token endpoint
is also rate limited per address and per account (DRF throttles). An administrator
unlocks. Each test starts from clean counters (database rolled back, cache cleared)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PRODUCTION_RATES = {"address": "30/min", "account": "10/min"}


@pytest.fixture(autouse=True)
def clean_counters(settings):
    """Production limits, and no counters left over from other tests."""
    settings.AXES_FAILURE_LIMIT = 5
    settings.VMPERSONA_AUTH_THROTTLE_RATES = PRODUCTION_RATES
    cache.clear()
    call_command("axes_reset", verbosity=0)
    yield
    cache.clear()


def _web_login(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def test_web_login_locks_an_account_after_five_wrong_passwords(users, password):
    for _ in range(4):
        assert _web_login("author", "wrong-password").status_code == 200
    # The fifth failure locks.
    assert _web_login("author", "wrong-password").status_code == 429
    locked = _web_login("author", password("author"))
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # The account is locked from anywhere, not just from that address.
    assert _web_login("author", password("author"), address="10.0.0.2").status_code == 429
    # Another account from another address still logs in.
    assert _web_login("approver", password("approver"), address="10.0.0.3").status_code == 302


def test_web_login_locks_an_address_trying_many_accounts(users, password):
    for name in ("a1", "a2", "a3", "a4", "a5"):
        _web_login(name, "wrong-password", address="10.9.9.9")
    assert _web_login("author", password("author"), address="10.9.9.9").status_code == 429
    assert _web_login("author", password("author"), address="10.0.0.8").status_code == 302


def test_admin_login_is_locked_too(users, password):
    client = Client(REMOTE_ADDR="10.0.0.4")
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "nope"})
    response = client.post("/admin/login/", {"username": "admin", "password": password("admin")})
    assert response.status_code == 429


def test_a_successful_login_clears_the_failures(users, password):
    for _ in range(4):
        _web_login("author", "wrong-password")
    assert _web_login("author", password("author")).status_code == 302
    for _ in range(4):
        _web_login("author", "wrong-password")
    assert _web_login("author", password("author")).status_code == 302


def test_an_administrator_unlocks_with_the_command(users, password):
    for _ in range(5):
        _web_login("author", "wrong-password")
    assert _web_login("author", password("author")).status_code == 429
    call_command("axes_reset_username", "author", verbosity=0)
    assert _web_login("author", password("author")).status_code == 302


def test_an_administrator_sees_and_deletes_attempts_in_the_admin(users, admin_client):
    for _ in range(5):
        _web_login("author", "wrong-password")
    attempt = AccessAttempt.objects.get(username="author")
    page = admin_client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "author" in page.content.decode()
    admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.filter(username="author").exists()


def test_token_endpoint_locks_out_after_wrong_passwords(users, password):
    client = APIClient(REMOTE_ADDR="10.0.1.1")
    for _ in range(4):
        wrong = client.post(TOKEN_URL, {"username": "author", "password": "x"}, format="json")
        assert wrong.status_code == 400
    fifth = client.post(TOKEN_URL, {"username": "author", "password": "x"}, format="json")
    assert fifth.status_code == 429
    right = client.post(
        TOKEN_URL, {"username": "author", "password": password("author")}, format="json"
    )
    assert right.status_code == 429
    assert "locked" in right.json()["detail"]
    assert "token" not in right.json()


def test_token_endpoint_is_rate_limited_per_account(users, password):
    # Wrong passwords from many addresses: axes' per-address count never trips, the
    # per-account rate does.
    settings_limit = int(PRODUCTION_RATES["account"].split("/")[0])
    for n in range(settings_limit):
        APIClient(REMOTE_ADDR=f"10.1.0.{n + 1}").post(
            TOKEN_URL, {"username": "someone-else", "password": "x"}, format="json"
        )
    response = APIClient(REMOTE_ADDR="10.1.1.1").post(
        TOKEN_URL, {"username": "someone-else", "password": "x"}, format="json"
    )
    assert response.status_code == 429 and "Retry-After" in response


def test_token_endpoint_is_rate_limited_per_address(users, password):
    client = APIClient(REMOTE_ADDR="10.2.0.1")
    for n in range(30):
        client.post(TOKEN_URL, {"username": f"user{n}", "password": "x"}, format="json")
    response = client.post(
        TOKEN_URL, {"username": "author", "password": password("author")}, format="json"
    )
    assert response.status_code == 429


def test_a_forged_forwarded_for_header_does_not_pick_the_address(users):
    for n in range(31):
        response = APIClient(REMOTE_ADDR="10.3.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            TOKEN_URL, {"username": f"u{n}", "password": "x"}, format="json"
        )
    assert response.status_code == 429


def test_fifty_seven_wrong_then_right_is_refused(users, password):
    # The report: 57 wrong token requests, then a successful one.
    client = APIClient(REMOTE_ADDR="10.4.0.1")
    for _ in range(57):
        client.post(TOKEN_URL, {"username": "author", "password": "guess"}, format="json")
    response = client.post(
        TOKEN_URL, {"username": "author", "password": password("author")}, format="json"
    )
    assert response.status_code == 429 and "token" not in response.json()
