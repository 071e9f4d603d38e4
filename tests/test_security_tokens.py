"""API tokens are stored hashed with an expiry (django-rest-knox); the "Your account"
page lists, creates (shown once) and revokes them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from vmpersona.accounts import services
from vmpersona.errors import NotFoundError

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


def _token_for(password, username="author") -> str:
    response = APIClient().post(
        TOKEN_URL, {"username": username, "password": password(username)}, format="json"
    )
    assert response.status_code == 200
    return response.json()["token"]


def _api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_the_database_holds_no_token_in_clear(users, password):
    token = _token_for(password)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        dump = []
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            dump.extend(str(value) for row in cursor.fetchall() for value in row)
    assert not any(token in value for value in dump)
    assert "authtoken_token" not in tables  # DRF's clear-text table is gone


def test_tokens_expire(users, password, settings):
    token = _token_for(password)
    row = AuthToken.objects.get(user=users["author"])
    ttl = row.expiry - row.created
    assert abs(ttl - settings.VMPERSONA_API_TOKEN_TTL) < timedelta(seconds=5)
    assert _api(token).get("/api/v1/profiles/").status_code == 200
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert _api(token).get("/api/v1/profiles/").status_code in (401, 403)


def test_session_authentication_still_works(users, password):
    client = Client()
    assert client.login(username="author", password=password("author"))
    assert client.get("/api/v1/profiles/").status_code == 200


def test_revoke_one_and_all(users, password):
    first, second = _token_for(password), _token_for(password)
    digest = AuthToken.objects.filter(user=users["author"]).order_by("created").first().digest
    services.api_token_revoke(user=users["author"], digest=digest)
    assert _api(first).get("/api/v1/profiles/").status_code in (401, 403)
    assert _api(second).get("/api/v1/profiles/").status_code == 200
    assert services.api_token_revoke_all(user=users["author"]) == 1
    assert _api(second).get("/api/v1/profiles/").status_code in (401, 403)


def test_nobody_revokes_another_users_token(users, password):
    token = _token_for(password, "author")
    digest = AuthToken.objects.get(user=users["author"]).digest
    with pytest.raises(NotFoundError):
        services.api_token_revoke(user=users["approver"], digest=digest)
    assert services.api_token_revoke_all(user=users["approver"]) == 0
    assert _api(token).get("/api/v1/profiles/").status_code == 200


def test_account_page_lists_roles_and_tokens_and_is_linked(users, password):
    _token_for(password)
    client = Client()
    client.force_login(users["author"])
    home = client.get("/profiles/")
    assert 'href="/accounts/me/"' in home.content.decode()
    page = client.get("/accounts/me/").content.decode()
    assert "authors" in page
    row = AuthToken.objects.get(user=users["author"])
    assert row.token_key[:8] in page and row.expiry.strftime("%Y-%m-%d") in page
    assert row.digest in page  # the revoke form's field, never the key


def test_account_page_creates_a_token_shown_once(users):
    client = Client()
    client.force_login(users["author"])
    created = client.post("/accounts/me/tokens/", {"days": "7"})
    assert created.status_code == 200
    key = re.search(r'<code id="new-token-key">([^<]+)</code>', created.content.decode())[1]
    assert _api(key).get("/api/v1/profiles/").status_code == 200
    row = AuthToken.objects.get(user=users["author"])
    assert abs((row.expiry - row.created) - timedelta(days=7)) < timedelta(seconds=5)
    again = client.get("/accounts/me/").content.decode()
    assert key not in again
    assert client.post("/accounts/me/tokens/", {"days": "999"}).status_code == 400


def test_account_page_revokes_one_and_all(users, password):
    first, second = _token_for(password), _token_for(password)
    client = Client()
    client.force_login(users["author"])
    digest = AuthToken.objects.filter(user=users["author"]).order_by("created").first().digest
    response = client.post("/accounts/me/tokens/revoke/", {"digest": digest})
    assert response.status_code == 302
    assert _api(first).get("/api/v1/profiles/").status_code in (401, 403)
    assert _api(second).get("/api/v1/profiles/").status_code == 200
    client.post("/accounts/me/tokens/revoke-all/")
    assert not AuthToken.objects.filter(user=users["author"]).exists()


def test_account_page_needs_a_login():
    response = Client().get("/accounts/me/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_upgrading_drops_drfs_clear_text_token_table():
    from importlib import import_module

    drop = import_module("vmpersona.migrations.0001_drop_drf_authtoken").drop_drf_tokens
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "authtoken_token" (key varchar(40), user_id integer)')
        cursor.execute("INSERT INTO \"authtoken_token\" VALUES ('clear-text-admin-token', 1)")
    with connection.schema_editor(atomic=False) as editor:
        drop(None, editor)
    with connection.cursor() as cursor:
        assert "authtoken_token" not in connection.introspection.table_names(cursor)
