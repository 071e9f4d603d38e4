"""Password rules: Django's full set of validators (issue: ``dave1234`` was accepted)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password, why",
    [
        ("dave1234", "too short"),
        ("davesmith123", "too similar to the username"),
        ("password1234", "too common"),
        ("849302749182", "entirely numeric"),
        ("short-Pw1!", "too short"),
    ],
)
def test_weak_passwords_are_refused(password, why):
    dave = User(username="davesmith", email="dave@example.test")
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user=dave)
    assert any(why in message for message in caught.value.messages), caught.value.messages


def test_a_long_random_password_passes():
    validate_password("correct-horse-battery-staple-42", user=User(username="dave"))


def test_the_admin_refuses_a_weak_password_for_a_new_user(admin_client):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "dave", "password1": "dave1234", "password2": "dave1234"},
    )
    assert response.status_code == 200  # the form again, with the errors
    assert not User.objects.filter(username="dave").exists()
    assert "This password is too short" in response.content.decode()


def test_demo_passwords_seed_demo_generates_pass_the_rules(settings, tmp_path):
    settings.INSTANCE_DIR = tmp_path
    call_command("seed_demo", "--no-profiles", "--quiet")
    creds = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert len(creds) >= 5
    for username, password in creds.items():
        validate_password(password, user=User.objects.get(username=username))


def test_suite_users_still_log_in(users, password, client):
    # conftest makes them with create_user, which does not validate.
    assert client.login(username="author", password=password("author"))
