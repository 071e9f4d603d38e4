"""Every write to policies and their versions goes through here.

Rules (the same for pages, API, admin and CLI):
- authors create and edit drafts and submit them; only a draft's author edits it;
- approvers approve, reject and retire; nobody approves or rejects a version they wrote
  any of (``PolicyVersion.authors``: its author, whoever edited the draft since, and
  the authors of an unreviewed version it was copied from), superusers included;
- a submitted version never changes again; approving one supersedes the policy's
  previously approved version (at most one is active, also a database constraint).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from profiles_app.documents import (
    content_hash,
    inline_key_values,
    inline_secrets,
    validate_document,
)
from profiles_app.jsondoc.errors import text_problem
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
from profiles_app.services.keys import volume_key_create
from profiles_app.signals import APPROVED, REJECTED, RETIRED, SUBMITTED, version_reviewed
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import APPROVERS, AUTHORS, require_role

logger = logging.getLogger(__name__)

# A version copied from one of these carries content nobody has approved yet.
UNREVIEWED_STATUSES = (VersionStatus.DRAFT, VersionStatus.PENDING, VersionStatus.REJECTED)

# Names that would collide with the pages' own URLs (/profiles/new/, ...).
RESERVED_NAMES = frozenset({"new", "diff", "edit", "api"})


def _record(obj, *, user, reason: str) -> None:
    """Save with an explicit history user and change reason (works without a request)."""
    attribute_change(obj, user=user, reason=reason)
    obj.save()


def _check_texts(**fields: str | None) -> None:
    """Free text bound for the database (change notes, comments, descriptions) must be
    storable: the same rule as for every string in a document."""
    errors = []
    for path, value in fields.items():
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                errors.append(field_error(path, problem))
    if errors:
        raise ValidationError(errors)


def _check_name(document: Any, policy_name: str) -> None:
    name = document.get("name") if isinstance(document, dict) else None
    if name != policy_name:
        raise ValidationError(
            "%(path)s: %(message)s",
            code="name_mismatch",
            params={
                "path": "/name",
                "message": f"the document's name '{name}' must be the profile's name '{policy_name}'",
            },
        )


def _seal_keys(document: dict, *, user, policy_name: str, kind: str) -> dict:
    """Move inline secrets (volume keys) into encrypted VolumeKey rows, leaving key_refs
    behind; the policy's kind says where they are."""
    for secret in list(inline_secrets(document, kind=kind)):
        plain = secret.holder.pop(secret.field)
        row = volume_key_create(
            user=user,
            plain=str(plain),
            name_hint=f"{policy_name}-{secret.label}",
            description=f"{secret.what} of profile {policy_name}",
        )
        secret.holder[secret.ref_field] = row.name
    return document


def _prepare(document: Any, *, user, policy_name: str, kind: str) -> dict:
    # Validate first (inline keys are checked for strength there), then seal keys, so
    # an invalid document creates nothing.
    validate_document(document, kind=kind)
    _check_name(document, policy_name)
    if not isinstance(document, dict):  # pragma: no cover - validate_document rejects it
        raise ValidationError("The document must be a JSON object.")
    import copy

    sealed = _seal_keys(copy.deepcopy(document), user=user, policy_name=policy_name, kind=kind)
    assert not inline_key_values(sealed, kind=kind)
    return sealed


def _next_number(policy: Policy) -> int:
    current = policy.versions.aggregate(n=Max("number"))["n"] or 0
    return current + 1


def _lock_policy(policy: Policy) -> Policy:
    return Policy.objects.select_for_update().get(pk=policy.pk)


def _lock_version(version: PolicyVersion) -> PolicyVersion:
    return PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)


def _lock_in_status(
    version: PolicyVersion, statuses: tuple[str, ...], *, refusal: str
) -> PolicyVersion:
    """The version locked for update, or ``StateConflict`` (``"<label> is <status>"`` then
    ``refusal``) when its status is not one of ``statuses``."""
    version = _lock_version(version)
    if version.status not in statuses:
        raise StateConflict(f"{version.label} is {version.get_status_display().lower()}{refusal}")
    return version


def _announce(
    version: PolicyVersion, *, action: str, user, comment: str = "", previous_status: str
) -> None:
    """Tell the rest of the project (notifications) about a review step; a receiver
    that fails is logged and never undoes the step."""
    for receiver, result in version_reviewed.send_robust(
        sender=PolicyVersion,
        version=version,
        action=action,
        user=user,
        comment=comment,
        previous_status=previous_status,
    ):
        if isinstance(result, Exception):
            logger.error("%s of %s: %r failed", action, version.label, receiver, exc_info=result)


def _check_own_draft(version: PolicyVersion, user, action: str) -> None:
    if version.author_id != user.pk and not user.is_superuser:
        raise NotPermitted(
            f"{version.label} is {version.author}'s draft; only its author may {action} it."
        )


@transaction.atomic
def policy_create(
    *,
    user,
    document: Any,
    name: str | None = None,
    kind: str = PolicyKind.VPPD,
    description: str | None = None,
    change_note: str = "",
) -> PolicyVersion:
    """Create a policy and its first draft version from a document."""
    require_role(user, AUTHORS, "create profiles")
    _check_texts(name=name, description=description, change_note=change_note)
    doc_name = document.get("name") if isinstance(document, dict) else None
    name = name or doc_name
    if not name or not isinstance(name, str):
        validate_document(document, kind=kind)  # reports /name among the rest
        raise ValidationError("A profile needs a name.", code="required", params={"path": "/name"})
    if name in RESERVED_NAMES:
        raise ValidationError(
            "%(path)s: %(message)s",
            code="reserved",
            params={"path": "/name", "message": f"'{name}' is reserved; choose another name"},
        )
    noun = "profile" if kind == PolicyKind.VPPD else "policy"
    if Policy.objects.filter(kind=kind, name=name).exists():
        raise ValidationError(
            "%(path)s: %(message)s",
            code="duplicate",
            params={"path": "/name", "message": f"a {noun} named '{name}' already exists"},
        )
    sealed = _prepare(document, user=user, policy_name=name, kind=kind)
    if description is None:
        description = str(sealed.get("description", ""))[:2000]
    policy = Policy(kind=kind, name=name, description=description, created_by=user)
    try:
        with transaction.atomic():
            _record(policy, user=user, reason=f"{noun} created")
    except IntegrityError as exc:
        raise ValidationError(
            "%(path)s: %(message)s",
            code="duplicate",
            params={"path": "/name", "message": f"a {noun} named '{name}' already exists"},
        ) from exc
    version = PolicyVersion(
        policy=policy,
        number=1,
        document=sealed,
        content_hash=content_hash(sealed),
        author=user,
        change_note=change_note,
    )
    _record(version, user=user, reason=change_note or "first draft")
    version.authors.add(user)
    logger.info("%s %s created by %s", noun, policy.name, user)
    return version


@transaction.atomic
def version_create_draft(
    *,
    user,
    policy: Policy,
    document: Any | None = None,
    parent: PolicyVersion | None = None,
    change_note: str = "",
) -> PolicyVersion:
    """A new draft of ``policy``: from ``document``, or a copy of ``parent``'s document."""
    require_role(user, AUTHORS, "create drafts")
    _check_texts(change_note=change_note)
    policy = _lock_policy(policy)
    if parent is not None and parent.policy_id != policy.pk:
        raise ValidationError("The parent version belongs to another profile.", code="invalid")
    if parent is not None:  # its status as stored now, not as the caller last saw it
        parent = PolicyVersion.objects.get(pk=parent.pk)
    if document is None:
        if parent is None:
            parent = policy.versions.order_by("-number").first()
        if parent is None:
            raise ValidationError("Give a document or a version to start from.", code="required")
        document = parent.document
    elif parent is None:
        parent = (
            policy.versions.filter(status=VersionStatus.APPROVED).first()
            or policy.versions.order_by("-number").first()
        )
    sealed = _prepare(document, user=user, policy_name=policy.name, kind=policy.kind)
    version = PolicyVersion(
        policy=policy,
        number=_next_number(policy),
        document=sealed,
        content_hash=content_hash(sealed),
        author=user,
        parent=parent,
        change_note=change_note,
    )
    _record(
        version,
        user=user,
        reason=change_note or f"draft started from {parent.label if parent else 'scratch'}",
    )
    version.authors.add(user)
    if parent is not None and parent.status in UNREVIEWED_STATUSES:
        # Content nobody else has approved yet stays its writers' content in the copy.
        version.authors.add(*parent.authors.all())
    _record(policy, user=user, reason=f"draft {version.number} created")
    return version


@transaction.atomic
def version_update_draft(
    *, user, version: PolicyVersion, document: Any, change_note: str | None = None
) -> PolicyVersion:
    """Replace a draft's document (and change note). Only its author may."""
    require_role(user, AUTHORS, "edit drafts")
    _check_texts(change_note=change_note)
    version = _lock_in_status(
        version,
        (VersionStatus.DRAFT,),
        refusal=": only drafts can be edited; start a new draft from it instead.",
    )
    _check_own_draft(version, user, "edit")
    sealed = _prepare(
        document, user=user, policy_name=version.policy.name, kind=version.policy.kind
    )
    new_hash = content_hash(sealed)
    changed_content = new_hash != version.content_hash
    version.document = sealed
    version.content_hash = new_hash
    if change_note is not None:
        version.change_note = change_note
    _record(version, user=user, reason="draft edited")
    if changed_content:
        version.authors.add(user)
    return version


@transaction.atomic
def version_submit(*, user, version: PolicyVersion) -> PolicyVersion:
    """Freeze a draft and ask for review."""
    require_role(user, AUTHORS, "submit versions")
    version = _lock_in_status(
        version, (VersionStatus.DRAFT,), refusal="; only drafts can be submitted."
    )
    _check_own_draft(version, user, "submit")
    # The document was valid when saved, but referenced keys may have gone since.
    validate_document(version.document, kind=version.policy.kind)
    version.status = VersionStatus.PENDING
    version.submitted_at = timezone.now()
    _record(version, user=user, reason="submitted for approval")
    _announce(version, action=SUBMITTED, user=user, previous_status=VersionStatus.DRAFT)
    return version


def _check_reviewer(user, version: PolicyVersion, action: str) -> None:
    """Separation of duties: nobody reviews content they wrote, superusers included."""
    require_role(user, APPROVERS, f"{action} versions")
    if version.author_id == user.pk or version.authors.filter(pk=user.pk).exists():
        raise NotPermitted(
            f"{user.username} wrote {version.label} and so may not {action} it; another approver must."
        )


@transaction.atomic
def version_approve(*, user, version: PolicyVersion, comment: str = "") -> PolicyVersion:
    """Approve a pending version; it becomes the policy's active one."""
    _check_reviewer(user, version, "approve")
    _check_texts(comment=comment)
    _lock_policy(version.policy)
    version = _lock_in_status(
        version, (VersionStatus.PENDING,), refusal="; only pending versions can be approved."
    )
    validate_document(version.document, kind=version.policy.kind)
    for previous in PolicyVersion.objects.select_for_update().filter(
        policy_id=version.policy_id, status=VersionStatus.APPROVED
    ):
        previous.status = VersionStatus.SUPERSEDED
        _record(previous, user=user, reason=f"superseded by {version.label}")
    version.status = VersionStatus.APPROVED
    version.reviewer = user
    version.review_comment = comment
    version.reviewed_at = timezone.now()
    _record(version, user=user, reason=f"approved: {comment}" if comment else "approved")
    logger.info("%s approved by %s", version.label, user)
    _announce(
        version, action=APPROVED, user=user, comment=comment, previous_status=VersionStatus.PENDING
    )
    return version


@transaction.atomic
def version_reject(*, user, version: PolicyVersion, comment: str) -> PolicyVersion:
    """Reject a pending version; a comment saying why is required."""
    _check_reviewer(user, version, "reject")
    _check_texts(comment=comment)
    version = _lock_in_status(
        version, (VersionStatus.PENDING,), refusal="; only pending versions can be rejected."
    )
    if not comment or not comment.strip():
        raise ValidationError(
            "A rejection needs a comment that tells the author why.",
            code="required",
            params={"path": "comment"},
        )
    version.status = VersionStatus.REJECTED
    version.reviewer = user
    version.review_comment = comment.strip()
    version.reviewed_at = timezone.now()
    _record(version, user=user, reason=f"rejected: {comment.strip()}")
    _announce(
        version,
        action=REJECTED,
        user=user,
        comment=version.review_comment,
        previous_status=VersionStatus.PENDING,
    )
    return version


@transaction.atomic
def version_retire(*, user, version: PolicyVersion, comment: str = "") -> PolicyVersion:
    """Retire an approved (or superseded) version: it may no longer be used."""
    require_role(user, APPROVERS, "retire versions")
    _check_texts(comment=comment)
    version = _lock_in_status(
        version,
        (VersionStatus.APPROVED, VersionStatus.SUPERSEDED),
        refusal="; only approved or superseded versions can be retired.",
    )
    previous_status = version.status
    version.status = VersionStatus.RETIRED
    if comment:
        version.review_comment = comment
    _record(version, user=user, reason=f"retired: {comment}" if comment else "retired")
    _announce(version, action=RETIRED, user=user, comment=comment, previous_status=previous_status)
    return version


@transaction.atomic
def version_discard_draft(*, user, version: PolicyVersion) -> None:
    """Delete a draft nobody else depends on. Only its author (or a superuser) may."""
    require_role(user, AUTHORS, "discard drafts")
    version = _lock_in_status(
        version, (VersionStatus.DRAFT,), refusal="; only drafts can be discarded."
    )
    _check_own_draft(version, user, "discard")
    if version.children.exists():
        raise StateConflict(
            f"{version.label} has later versions started from it and cannot be discarded."
        )
    attribute_change(version, user=user, reason="draft discarded")
    version.delete()
