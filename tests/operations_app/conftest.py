"""Fixtures shared by the operations tests: an API client per user, two platforms, and
the ``persona`` command without a user from the environment."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.operations_app.job_support import make_platform


@pytest.fixture
def api():
    """``api(user)``: an API client authenticated as ``user``."""

    def as_user(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return as_user


@pytest.fixture
def lab(users):
    """Two platforms, lab-a and lab-b."""
    return make_platform("lab-a"), make_platform("lab-b")


@pytest.fixture
def no_cli_user(monkeypatch):
    monkeypatch.delenv("VMPERSONA_CLI_USER", raising=False)
