"""Fixtures shared by the whole suite: users in each role and valid documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MINIMAL_DOCUMENT = {
    "schema_version": "1.0",
    "name": "minimal",
    "description": "The smallest valid profile.",
    "base_image_id": "tiny-linux",
    "resource_allocation": {"vcpus": 1, "memory_mib": 128, "storage_gib": 1},
    "execution_flags": ["Testing"],
}


@pytest.fixture
def make_document():
    """A valid VPPD named ``name``; ``example`` picks a file from examples/."""

    def factory(name: str = "minimal", example: str | None = None, **overrides):
        if example:
            document = json.loads((EXAMPLES / f"{example}.json").read_text())
        else:
            document = copy.deepcopy(MINIMAL_DOCUMENT)
        document["name"] = name
        document.update(overrides)
        return document

    return factory


@pytest.fixture
def users(db):
    """One user per role (two authors and two approvers), plus a superuser."""
    from django.contrib.auth.models import Group, User

    from vmpersona.roles import ALL_ROLES

    made = {}
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    spec = {
        "author": ["authors"],
        "author2": ["authors"],
        "approver": ["approvers"],
        "approver2": ["approvers"],
        "author_approver": ["authors", "approvers"],
        "operator": ["operators"],
        "viewer": ["viewers"],
    }
    for username, groups in spec.items():
        user = User.objects.create_user(
            username=username, password=f"pw-{username}-Secret!1", email=f"{username}@example.test"
        )
        user.groups.set(Group.objects.filter(name__in=groups))
        made[username] = user
    made["admin"] = User.objects.create_superuser(
        "admin", "admin@example.test", "pw-admin-Secret!1"
    )
    return made


@pytest.fixture
def password():
    return lambda username: f"pw-{username}-Secret!1"
