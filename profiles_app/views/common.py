"""What the pages of every kind share: how each kind's pages are worded and where they
live, lookups that answer 404, role checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.urls import reverse

from profiles_app import selectors
from profiles_app.kinds import get_kind
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
from vmpersona.roles import APPROVERS, AUTHORS, has_role

EXAMPLES = Path(settings.BASE_DIR) / "examples"


@dataclass(frozen=True)
class KindPages:
    """How the pages of one policy kind word things and where they live.

    Every kind's pages are the same views; ``namespace`` is both the URL prefix and the
    URL instance namespace (``profiles:detail``, ``policies:detail``).
    """

    kind: str
    namespace: str
    noun: str  # "profile"
    nouns: str  # "profiles"
    title: str  # the list's heading
    intro: str  # the list's subtitle
    format_name: str  # what the editor calls the document
    document_template: str  # renders a version's document section by section
    unapproved_note: str  # what having no approved version means
    retire_note: str  # what retiring a version means
    examples_dir: Path | None = None  # example documents (``*.json``) to start from
    secrets_note: str = ""  # said beside the editor when the kind holds secrets

    @property
    def has_flags(self) -> bool:
        """Whether the kind's documents carry execution flags worth showing."""
        return bool(get_kind(self.kind).flag_choices)

    def url(self, page: str, *args: object) -> str:
        return reverse(f"{self.namespace}:{page}", args=args)

    def policy_url(self, policy: Policy) -> str:
        return self.url("detail", policy.name)

    def version_url(self, version: PolicyVersion) -> str:
        return self.url("version", version.policy.name, version.number)


PAGES: dict[str, KindPages] = {
    PolicyKind.VPPD: KindPages(
        kind=PolicyKind.VPPD,
        namespace="profiles",
        noun="profile",
        nouns="profiles",
        title="VM personality profiles",
        intro="Each profile is a versioned VPPD: authors draft and submit versions, "
        "approvers approve one to make it active.",
        format_name="VPPD",
        document_template="partials/vppd_document.html",
        unapproved_note="No version is approved yet, so this profile cannot be used to "
        "clone or migrate VMs.",
        retire_note="A retired version may no longer be used to clone or migrate VMs.",
        examples_dir=EXAMPLES,
        secrets_note="Volume keys typed here are stored encrypted and replaced by a "
        "key_ref; they are never shown again.",
    ),
    PolicyKind.SCHEDULING: KindPages(
        kind=PolicyKind.SCHEDULING,
        namespace="policies",
        noun="policy",
        nouns="policies",
        title="Scheduling policies",
        intro="When VM Persona proposes moving VMs between platforms. Each policy is "
        "versioned: authors draft and submit versions, approvers approve one to make it "
        "active; the approved version is evaluated and its plans are listed under Plans.",
        format_name="Scheduling policy",
        document_template="profiles_app/_scheduling_document.html",
        unapproved_note="No version is approved yet, so this policy is not evaluated.",
        retire_note="A retired version is no longer evaluated and proposes no plans.",
        examples_dir=EXAMPLES / "scheduling",
    ),
}


def kind_pages(kind: str) -> KindPages:
    return PAGES[kind]


def policy_or_404(pages: KindPages, name: str) -> Policy:
    try:
        return selectors.profile_get(kind=pages.kind, name=name)
    except selectors.NotFound as exc:
        raise Http404(f"No {pages.noun} named '{name}'.") from exc


def version_or_404(pages: KindPages, name: str, number: int) -> PolicyVersion:
    try:
        return selectors.version_get(kind=pages.kind, name=name, number=number)
    except selectors.NotFound as exc:
        raise Http404(f"No version {number} of {pages.noun} '{name}'.") from exc


def can_author(user) -> bool:
    return has_role(user, AUTHORS)


def can_approve(user) -> bool:
    return has_role(user, APPROVERS)


def is_own_draft(user, version: PolicyVersion) -> bool:
    return version.status == VersionStatus.DRAFT and (
        version.author_id == user.pk or user.is_superuser
    )
