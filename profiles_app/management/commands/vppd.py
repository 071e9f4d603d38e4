"""``manage.py vppd``: validate, import, review, export and compare VPPDs.

Every write goes through the same services as the pages and the API, so the same roles
and state rules hold; ``--as USER`` names the acting user. The exit status is the
contract for scripts (see ``EPILOG``); usage errors exit 2 also when the command is
called through ``call_command``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils import timezone

from profiles_app import selectors
from profiles_app.diff import document_diff
from profiles_app.documents import (
    parse_document_text,
    pretty_json,
    redact_document,
    validate_document,
)
from profiles_app.management.help import HelpFormatter
from profiles_app.models import PolicyKind, VersionStatus
from profiles_app.services import versions as services
from vmpersona.errors import DomainError, error_list

KIND = PolicyKind.VPPD  # the kind of policy this command handles
MAX_NUMBER = 2_147_483_647  # version numbers are positive 32-bit integers
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

EPILOG = """\
subcommands:
  validate FILE                      check a document (FILE or - for stdin)
  import FILE --profile NAME --as U  new draft (creates the profile if missing)
  submit NAME@N --as U               send a draft for approval
  approve NAME@N --as U [--comment]  approve a pending version
  reject NAME@N --as U --comment C   reject a pending version, saying why
  retire NAME@N --as U [--comment]   retire an approved or superseded version
  export NAME[@N]                    the document as JSON (NAME alone: the approved
                                     version, else the latest)
  diff NAME@A NAME@B                 one line per change: "~ /ptr: old -> new",
                                     "+ /ptr: new", "- /ptr: old"
  list                               profiles with their approved and latest versions
  show NAME[@N]                      a profile's versions, or one version's header

Document errors are printed one per line as "<json-pointer>: <message>", e.g.
"/resource_allocation/vcpus: must be at least 1; got 0"; the document root
is shown as "/". validate prints them on stdout, the other subcommands on stderr.

exit status:
  0  success (validate: the document is valid)
  1  invalid input: the document is invalid or not JSON (or another value a
     service refuses, e.g. an empty rejection comment)
  2  usage error: unknown subcommand, missing or bad argument, unreadable FILE
  3  refused: the user's roles do not allow it, the version's status does not
     allow it (e.g. approving a draft), or no such user, profile or version
"""


class _Exit(Exception):
    def __init__(self, code: int, lines: list[str]):
        super().__init__(code)
        self.code = code
        self.lines = lines


def pointer_text(pointer: str) -> str:
    """How a JSON pointer is shown: as is, with the root ("") as "/"."""
    return pointer or "/"


def error_lines(exc: ValidationError) -> list[str]:
    return [f"{pointer_text(e['path'])}: {e['message']}" for e in error_list(exc)]


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _short(text: str, width: int = 50) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class Command(BaseCommand):
    help = "Validate, import, review, export and compare VM personality profiles (VPPDs)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        # The exit status is this command's contract: argparse errors exit 2 (with the
        # usage on stderr) however the command is invoked.
        parser.called_from_command_line = True
        sub = parser.add_subparsers(dest="action", metavar="SUBCOMMAND", required=True)

        def add(name: str, help_text: str, *, acting: bool = False):
            p = sub.add_parser(
                name,
                help=help_text,
                description=help_text,
                epilog=EPILOG,
                formatter_class=HelpFormatter,
            )
            if acting:
                p.add_argument(
                    "--as", dest="as_user", required=True, metavar="USER", help="The acting user."
                )
            return p

        p = add("validate", "Check a document against the VPPD schema and rules.")
        p.add_argument("file", metavar="FILE", help="A JSON document, or - for stdin.")
        p.add_argument(
            "--offline",
            action="store_true",
            help="Skip the check that key_refs name stored keys (needs no database). "
            "Without it the check runs when the database is reachable.",
        )

        p = add("import", "Store a document as a new draft.", acting=True)
        p.add_argument("file", metavar="FILE", help="A JSON document, or - for stdin.")
        p.add_argument(
            "--profile", required=True, metavar="NAME", help="The profile (created if missing)."
        )
        p.add_argument("--note", default="", metavar="TEXT", help="Change note.")

        p = add("submit", "Submit a draft for approval.", acting=True)
        p.add_argument("label", metavar="NAME@N")

        p = add("approve", "Approve a pending version.", acting=True)
        p.add_argument("label", metavar="NAME@N")
        p.add_argument("--comment", default="", metavar="TEXT")

        p = add("reject", "Reject a pending version.", acting=True)
        p.add_argument("label", metavar="NAME@N")
        p.add_argument("--comment", required=True, metavar="TEXT", help="Why (required).")

        p = add("retire", "Retire an approved or superseded version.", acting=True)
        p.add_argument("label", metavar="NAME@N")
        p.add_argument("--comment", default="", metavar="TEXT")

        p = add("export", "Print a version's document as JSON.")
        p.add_argument(
            "label", metavar="NAME[@N]", help="NAME alone: the approved version, else the latest."
        )

        p = add("diff", "Print the changes from one version to another.")
        p.add_argument("old", metavar="NAME@A")
        p.add_argument("new", metavar="NAME@B")

        p = add("list", "List profiles with their approved and latest versions.")
        p.add_argument("--search", default="", help="Part of the name or description.")
        p.add_argument(
            "--status",
            default="",
            choices=["", *VersionStatus.values],
            help="Having a version in this status.",
        )
        p.add_argument("--flag", default="", help="Having a version with this execution flag.")

        p = add("show", "Show a profile's versions, or one version's header.")
        p.add_argument("label", metavar="NAME[@N]")

    # --- plumbing -------------------------------------------------------------------

    def handle(self, *args, **options):
        action = options["action"]
        try:
            getattr(self, f"do_{action}")(options)
        except _Exit as exc:
            stream = (
                self.stdout if (action == "validate" and exc.code == EXIT_INVALID) else self.stderr
            )
            for line in exc.lines:
                stream.write(line)
            raise SystemExit(exc.code) from None
        except ValidationError as exc:
            for line in error_lines(exc):
                self.stderr.write(line)
            raise SystemExit(EXIT_INVALID) from None
        except DomainError as exc:  # NotPermitted, StateConflict, NotFound, ...
            self.stderr.write(f"error: {exc}")
            raise SystemExit(EXIT_REFUSED) from None

    def _read(self, name: str) -> str:
        try:
            if name == "-":
                return sys.stdin.read()
            return Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _Exit(
                EXIT_USAGE, [f"error: cannot read {name}: {getattr(exc, 'strerror', None) or exc}"]
            ) from exc

    def _document(self, name: str) -> Any:
        try:
            return parse_document_text(self._read(name))
        except ValidationError as exc:
            raise _Exit(EXIT_INVALID, error_lines(exc)) from exc

    def _user(self, username: str):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise _Exit(EXIT_REFUSED, [f"error: no user named '{username}'."]) from None
        if not user.is_active:
            raise _Exit(EXIT_REFUSED, [f"error: user '{username}' is inactive."])
        return user

    def _version(self, label: str, *, default_latest: bool = False):
        number = label.rpartition("@")[2] if "@" in label else ""
        if number.isdigit() and int(number) > MAX_NUMBER:  # beyond any stored number
            raise _Exit(
                EXIT_REFUSED, [f"error: no version {number} of '{label.rpartition('@')[0]}'."]
            )
        return selectors.version_by_label(label, kind=KIND, default_latest=default_latest)

    # --- subcommands ----------------------------------------------------------------

    def do_validate(self, options):
        name = options["file"]
        document = self._document(name)
        try:
            try:
                validate_document(document, kind=KIND, check_key_refs=not options["offline"])
            except DatabaseError:
                self.stderr.write("note: database unavailable; key_refs were not checked.")
                validate_document(document, kind=KIND, check_key_refs=False)
        except ValidationError as exc:
            raise _Exit(EXIT_INVALID, error_lines(exc)) from exc
        self.stdout.write(f"{'<stdin>' if name == '-' else name}: valid")

    def do_import(self, options):
        document = self._document(options["file"])
        user = self._user(options["as_user"])
        name = options["profile"]
        try:
            policy = selectors.profile_get(kind=KIND, name=name)
        except selectors.NotFound:
            version = services.policy_create(
                user=user, document=document, name=name, kind=KIND, change_note=options["note"]
            )
        else:
            version = services.version_create_draft(
                user=user, policy=policy, document=document, change_note=options["note"]
            )
        self.stdout.write(f"{version.label} draft created")

    def do_submit(self, options):
        user = self._user(options["as_user"])
        version = services.version_submit(user=user, version=self._version(options["label"]))
        self.stdout.write(f"{version.label} submitted for approval")

    def do_approve(self, options):
        user = self._user(options["as_user"])
        version = services.version_approve(
            user=user, version=self._version(options["label"]), comment=options["comment"]
        )
        self.stdout.write(f"{version.label} approved")

    def do_reject(self, options):
        user = self._user(options["as_user"])
        version = services.version_reject(
            user=user, version=self._version(options["label"]), comment=options["comment"]
        )
        self.stdout.write(f"{version.label} rejected")

    def do_retire(self, options):
        user = self._user(options["as_user"])
        version = services.version_retire(
            user=user, version=self._version(options["label"]), comment=options["comment"]
        )
        self.stdout.write(f"{version.label} retired")

    def do_export(self, options):
        version = self._version(options["label"], default_latest=True)
        self.stdout.write(pretty_json(redact_document(version.document, kind=KIND), kind=KIND))

    def do_diff(self, options):
        old = self._version(options["old"], default_latest=True)
        new = self._version(options["new"], default_latest=True)
        changes = document_diff(old.document, new.document)
        for change in changes:
            pointer = pointer_text(change.pointer)
            if change.kind == "added":
                self.stdout.write(f"+ {pointer}: {_value(change.new)}")
            elif change.kind == "removed":
                self.stdout.write(f"- {pointer}: {_value(change.old)}")
            else:
                self.stdout.write(f"~ {pointer}: {_value(change.old)} -> {_value(change.new)}")
        if not changes:
            self.stderr.write(f"{old.label} and {new.label} have the same document.")

    def do_list(self, options):
        # Annotated by profile_list: approved_number, latest_number, version_count, ...
        profiles: Any = selectors.profile_list(
            kind=KIND, search=options["search"], status=options["status"], flag=options["flag"]
        )
        rows = [
            [
                p.name,
                str(p.approved_number or "-"),
                str(p.latest_number or "-"),
                str(p.version_count),
                str(p.pending_count),
                _short(p.description),
            ]
            for p in profiles
        ]
        if not rows:
            self.stderr.write("No profiles.")
            return
        self.stdout.write(
            _table(["NAME", "APPROVED", "LATEST", "VERSIONS", "PENDING", "DESCRIPTION"], rows)
        )

    def do_show(self, options):
        label = options["label"]
        if "@" not in label:
            policy = selectors.profile_get(kind=KIND, name=label)
            rows = [
                [
                    v.label,
                    v.status,
                    v.author.username,
                    v.reviewer.username if v.reviewer else "-",
                    _when(v.updated_at),
                    _short(v.change_note, 40),
                ]
                for v in selectors.version_list(policy=policy)
            ]
            self.stdout.write(f"{policy.name}: {policy.description}".rstrip(": "))
            self.stdout.write(
                _table(["VERSION", "STATUS", "AUTHOR", "REVIEWER", "UPDATED", "NOTE"], rows)
            )
            return
        v = self._version(label)
        fields = [
            ("version", v.label),
            ("status", v.status),
            ("content hash", v.content_hash),
            ("author", v.author.username),
            ("parent", v.parent.label if v.parent else "-"),
            ("change note", v.change_note or "-"),
            ("created", _when(v.created_at)),
            ("submitted", _when(v.submitted_at)),
            ("reviewer", v.reviewer.username if v.reviewer else "-"),
            ("reviewed", _when(v.reviewed_at)),
            ("review comment", v.review_comment or "-"),
            ("execution flags", ", ".join(v.execution_flags) or "-"),
        ]
        width = max(len(k) for k, _ in fields) + 1
        for key, value in fields:
            self.stdout.write(f"{(key + ':').ljust(width)} {value}")
