"""Production settings: ``check --deploy`` is clean with the documented environment, the
pages send a content security policy, the session lifetime is a setting and the API
schema and docs need a login unless made public."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent

# The environment README "Production settings" and docs/deployment.md document.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3J9-vQ2x_Lm8pR4tZ7wN1cY6bF0hD5sG2aE9uI3oP7lK4jH8gT1fV6nB0mX5zQ",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "vmpersona.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://vmpersona.example.com",
    "VMPERSONA_HTTPS": "1",
}


def _environ(instance: Path, env: dict[str, str]) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VMPERSONA_", "REDIS_URL", "DATABASE_URL"))
        and key != "VMPERSONA_TESTING"
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="vmpersona.settings", VMPERSONA_INSTANCE_DIR=str(instance), **env
    )
    return environ


def run_manage(instance: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_environ(instance, env),
        capture_output=True,
        text=True,
        timeout=180,
    )


def settings_value(instance: Path, name: str, **env: str):
    """A setting as a process started with ``env`` (and not under pytest) reads it."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps(getattr(settings, {name!r}), default=str))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_environ(instance, env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    done = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout + done.stderr


def test_check_deploy_warns_without_the_switches(tmp_path):
    # The same check fails on a loopback set-up: the switch is what makes it clean.
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "VMPERSONA_HTTPS"}
    done = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **env)
    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout


def test_https_switch_sets_the_cookie_and_hsts_settings(tmp_path):
    env = {**PRODUCTION_ENV, "VMPERSONA_HSTS_SECONDS": "600"}
    assert settings_value(tmp_path, "SESSION_COOKIE_SECURE", **env) is True
    assert settings_value(tmp_path, "CSRF_COOKIE_SECURE", **env) is True
    assert settings_value(tmp_path, "SECURE_SSL_REDIRECT", **env) is True
    assert settings_value(tmp_path, "SECURE_HSTS_SECONDS", **env) == 600
    assert settings_value(tmp_path, "SECURE_PROXY_SSL_HEADER", **env) == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]
    assert settings_value(tmp_path, "CSRF_TRUSTED_ORIGINS", **env) == [
        "https://vmpersona.example.com"
    ]
    # make run on loopback: plain HTTP keeps working.
    assert settings_value(tmp_path, "SESSION_COOKIE_SECURE") is False
    assert settings_value(tmp_path, "SECURE_SSL_REDIRECT") is False


def test_session_age_is_a_setting(tmp_path):
    assert settings_value(tmp_path, "SESSION_COOKIE_AGE", VMPERSONA_SESSION_AGE="900") == 900
    assert settings_value(tmp_path, "SESSION_COOKIE_AGE") == 12 * 3600


@pytest.mark.django_db
def test_pages_send_a_content_security_policy(users, password):
    client = Client()
    assert client.login(username="author", password=password("author"))
    response = client.get("/profiles/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_api_docs_inline_script_carries_the_nonce(admin_client):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.content.decode()


@pytest.mark.django_db
def test_api_schema_and_docs_need_a_login():
    client = Client()
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and "/accounts/login/" in docs["Location"]
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code in (401, 403)


def test_api_docs_can_be_made_public(tmp_path):
    code = (
        "import django; django.setup(); "
        "from django.test import Client; c = Client(); "
        "print(c.get('/api/docs/').status_code, c.get('/api/schema/?format=json').status_code)"
    )
    env = _environ(tmp_path, {"VMPERSONA_PUBLIC_API_DOCS": "1"})
    run_manage(tmp_path, "migrate", "--noinput", VMPERSONA_PUBLIC_API_DOCS="1")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split()[-2:] == ["200", "200"], done.stdout + done.stderr
