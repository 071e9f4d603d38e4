"""The rules of the policy store, as every interface sees them through the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from profiles_app.models import Policy, PolicyVersion, VersionStatus, VolumeKey
from profiles_app.services import versions as svc
from profiles_app.services.keys import volume_key_reveal
from vmpersona.errors import NotPermitted, StateConflict

pytestmark = pytest.mark.django_db

SECRET_KEY_VALUE = "correct-horse-battery-staple-4711"


def _encrypted_doc(make_document, name="vault", key=SECRET_KEY_VALUE):
    return make_document(
        name,
        data_volume_definitions=[
            {
                "name": "data",
                "size_gib": 1,
                "mount_point": "/srv/data",
                "encryption": {"enabled": True, "key": key},
            }
        ],
    )


def _approved(users, make_document, name="web"):
    v = svc.policy_create(user=users["author"], document=make_document(name))
    svc.version_submit(user=users["author"], version=v)
    return svc.version_approve(user=users["approver"], version=v, comment="ok")


def test_create_makes_a_draft_with_hash_and_author(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"), change_note="first")
    assert v.number == 1
    assert v.status == VersionStatus.DRAFT
    assert len(v.content_hash) == 64
    assert v.author == users["author"]
    assert v.policy.name == "web"


def test_viewer_and_approver_cannot_create(users, make_document):
    for who in ("viewer", "approver", "operator"):
        with pytest.raises(NotPermitted):
            svc.policy_create(user=users[who], document=make_document("web"))
    assert not Policy.objects.exists()


def test_invalid_document_creates_nothing_and_names_the_path(users, make_document):
    doc = make_document("web")
    doc["resource_allocation"]["vcpus"] = 0
    with pytest.raises(ValidationError) as info:
        svc.policy_create(user=users["author"], document=doc)
    paths = [e.params["path"] for e in info.value.error_list]
    assert "/resource_allocation/vcpus" in paths
    assert not Policy.objects.exists() and not PolicyVersion.objects.exists()


def test_document_name_must_match_profile(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    with pytest.raises(ValidationError) as info:
        svc.version_update_draft(user=users["author"], version=v, document=make_document("other"))
    assert info.value.error_list[0].params["path"] == "/name"


def test_duplicate_profile_name_is_a_clear_error(users, make_document):
    svc.policy_create(user=users["author"], document=make_document("web"))
    with pytest.raises(ValidationError) as info:
        svc.policy_create(user=users["author2"], document=make_document("web"))
    assert "already exists" in info.value.error_list[0].params["message"]


def test_only_the_author_edits_a_draft_and_only_drafts_are_editable(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    doc = make_document("web", description="changed")
    with pytest.raises(NotPermitted):
        svc.version_update_draft(user=users["author2"], version=v, document=doc)
    v = svc.version_update_draft(user=users["author"], version=v, document=doc)
    assert v.document["description"] == "changed"
    svc.version_submit(user=users["author"], version=v)
    with pytest.raises(StateConflict):
        svc.version_update_draft(user=users["author"], version=v, document=make_document("web"))
    v.refresh_from_db()
    assert v.document["description"] == "changed"
    assert v.status == VersionStatus.PENDING


def test_author_cannot_approve_or_reject_own_version(users, make_document):
    v = svc.policy_create(user=users["author_approver"], document=make_document("web"))
    svc.version_submit(user=users["author_approver"], version=v)
    with pytest.raises(NotPermitted, match="may not approve"):
        svc.version_approve(user=users["author_approver"], version=v)
    with pytest.raises(NotPermitted):
        svc.version_reject(user=users["author_approver"], version=v, comment="no")
    v.refresh_from_db()
    assert v.status == VersionStatus.PENDING
    svc.version_approve(user=users["approver"], version=v)
    v.refresh_from_db()
    assert v.status == VersionStatus.APPROVED and v.reviewer == users["approver"]


def test_only_approvers_approve(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=v)
    for who in ("author2", "operator", "viewer"):
        with pytest.raises(NotPermitted):
            svc.version_approve(user=users[who], version=v)
    v.refresh_from_db()
    assert v.status == VersionStatus.PENDING


def test_drafts_cannot_be_approved_and_approved_cannot_be_resubmitted(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    with pytest.raises(StateConflict):
        svc.version_approve(user=users["approver"], version=v)
    svc.version_submit(user=users["author"], version=v)
    svc.version_approve(user=users["approver"], version=v)
    with pytest.raises(StateConflict):
        svc.version_submit(user=users["author"], version=v)
    with pytest.raises(StateConflict):
        svc.version_approve(user=users["approver2"], version=v)


def test_approving_supersedes_the_previous_version(users, make_document):
    v1 = _approved(users, make_document)
    v2 = svc.version_create_draft(
        user=users["author2"], policy=v1.policy, document=make_document("web", description="v2")
    )
    assert v2.number == 2 and v2.parent == v1
    svc.version_submit(user=users["author2"], version=v2)
    svc.version_approve(user=users["approver"], version=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == VersionStatus.SUPERSEDED
    assert v2.status == VersionStatus.APPROVED
    assert (
        PolicyVersion.objects.filter(policy=v1.policy, status=VersionStatus.APPROVED).count() == 1
    )


def test_database_allows_one_approved_version_per_profile(users, make_document):
    v1 = _approved(users, make_document)
    v2 = svc.version_create_draft(user=users["author"], policy=v1.policy, parent=v1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyVersion.objects.filter(pk=v2.pk).update(status=VersionStatus.APPROVED)


def test_reject_needs_a_comment(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=v)
    with pytest.raises(ValidationError):
        svc.version_reject(user=users["approver"], version=v, comment="  ")
    v = svc.version_reject(user=users["approver"], version=v, comment="pin versions")
    assert v.status == VersionStatus.REJECTED and v.review_comment == "pin versions"


def test_new_draft_from_any_version_copies_its_document(users, make_document):
    v1 = _approved(users, make_document)
    v2 = svc.version_create_draft(
        user=users["author2"], policy=v1.policy, parent=v1, change_note="from v1"
    )
    assert v2.document == v1.document and v2.content_hash == v1.content_hash
    assert v2.parent == v1 and v2.status == VersionStatus.DRAFT


def test_retire_only_approved_or_superseded(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    with pytest.raises(StateConflict):
        svc.version_retire(user=users["approver"], version=v)
    svc.version_submit(user=users["author"], version=v)
    svc.version_approve(user=users["approver"], version=v)
    with pytest.raises(NotPermitted):
        svc.version_retire(user=users["author"], version=v)
    v = svc.version_retire(user=users["approver"], version=v, comment="end of life")
    assert v.status == VersionStatus.RETIRED


def test_history_records_user_and_reason(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=v)
    svc.version_approve(user=users["approver"], version=v, comment="ship it")
    records = list(PolicyVersion.history.filter(id=v.pk).order_by("history_date"))
    assert [r.status for r in records] == ["draft", "pending", "approved"]
    assert records[-1].history_user == users["approver"]
    assert "ship it" in records[-1].history_change_reason


def test_inline_key_is_sealed_and_recoverable(users, make_document):
    v = svc.policy_create(user=users["author"], document=_encrypted_doc(make_document))
    encryption = v.document["data_volume_definitions"][0]["encryption"]
    assert "key" not in encryption
    ref = encryption["key_ref"]
    key = VolumeKey.objects.get(name=ref)
    assert SECRET_KEY_VALUE not in key.ciphertext
    assert volume_key_reveal(name=ref) == SECRET_KEY_VALUE


def test_unknown_key_ref_is_rejected_with_its_path(users, make_document):
    doc = make_document(
        "vault",
        data_volume_definitions=[
            {
                "name": "data",
                "size_gib": 1,
                "mount_point": "/srv",
                "encryption": {"enabled": True, "key_ref": "nope"},
            }
        ],
    )
    with pytest.raises(ValidationError) as info:
        svc.policy_create(user=users["author"], document=doc)
    assert any(
        e.params["path"].startswith("/data_volume_definitions/0/encryption")
        for e in info.value.error_list
    )


def test_short_inline_key_error_does_not_echo_the_key(users, make_document):
    doc = _encrypted_doc(make_document, key="shortkey9")
    with pytest.raises(ValidationError) as info:
        svc.policy_create(user=users["author"], document=doc)
    text = " ".join(str(e.params) for e in info.value.error_list)
    assert "shortkey9" not in text
    assert not VolumeKey.objects.exists()


def test_discard_draft(users, make_document):
    v1 = _approved(users, make_document)
    v2 = svc.version_create_draft(user=users["author"], policy=v1.policy, parent=v1)
    with pytest.raises(NotPermitted):
        svc.version_discard_draft(user=users["author2"], version=v2)
    svc.version_discard_draft(user=users["author"], version=v2)
    assert not PolicyVersion.objects.filter(pk=v2.pk).exists()
    with pytest.raises(StateConflict):
        svc.version_discard_draft(user=users["author"], version=v1)


def test_reserved_names_are_refused(users, make_document):
    with pytest.raises(ValidationError, match="reserved"):
        svc.policy_create(user=users["author"], document=make_document("new"))


def test_long_review_comments_are_kept_whole(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=v)
    comment = "Looks right; " * 40
    v = svc.version_approve(user=users["approver"], version=v, comment=comment)
    v.refresh_from_db()
    assert v.review_comment == comment


# --- Separation of duties: whoever wrote any of a version's content never reviews it ---


def _hijacked(users, make_document):
    """author's draft, rewritten and submitted by a superuser."""
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_update_draft(
        user=users["admin"], version=v, document=make_document("web", description="mine now")
    )
    return svc.version_submit(user=users["admin"], version=v)


def test_everyone_who_changes_content_becomes_an_author(users, make_document):
    v = svc.policy_create(user=users["author"], document=make_document("web"))
    assert set(v.authors.all()) == {users["author"]}
    # A change note alone, or the same document again, is not new content.
    svc.version_update_draft(
        user=users["admin"], version=v, document=make_document("web"), change_note="tidy"
    )
    assert set(v.authors.all()) == {users["author"]}
    svc.version_update_draft(
        user=users["admin"], version=v, document=make_document("web", description="other")
    )
    assert set(v.authors.all()) == {users["author"], users["admin"]}


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_superuser_who_edited_a_draft_cannot_review_it(users, make_document, action):
    v = _hijacked(users, make_document)
    review = svc.version_approve if action == "approve" else svc.version_reject
    with pytest.raises(NotPermitted, match="may not"):
        review(user=users["admin"], version=v, comment="looks good")
    v.refresh_from_db()
    assert v.status == VersionStatus.PENDING and v.reviewer is None
    # The original author may not either; an uninvolved approver may.
    with pytest.raises(NotPermitted):
        svc.version_approve(user=users["author"], version=v)
    assert svc.version_approve(user=users["approver"], version=v).status == VersionStatus.APPROVED


def test_copy_of_unreviewed_content_keeps_its_writers(users, make_document):
    v1 = svc.policy_create(user=users["admin"], document=make_document("web"))
    v2 = svc.version_create_draft(user=users["author"], policy=v1.policy, parent=v1)
    assert set(v2.authors.all()) == {users["admin"], users["author"]}
    svc.version_submit(user=users["author"], version=v2)
    with pytest.raises(NotPermitted):
        svc.version_approve(user=users["admin"], version=v2)
    # Approved content was reviewed already: a copy of it is its new writer's alone.
    svc.version_approve(user=users["approver"], version=v2)
    v3 = svc.version_create_draft(user=users["author2"], policy=v1.policy, parent=v2)
    assert set(v3.authors.all()) == {users["author2"]}
