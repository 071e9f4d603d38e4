"""Create the role groups, demo users and example profiles (idempotent).

Passwords are generated on first run, kept in the instance folder (mode 0600) and
printed each run; nothing is fixed in the code.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from profiles_app.models import Policy, PolicyKind
from profiles_app.services import versions as svc
from vmpersona.roles import ALL_ROLES, APPROVERS, AUTHORS, OPERATORS, VIEWERS

EXAMPLES = Path(settings.BASE_DIR) / "examples"

DEMO_USERS = [
    # username, roles, superuser
    ("admin", [], True),
    ("alice", [AUTHORS], False),
    ("erin", [AUTHORS], False),
    ("bob", [APPROVERS], False),
    ("carol", [OPERATORS], False),
    ("dave", [VIEWERS], False),
]


def _credentials_file() -> Path:
    return Path(settings.INSTANCE_DIR) / "demo-credentials.json"


def _load_credentials() -> dict[str, str]:
    path = _credentials_file()
    if path.exists():
        return json.loads(path.read_text())
    return {}


def _save_credentials(creds: dict[str, str]) -> None:
    path = _credentials_file()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh, indent=2)


# The examples name the networks of a real estate (frontend on VLAN 10, backend, ...).
# The demo places them on the local testbed's networks so they clone there as they are:
# the web server on VLAN 100 (realised by the platforms' VLAN-to-network mapping), the
# database on the isolated network with a static address, the workstation on DHCP.
TESTBED_INTERFACES = {
    "web-server": {
        "network": "persona-isolated",
        "vlan": 100,
        "ipv4": {"address": "10.100.0.20/24", "gateway": "10.100.0.1", "dns": ["10.100.0.1"]},
    },
    "database": {
        "network": "persona-isolated",
        "ipv4": {"address": "10.231.0.30/24", "gateway": "10.231.0.1", "dns": ["10.231.0.1"]},
    },
    "dev-workstation": {"network": "persona-isolated", "ipv4": {"dhcp": True}},
}


def fit_testbed(name: str, document: dict) -> dict:
    interfaces = document.get("network_configuration", {}).get("interfaces", [])
    fit = TESTBED_INTERFACES.get(name)
    if fit and interfaces:
        first = interfaces[0]
        first.pop("vlan", None)
        first.update(fit)
        firewall = document["network_configuration"].get("firewall_rules", [])
        for rule in firewall:
            for key in ("source", "destination"):
                if rule.get(key, "").startswith("10.0."):
                    rule[key] = "10.0.0.0/8"
    return document


class Command(BaseCommand):
    help = "Create role groups, demo users (passwords generated once) and example profiles."

    def add_arguments(self, parser):
        parser.add_argument("--no-profiles", action="store_true", help="Only groups and users.")
        parser.add_argument("--quiet", action="store_true", help="Do not print the credentials.")

    def handle(self, *args, **options):
        for role in ALL_ROLES:
            Group.objects.get_or_create(name=role)
        creds = _load_credentials()
        users = {}
        for username, roles, superuser in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                password = creds.get(username) or secrets.token_urlsafe(12)
                if superuser:
                    user = User.objects.create_superuser(
                        username, f"{username}@localhost", password
                    )
                else:
                    user = User.objects.create_user(username, f"{username}@localhost", password)
                creds[username] = password
            user.groups.add(*Group.objects.filter(name__in=roles))
            users[username] = user
        _save_credentials(creds)
        if not options["no_profiles"]:
            self._seed_profiles(users)
        if not options["quiet"]:
            self.stdout.write(f"Demo logins (kept in {_credentials_file()}):")
            for username, roles, superuser in DEMO_USERS:
                role_text = "superuser" if superuser else ", ".join(roles)
                shown = creds.get(username, "(set before; unchanged)")
                self.stdout.write(f"  {username:<6} {shown:<20} {role_text}")

    @transaction.atomic
    def _seed_profiles(self, users):
        alice, erin, bob = users["alice"], users["erin"], users["bob"]

        def load(name):
            return fit_testbed(name, json.loads((EXAMPLES / f"{name}.json").read_text()))

        if not Policy.objects.filter(kind=PolicyKind.VPPD, name="web-server").exists():
            doc = load("web-server")
            v1 = svc.policy_create(user=alice, document=doc, change_note="Initial web tier profile")
            svc.version_submit(user=alice, version=v1)
            svc.version_approve(user=bob, version=v1, comment="Looks good for the web tier.")
            doc2 = json.loads(json.dumps(v1.document))
            doc2["resource_allocation"]["vcpus"] = doc2["resource_allocation"].get("vcpus", 1) + 1
            doc2["description"] = doc2.get("description", "") + " (scaled up)"
            v2 = svc.version_create_draft(
                user=alice,
                policy=v1.policy,
                document=doc2,
                parent=v1,
                change_note="One more vCPU for peak traffic",
            )
            svc.version_submit(user=alice, version=v2)
        if not Policy.objects.filter(kind=PolicyKind.VPPD, name="database").exists():
            doc = load("database")
            v1 = svc.policy_create(
                user=erin, document=doc, change_note="Database profile with encrypted data volume"
            )
            svc.version_submit(user=erin, version=v1)
            svc.version_approve(user=bob, version=v1, comment="Approved for testing.")
        if not Policy.objects.filter(kind=PolicyKind.VPPD, name="dev-workstation").exists():
            doc = load("dev-workstation")
            v1 = svc.policy_create(user=alice, document=doc, change_note="Developer workstation")
            svc.version_submit(user=alice, version=v1)
            svc.version_reject(user=bob, version=v1, comment="Please pin the runtime versions.")
            v2 = svc.version_create_draft(
                user=alice, policy=v1.policy, parent=v1, change_note="Work in progress"
            )
            assert v2.status == "draft"
