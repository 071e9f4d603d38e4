"""The profile pages as a user sees them: what each role is shown, what a POST does,
and that a volume key never appears in any page."""

from __future__ import annotations

import copy
import json

import pytest
from django.template import loader
from django.urls import reverse

from profiles_app.models import Policy, PolicyVersion, VersionStatus
from profiles_app.services import versions as svc

pytestmark = pytest.mark.django_db

INLINE_KEY = "Sup3r-Secret-Passphrase-0451-xyzzy"

RICH = {
    "schema_version": "1.0",
    "name": "web-frontend",
    "description": "Public web tier behind the load balancer.",
    "base_image_id": "debian-12",
    "application_manifest": [
        {
            "name": "nginx",
            "version": "1.22.1",
            "install": {"method": "package", "manager": "apt", "package": "nginx"},
            "verify": {"command": ["nginx", "-v"], "expect_output_contains": "nginx/1.22"},
        },
        {
            "name": "webapp",
            "version": "2.4.0",
            "install": {"method": "script", "script": "tar xzf /tmp/app.tgz -C /opt\n"},
            "depends_on": ["nginx"],
            "verify": {"process": "node"},
        },
    ],
    "data_volume_definitions": [
        {
            "name": "cache",
            "size_gib": 8,
            "mount_point": "/var/cache/app",
            "filesystem": "xfs",
            "encryption": {"enabled": True, "generate": True},
        },
        {
            "name": "logs",
            "size_gib": 2,
            "mount_point": "/var/log/app",
            "encryption": {"enabled": False},
        },
    ],
    "network_configuration": {
        "interfaces": [
            {
                "name": "eth0",
                "network": "frontend",
                "vlan": 120,
                "ipv4": {"address": "10.20.0.15/24", "gateway": "10.20.0.1", "dns": ["10.20.0.2"]},
            },
            {"name": "eth1", "network": "backend", "ipv4": {"dhcp": True}},
        ],
        "firewall_rules": [
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 443,
                "action": "accept",
                "comment": "https from anywhere",
            },
            {
                "direction": "in",
                "protocol": "udp",
                "port_range": {"from": 60000, "to": 61000},
                "action": "drop",
            },
        ],
        "default_policy": "drop",
    },
    "resource_allocation": {
        "vcpus": 4,
        "memory_mib": 8192,
        "storage_gib": 40,
        "limits": {"cpu_shares": 2048, "memory_hard_limit_mib": 9216},
    },
    "security_profile": {
        "users": [
            {
                "name": "deploy",
                "uid": 1001,
                "groups": ["web"],
                "shell": "/bin/bash",
                "sudo": "nopasswd",
            }
        ],
        "groups": [{"name": "web", "gid": 2000}],
        "permissions": [{"path": "/opt/app", "owner": "deploy", "mode": "0750", "recursive": True}],
        "intrusion_detection": {"enabled": True, "engine": "aide", "settings": {"watch": ["/etc"]}},
    },
    "runtime_environment": [
        {"name": "nodejs", "version": "20", "verify": {"command": ["node", "--version"]}},
    ],
    "monitoring_agents": [
        {"name": "node-exporter", "version": "1.7.0", "verify": {"process": "node_exporter"}},
    ],
    "execution_flags": ["Production", "web"],
    "fixes": [
        {
            "id": "disk-bus-sata",
            "applies_to": {"kind": "disk_bus", "match": {"target": "sata"}},
            "action": {"type": "domain", "set": {"disk_bus": "sata"}},
            "priority": 10,
        }
    ],
}


def rich(name="web-frontend"):
    document = copy.deepcopy(RICH)
    document["name"] = name
    return document


def with_inline_key(document, key=INLINE_KEY):
    document = copy.deepcopy(document)
    document.setdefault("data_volume_definitions", []).append(
        {
            "name": "secrets",
            "size_gib": 1,
            "mount_point": "/srv/secrets",
            "encryption": {"enabled": True, "key": key},
        }
    )
    return document


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def approved(users, make_document, name="web"):
    v = svc.policy_create(user=users["author"], document=make_document(name))
    svc.version_submit(user=users["author"], version=v)
    return svc.version_approve(user=users["approver"], version=v, comment="fine")


def pending(users, make_document, name="web", author="author"):
    v = svc.policy_create(user=users[author], document=make_document(name))
    return svc.version_submit(user=users[author], version=v)


def url(name, *args, **query):
    base = reverse(f"profiles:{name}", args=args)
    if query:
        base += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return base


def fresh(version) -> PolicyVersion:
    return PolicyVersion.objects.get(pk=version.pk)


# --- access ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, users, make_document):
    v = approved(users, make_document)
    for path in (
        url("list"),
        url("create"),
        url("detail", "web"),
        url("version", "web", 1),
        url("edit", "web", 1),
        url("new_draft", "web", 1),
        url("diff", "web"),
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("login")), path
    response = client.post(url("approve", "web", 1))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert fresh(v).status == VersionStatus.APPROVED


def test_unknown_profile_and_version_are_404(client, users, make_document):
    approved(users, make_document)
    login(client, users["viewer"])
    assert client.get(url("detail", "nope")).status_code == 404
    assert client.get(url("version", "web", 9)).status_code == 404
    assert client.get(url("version", "nope", 1)).status_code == 404
    assert client.get(url("edit", "web", 9)).status_code == 404
    assert client.get(url("diff", "web", a=1, b=7)).status_code == 404
    assert client.get(url("diff", "web", a="x", b=1)).status_code == 404
    assert client.get(url("diff", "nope")).status_code == 404
    assert client.post(url("approve", "web", 9)).status_code == 404
    response = client.get(url("detail", "nope"))
    assert "Page not found" in text(response)


def test_500_page_renders_without_database():
    html = loader.get_template("500.html").render({})
    assert "Something went wrong" in html
    assert "{%" not in html


def test_base_layout_has_nav_roles_and_post_logout(client, users):
    login(client, users["author_approver"])
    html = text(client.get(url("list")))
    assert "VM Persona" in html
    assert reverse("api-docs") in html
    assert 'href="/admin/"' not in html  # not staff
    assert "authors" in html and "approvers" in html
    assert f'<form method="post" action="{reverse("logout")}">' in html
    login(client, users["admin"])
    assert 'href="/admin/"' in text(client.get(url("list")))


def test_login_page_renders_and_logs_in(client, users, password):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in text(response) and "csrfmiddlewaretoken" in text(response)
    response = client.post(reverse("login"), {"username": "author", "password": password("author")})
    assert response.status_code == 302


# --- list ------------------------------------------------------------------------------


def test_list_shows_profiles_with_versions_and_counts(client, users, make_document):
    approved(users, make_document, "web")
    svc.version_create_draft(user=users["author"], policy=Policy.objects.get(name="web"))
    pending(users, make_document, "db")
    login(client, users["viewer"])
    response = client.get(url("list"))
    assert response.status_code == 200
    rows = {p.name: p for p in response.context["profiles"]}
    assert set(rows) == {"web", "db"}
    assert rows["web"].approved_number == 1 and rows["web"].latest_number == 2
    assert rows["web"].draft_count == 1 and rows["db"].pending_count == 1
    html = text(response)
    assert url("version", "web", 1) in html and url("version", "web", 2) in html


def test_list_search_and_filters(client, users, make_document):
    approved(users, make_document, "web")
    pending(users, make_document, "db")
    svc.policy_create(
        user=users["author"],
        document=make_document("cache", description="Redis cache", execution_flags=["Development"]),
    )
    login(client, users["viewer"])

    def names(**query):
        response = client.get(url("list", **query))
        assert response.status_code == 200
        return sorted(p.name for p in response.context["profiles"])

    assert names() == ["cache", "db", "web"]
    assert names(q="redis") == ["cache"]
    assert names(q="we") == ["web"]
    assert names(status="approved") == ["web"]
    assert names(status="pending") == ["db"]
    assert names(status="draft") == ["cache"]
    assert names(flag="Development") == ["cache"]
    assert names(flag="Testing") == ["db", "web"]
    assert names(flag="Production") == []
    assert names(status="bogus") == ["cache", "db", "web"]
    assert "No profile matches" in text(client.get(url("list", flag="Production")))


def test_new_profile_button_only_for_authors_and_queue_only_for_approvers(
    client, users, make_document
):
    pending(users, make_document, "web")
    login(client, users["author"])
    html = text(client.get(url("list")))
    assert url("create") in html
    assert "pending-queue" not in html

    login(client, users["approver"])
    response = client.get(url("list"))
    html = text(response)
    assert url("create") not in html
    assert 'id="pending-queue"' in html
    assert [v.label for v in response.context["pending"]] == ["web@1"]
    assert url("version", "web", 1) + "#review" in html

    login(client, users["viewer"])
    html = text(client.get(url("list")))
    assert url("create") not in html and "pending-queue" not in html


# --- detail ------------------------------------------------------------------------------


def test_detail_shows_versions_and_the_whole_history(client, users, make_document):
    v1 = approved(users, make_document, "web")
    v2 = svc.version_create_draft(
        user=users["author2"], policy=v1.policy, change_note="bigger disk"
    )
    svc.version_submit(user=users["author2"], version=v2)
    svc.version_reject(user=users["approver2"], version=v2, comment="disk too small")
    login(client, users["viewer"])
    response = client.get(url("detail", "web"))
    assert response.status_code == 200
    html = text(response)
    assert [v.number for v in response.context["versions"]] == [2, 1]
    for fragment in (
        "Approved",
        "Rejected",
        "bigger disk",
        "disk too small",
        "author2",
        "approver2",
    ):
        assert fragment in html, fragment
    # Diff links: v2 against its parent (v1, also the approved one).
    assert url("diff", "web") + "?a=1&amp;b=2" in html
    # History: who did what, and why, newest first.
    history = html[html.index('id="history"') :]
    for reason in (
        "profile created",
        "submitted for approval",
        "approved: fine",
        "rejected: disk too small",
    ):
        assert reason in history, reason
    assert history.index("rejected: disk too small") < history.index("approved: fine")
    # Viewers get no "new draft" action; authors do.
    assert url("new_draft", "web", 1) not in html
    login(client, users["author"])
    assert url("new_draft", "web", 1) in text(client.get(url("detail", "web")))


# --- version page ------------------------------------------------------------------------


def test_version_page_renders_every_section_readably(client, users):
    v = svc.policy_create(user=users["author"], document=rich(), change_note="first cut")
    login(client, users["viewer"])
    response = client.get(url("version", "web-frontend", 1))
    assert response.status_code == 200
    html = text(response)
    expected = [
        "debian-12",  # base image
        "nginx",
        "1.22.1",
        "apt package nginx",  # install method
        "process <code>node</code> is running",  # verify
        "/var/cache/app",
        "xfs",
        "key generated per VM",
        "not encrypted",
        "frontend",
        "10.20.0.15/24 via 10.20.0.1",
        "DHCP",
        "https from anywhere",
        "60000–61000",
        "8 GiB",  # memory
        "2048",  # cpu shares
        "deploy",
        "yes, no password",
        "/opt/app",
        "0750",
        "aide",
        "nodejs",
        "node-exporter",
        "disk-bus-sata",
        "set disk_bus=sata",
        "badge-flag flag-production",
        v.content_hash,
        "first cut",
        "Raw JSON",
    ]
    for fragment in expected:
        assert fragment in html, fragment


def test_key_ref_is_shown_for_a_stored_key(client, users, make_document):
    document = with_inline_key(make_document("vault"))
    version = svc.policy_create(user=users["author"], document=document)
    key_ref = version.document["data_volume_definitions"][0]["encryption"]["key_ref"]
    login(client, users["viewer"])
    html = text(client.get(url("version", "vault", 1)))
    assert key_ref in html
    assert INLINE_KEY not in html


def test_author_sees_submit_and_approver_sees_approve(client, users, make_document):
    svc.policy_create(user=users["author"], document=make_document("web"))
    login(client, users["author"])
    html = text(client.get(url("version", "web", 1)))
    assert url("submit", "web", 1) in html
    assert url("edit", "web", 1) in html
    assert url("discard", "web", 1) in html
    assert url("approve", "web", 1) not in html

    # Another author sees neither edit nor submit on someone else's draft.
    login(client, users["author2"])
    html = text(client.get(url("version", "web", 1)))
    assert url("submit", "web", 1) not in html and url("edit", "web", 1) not in html
    assert url("new_draft", "web", 1) in html

    svc.version_submit(user=users["author"], version=PolicyVersion.objects.get())
    login(client, users["approver"])
    html = text(client.get(url("version", "web", 1)))
    assert url("approve", "web", 1) in html and url("reject", "web", 1) in html
    assert url("submit", "web", 1) not in html
    assert url("new_draft", "web", 1) not in html  # not an author


def test_submit_then_approve_through_the_pages(client, users, make_document):
    version = svc.policy_create(user=users["author"], document=make_document("web"))
    login(client, users["author"])
    response = client.post(url("submit", "web", 1), follow=True)
    assert response.redirect_chain[-1][0] == url("version", "web", 1)
    assert "web@1 submitted for approval." in messages_of(response)
    assert fresh(version).status == VersionStatus.PENDING

    login(client, users["approver"])
    response = client.post(url("approve", "web", 1), {"comment": "ship it"}, follow=True)
    assert "web@1 approved." in messages_of(response)
    version = fresh(version)
    assert version.status == VersionStatus.APPROVED
    assert version.reviewer == users["approver"] and version.review_comment == "ship it"
    assert "ship it" in text(response)


def test_author_cannot_approve_own_version(client, users, make_document):
    version = pending(users, make_document, "web", author="author_approver")
    login(client, users["author_approver"])
    html = text(client.get(url("version", "web", 1)))
    assert url("approve", "web", 1) not in html
    assert "nobody reviews their own version" in html
    response = client.post(url("approve", "web", 1), {"comment": "me"}, follow=True)
    assert response.status_code == 200
    [message] = messages_of(response)
    assert message.startswith("Could not approve web@1") and "may not approve" in message
    assert fresh(version).status == VersionStatus.PENDING


def test_viewer_sees_no_actions_and_posts_are_refused(client, users, make_document):
    draft = svc.policy_create(user=users["author"], document=make_document("web"))
    other = pending(users, make_document, "db")
    login(client, users["viewer"])
    for path in (
        url("version", "web", 1),
        url("version", "db", 1),
        url("detail", "web"),
        url("list"),
    ):
        html = text(client.get(path))
        for action in ("edit", "submit", "approve", "reject", "retire", "discard", "new_draft"):
            assert url(action, "web", 1) not in html, (path, action)
            assert url(action, "db", 1) not in html, (path, action)
        assert url("create") not in html

    for action, version in (
        ("submit", draft),
        ("discard", draft),
        ("approve", other),
        ("reject", other),
    ):
        response = client.post(url(action, version.policy.name, 1), {"comment": "x"}, follow=True)
        assert response.status_code == 200
        [message] = messages_of(response)
        assert f"Could not {action}" in message and "role" in message, message
    assert fresh(draft).status == VersionStatus.DRAFT
    assert fresh(other).status == VersionStatus.PENDING

    # Editor pages: GET sends the viewer away, POST is refused by the service.
    response = client.get(url("create"), follow=True)
    assert "needs the" in messages_of(response)[0]
    response = client.post(url("create"), {"document": json.dumps(make_document("new-one"))})
    assert response.status_code == 403
    assert "Could not create the profile" in text(response)
    assert not Policy.objects.filter(name="new-one").exists()
    response = client.post(
        url("edit", "web", 1), {"document": json.dumps(make_document("web"))}, follow=True
    )
    assert "Could not save web@1" in messages_of(response)[0]
    response = client.post(
        url("new_draft", "web", 1), {"document": json.dumps(make_document("web"))}, follow=True
    )
    assert "Could not create the draft" in messages_of(response)[0]
    assert PolicyVersion.objects.count() == 2


def test_reject_needs_a_comment(client, users, make_document):
    version = pending(users, make_document, "web")
    login(client, users["approver"])
    response = client.post(url("reject", "web", 1), {"comment": "  "}, follow=True)
    [message] = messages_of(response)
    assert "needs a comment" in message
    assert fresh(version).status == VersionStatus.PENDING
    response = client.post(url("reject", "web", 1), {"comment": "memory too small"}, follow=True)
    assert "web@1 rejected." in messages_of(response)
    version = fresh(version)
    assert version.status == VersionStatus.REJECTED and version.review_comment == "memory too small"


def test_a_stale_button_gets_a_message_not_an_error(client, users, make_document):
    version = approved(users, make_document, "web")
    login(client, users["author"])
    response = client.post(url("submit", "web", 1), follow=True)
    assert response.status_code == 200
    assert "only drafts can be submitted" in messages_of(response)[0]
    login(client, users["approver2"])
    response = client.post(url("approve", "web", 1), follow=True)
    assert "only pending versions can be approved" in messages_of(response)[0]
    assert fresh(version).status == VersionStatus.APPROVED
    # Actions are POST only.
    assert client.get(url("approve", "web", 1)).status_code == 405


def test_retire_and_discard(client, users, make_document):
    version = approved(users, make_document, "web")
    draft = svc.version_create_draft(user=users["author"], policy=version.policy)
    login(client, users["approver"])
    assert url("retire", "web", 1) in text(client.get(url("version", "web", 1)))
    response = client.post(url("retire", "web", 1), {"comment": "end of life"}, follow=True)
    assert "web@1 retired." in messages_of(response)
    assert fresh(version).status == VersionStatus.RETIRED

    login(client, users["author"])
    response = client.post(url("discard", "web", 2), follow=True)
    assert response.redirect_chain[-1][0] == url("detail", "web")
    assert "web@2 discarded." in messages_of(response)
    assert not PolicyVersion.objects.filter(pk=draft.pk).exists()


# --- editing -----------------------------------------------------------------------------


def test_new_profile_page_is_prefilled_with_a_valid_template(client, users):
    login(client, users["author"])
    response = client.get(url("create"))
    assert response.status_code == 200
    html = text(response)
    assert 'class="code-editor"' in html and "csrfmiddlewaretoken" in html
    starter = json.loads(response.context["form"].safe_text)
    assert starter["schema_version"] == "1.0"
    # The template itself saves.
    response = client.post(url("create"), {"document": json.dumps(starter)})
    assert response.status_code == 302
    assert Policy.objects.filter(name=starter["name"]).exists()


def test_create_with_valid_json_redirects_to_the_new_version(client, users, make_document):
    login(client, users["author"])
    response = client.post(
        url("create"), {"document": json.dumps(make_document("web")), "change_note": "first draft"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("version", "web", 1)
    version = PolicyVersion.objects.get(policy__name="web")
    assert version.status == VersionStatus.DRAFT
    assert version.author == users["author"] and version.change_note == "first draft"
    response = client.get(response["Location"])
    assert "Profile web created as draft web@1." in messages_of(response)


def test_create_with_explicit_name(client, users, make_document):
    login(client, users["author"])
    response = client.post(
        url("create"), {"name": "other", "document": json.dumps(make_document("web"))}
    )
    assert response.status_code == 200
    assert "/name" in text(response)
    assert not Policy.objects.exists()
    response = client.post(
        url("create"), {"name": "web", "document": json.dumps(make_document("web"))}
    )
    assert response.status_code == 302


def test_invalid_json_shows_errors_with_paths_and_creates_nothing(client, users, make_document):
    login(client, users["author"])
    broken = '{"name": "web",\n  "base_image_id": }'
    response = client.post(url("create"), {"document": broken, "change_note": "x"})
    assert response.status_code == 200
    html = text(response)
    assert "Invalid JSON at line 2" in html
    assert "base_image_id" in html  # the user's text is kept

    document = make_document("web")
    document["resource_allocation"]["vcpus"] = 0
    document["execution_flags"] = ["production"]
    response = client.post(url("create"), {"document": json.dumps(document)})
    assert response.status_code == 200
    paths = [e["path"] for e in response.context["form"].document_errors]
    assert "/resource_allocation/vcpus" in paths and "/execution_flags" in paths
    html = text(response)
    assert '<span class="path">/resource_allocation/vcpus</span>' in html
    assert "must be at least 1" in html
    assert not Policy.objects.exists() and not PolicyVersion.objects.exists()


def test_duplicate_name_is_a_form_error(client, users, make_document):
    approved(users, make_document, "web")
    login(client, users["author"])
    response = client.post(url("create"), {"document": json.dumps(make_document("web"))})
    assert response.status_code == 200
    assert "already exists" in text(response)
    assert PolicyVersion.objects.count() == 1


def test_edit_draft(client, users, make_document):
    version = svc.policy_create(user=users["author"], document=make_document("web"))
    login(client, users["author"])
    response = client.get(url("edit", "web", 1))
    assert response.status_code == 200
    assert json.loads(response.context["form"].safe_text) == version.document

    document = make_document("web", base_image_id="debian-12")
    response = client.post(
        url("edit", "web", 1), {"document": json.dumps(document), "change_note": "new image"}
    )
    assert response.status_code == 302 and response["Location"] == url("version", "web", 1)
    version = fresh(version)
    assert version.document["base_image_id"] == "debian-12" and version.change_note == "new image"

    document["base_image_id"] = "bad image id"
    response = client.post(url("edit", "web", 1), {"document": json.dumps(document)})
    assert response.status_code == 200
    assert "/base_image_id" in text(response)
    assert fresh(version).document["base_image_id"] == "debian-12"

    # Another author: no edit page, and a POST changes nothing.
    login(client, users["author2"])
    response = client.get(url("edit", "web", 1), follow=True)
    assert "only its author may edit it" in messages_of(response)[0]
    response = client.post(
        url("edit", "web", 1), {"document": json.dumps(make_document("web"))}, follow=True
    )
    assert "Could not save web@1" in messages_of(response)[0]
    assert fresh(version).document["base_image_id"] == "debian-12"


def test_submitted_version_cannot_be_edited(client, users, make_document):
    pending(users, make_document, "web")
    login(client, users["author"])
    response = client.get(url("edit", "web", 1), follow=True)
    assert "only drafts can be edited" in messages_of(response)[0]
    response = client.post(
        url("edit", "web", 1), {"document": json.dumps(make_document("web"))}, follow=True
    )
    assert "only drafts can be edited" in messages_of(response)[0]


def test_new_draft_from_a_version(client, users, make_document):
    v1 = approved(users, make_document, "web")
    login(client, users["author2"])
    response = client.get(url("new_draft", "web", 1))
    assert response.status_code == 200
    assert json.loads(response.context["form"].safe_text) == v1.document
    document = make_document("web", description="more memory")
    document["resource_allocation"]["memory_mib"] = 256
    response = client.post(
        url("new_draft", "web", 1), {"document": json.dumps(document), "change_note": "more"}
    )
    assert response.status_code == 302 and response["Location"] == url("version", "web", 2)
    v2 = PolicyVersion.objects.get(number=2)
    assert v2.parent == v1 and v2.author == users["author2"] and v2.status == VersionStatus.DRAFT
    assert fresh(v1).status == VersionStatus.APPROVED


# --- volume keys never appear in a page ----------------------------------------------------


def test_inline_volume_key_never_appears_in_any_page(client, users, make_document):
    login(client, users["author"])
    document = with_inline_key(rich("vault"))
    response = client.post(
        url("create"), {"document": json.dumps(document), "change_note": "with a key"}
    )
    assert response.status_code == 302
    v1 = PolicyVersion.objects.get(policy__name="vault")
    assert INLINE_KEY not in json.dumps(v1.document)

    # A second version to diff against, created through the page from v1.
    second = copy.deepcopy(v1.document)
    second["resource_allocation"]["vcpus"] = 8
    assert (
        client.post(url("new_draft", "vault", 1), {"document": json.dumps(second)}).status_code
        == 302
    )

    pages = [
        url("list"),
        url("list", q="vault"),
        url("detail", "vault"),
        url("version", "vault", 1),
        url("version", "vault", 2),
        url("edit", "vault", 1),
        url("new_draft", "vault", 1),
        url("diff", "vault", a=1, b=2),
        url("diff", "vault", a=1, b=2, full=1),
    ]
    for who in ("author", "approver", "viewer"):
        login(client, users[who])
        for path in pages:
            response = client.get(path, follow=True)
            assert response.status_code == 200, path
            assert INLINE_KEY not in text(response), (who, path)


def test_editor_echo_drops_inline_keys_and_asks_to_enter_them_again(client, users, make_document):
    login(client, users["author"])
    # Invalid elsewhere, so the page is shown again with the user's text.
    document = with_inline_key(make_document("vault"))
    document["resource_allocation"]["vcpus"] = 0
    response = client.post(url("create"), {"document": json.dumps(document)})
    assert response.status_code == 200
    html = text(response)
    assert INLINE_KEY not in html
    echoed = json.loads(response.context["form"].safe_text)
    assert echoed["data_volume_definitions"][0]["encryption"] == {"enabled": True, "key": ""}
    assert echoed["resource_allocation"]["vcpus"] == 0  # the rest is kept
    assert "/data_volume_definitions/0/encryption/key" in html
    assert "enter the key again" in html
    assert not PolicyVersion.objects.exists()

    # Text that is not JSON at all is blanked by pattern.
    broken = json.dumps(document)[:-2]
    response = client.post(url("create"), {"document": broken})
    assert response.status_code == 200
    assert INLINE_KEY not in text(response)
    assert "Invalid JSON" in text(response)

    # The same on the draft editor and the new-draft editor.
    svc.policy_create(user=users["author"], document=make_document("vault"))
    for path in (url("edit", "vault", 1), url("new_draft", "vault", 1)):
        response = client.post(path, {"document": json.dumps(document)})
        assert response.status_code == 200, path
        assert INLINE_KEY not in text(response), path
        assert "enter the key again" in text(response)
    # A too-short key is reported at its path without being shown.
    short = with_inline_key(make_document("vault"), key="weak-pass-1")
    response = client.post(url("edit", "vault", 1), {"document": json.dumps(short)})
    assert response.status_code == 200
    assert "weak-pass-1" not in text(response)
    assert "at least 16 characters" in text(response)


# --- diff --------------------------------------------------------------------------------


def test_diff_page_shows_side_by_side_and_change_list(client, users, make_document):
    v1 = approved(users, make_document, "web")
    document = copy.deepcopy(v1.document)
    document["resource_allocation"]["vcpus"] = 3
    document["base_image_id"] = "debian-12"
    svc.version_create_draft(user=users["author"], policy=v1.policy, document=document)
    login(client, users["viewer"])
    response = client.get(url("diff", "web", a=1, b=2))
    assert response.status_code == 200
    html = text(response)
    changes = {c["pointer"]: c for c in response.context["changes"]}
    assert set(changes) == {"/resource_allocation/vcpus", "/base_image_id"}
    assert changes["/resource_allocation/vcpus"]["old"] == "1"
    assert changes["/resource_allocation/vcpus"]["new"] == "3"
    assert '<tr class="d-replace">' in html
    assert "&quot;vcpus&quot;: 1," in html and "&quot;vcpus&quot;: 3," in html
    assert "kind-changed" in html
    # Without parameters: the latest version against its parent.
    response = client.get(url("diff", "web"))
    assert (response.context["a"].number, response.context["b"].number) == (1, 2)


def test_diff_shows_only_that_a_secret_changed(client, users, make_document):
    login(client, users["author"])
    client.post(url("create"), {"document": json.dumps(with_inline_key(make_document("vault")))})
    v1 = PolicyVersion.objects.get()
    other = with_inline_key(make_document("vault"), key="An0ther-Secret-Passphrase-99")
    client.post(url("new_draft", "vault", 1), {"document": json.dumps(other)})
    response = client.get(url("diff", "vault", a=1, b=2))
    html = text(response)
    assert response.status_code == 200
    ref_change = response.context["changes"]
    assert [c["pointer"] for c in ref_change] == ["/data_volume_definitions/0/encryption/key_ref"]
    assert v1.document["data_volume_definitions"][0]["encryption"]["key_ref"] in html
    assert INLINE_KEY not in html and "An0ther-Secret-Passphrase-99" not in html


# --- cost and protection -----------------------------------------------------------------


def _queries(client, path) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_pages_cost_a_constant_number_of_queries(client, users, make_document):
    approved(users, make_document, "web")
    pending(users, make_document, "db")
    login(client, users["approver"])
    paths = [
        url("list"),
        url("detail", "web"),
        url("version", "web", 1),
        url("diff", "web", a=1, b=1),
    ]
    before = [_queries(client, path) for path in paths]
    # More profiles, versions and history must not add queries.
    for n in range(4):
        approved(users, make_document, f"extra-{n}")
        pending(users, make_document, f"queued-{n}")
    web = Policy.objects.get(name="web")
    for _ in range(3):
        svc.version_create_draft(user=users["author"], policy=web)
    assert [_queries(client, path) for path in paths] == before


def test_forms_are_csrf_protected(users, make_document):
    from django.test import Client

    version = pending(users, make_document, "web")
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["approver"])
    html = text(client.get(url("version", "web", 1)))
    assert html.count("csrfmiddlewaretoken") >= 2  # review form and logout form
    assert client.post(url("approve", "web", 1), {"comment": "x"}).status_code == 403
    assert fresh(version).status == VersionStatus.PENDING


def test_an_overlong_comment_is_refused_with_a_message(client, users, make_document):
    version = pending(users, make_document, "web")
    login(client, users["approver"])
    response = client.post(url("reject", "web", 1), {"comment": "x" * 5000}, follow=True)
    [message] = messages_of(response)
    assert message.startswith("Could not reject web@1") and "at most 4000" in message
    assert fresh(version).status == VersionStatus.PENDING


@pytest.mark.parametrize("example", ["database", "dev-workstation", "web-server"])
def test_example_profiles_render(client, users, make_document, example):
    document = make_document(example, example=example)
    svc.policy_create(user=users["author"], document=document)
    login(client, users["viewer"])
    response = client.get(url("version", example, 1))
    assert response.status_code == 200
    html = text(response)
    for app in document.get("application_manifest", []):
        assert app["name"] in html
    for volume in document.get("data_volume_definitions", []):
        assert volume["mount_point"] in html
    for fix in document.get("fixes", []):
        assert fix["id"] in html


def test_superuser_who_edited_a_draft_cannot_review_it_on_the_page(client, users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    login(client, users["admin"])
    document = make_document("web", description="the superuser's version")
    response = client.post(
        url("edit", "web", 1), {"document": json.dumps(document), "change_note": "mine"}
    )
    assert response.status_code == 302
    svc.version_submit(user=users["author"], version=v)
    page = client.get(url("version", "web", 1))
    assert 'id="version-authors">admin, author<' in text(page)
    assert url("approve", "web", 1) not in text(page)  # no review form for a writer
    for action, data in (("approve", {}), ("reject", {"comment": "no"})):
        response = client.post(url(action, "web", 1), data, follow=True)
        assert any("may not" in m for m in messages_of(response)), action
    assert fresh(v).status == VersionStatus.PENDING
    login(client, users["approver"])
    assert url("approve", "web", 1) in text(client.get(url("version", "web", 1)))


def test_lone_surrogate_in_the_editor_is_an_error_at_its_field(client, users, make_document):
    login(client, users["author"])
    document = json.dumps(make_document("web")).replace(
        '"The smallest valid profile."', '"broken \\ud800 text"'
    )
    response = client.post(url("create"), {"document": document, "change_note": "x"})
    assert response.status_code == 200
    errors = response.context["form"].document_errors
    assert [e["path"] for e in errors] == ["/description"]
    assert "surrogate" in errors[0]["message"]
    assert not Policy.objects.exists()


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


KEY_SPELLINGS = {
    "plain": ('"key"', f'"{INLINE_KEY}"'),
    "member escaped": ('"k\\u0065y"', f'"{INLINE_KEY}"'),
    "value escaped": ('"key"', f'"{_escaped(INLINE_KEY)}"'),
    "both escaped": ('"\\u006b\\u0065\\u0079"', f'"{_escaped(INLINE_KEY)}"'),
}


@pytest.mark.parametrize("spelling", KEY_SPELLINGS, ids=str)
@pytest.mark.parametrize("parseable", [True, False], ids=["parseable", "unparseable"])
def test_editor_never_echoes_a_key_however_it_is_spelt(
    client, users, make_document, spelling, parseable
):
    member, value = KEY_SPELLINGS[spelling]
    document = with_inline_key(make_document("vault"), key="PLACEHOLDER")
    document["resource_allocation"]["vcpus"] = 0  # invalid, so the editor is shown again
    raw = json.dumps(document).replace('"key": "PLACEHOLDER"', f"{member}: {value}")
    assert member in raw and value in raw
    if not parseable:
        raw = raw[:-2]
    svc.policy_create(user=users["author"], document=make_document("vault"))
    login(client, users["author"])
    for path in (url("create"), url("edit", "vault", 1), url("new_draft", "vault", 1)):
        response = client.post(path, {"document": raw, "change_note": "x"})
        assert response.status_code == 200, path
        html = text(response)
        for shown in (INLINE_KEY, _escaped(INLINE_KEY), INLINE_KEY[:12], _escaped(INLINE_KEY[:6])):
            assert shown not in html, (path, shown)
        assert "enter the key again" in html, path
    assert PolicyVersion.objects.count() == 1
