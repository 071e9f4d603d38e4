"""Forms for the profile pages.

They only parse what the browser sent; every rule about documents and states lives in
the services. A document form also decides what of the user's text may be shown back:
inline volume encryption keys never are.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from profiles_app.documents import parse_document_text, pretty_json
from profiles_app.jsondoc.errors import printable
from vmpersona.errors import error_list

KEY_NOTICE = (
    "volume keys are never shown back in a page: enter the key again (or name a stored "
    "key with key_ref) before saving"
)

# A member in text that is not valid JSON: its name (a JSON string, a single-quoted
# string or a bare word, any of them possibly written with escapes such as \u0065) and
# its value (a string, possibly unterminated and then running to the end of its line,
# or a bare token). Matching every member, not only "key", keeps the scan in step with
# string boundaries. Used only when the text cannot be parsed, so it errs on blanking
# too much rather than too little.
_MEMBER = re.compile(
    r"""(?P<name>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[A-Za-z_$\\][\w$\\]*)"""
    r"""(?P<colon>\s*:\s*)"""
    r"""(?P<value>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|[^\s,:\[\]{}"']+)"""
)
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(token: str) -> str:
    """A name or value as JSON (or JavaScript) would read it, leniently: quotes off,
    ``\\uXXXX`` and the other escapes decoded."""
    if token[:1] in "\"'":
        token = token[1:-1] if len(token) > 1 and token[-1] == token[0] else token[1:]

    def decode(match: re.Match) -> str:
        code = match.group(1)
        if code[0] == "u" and len(code) == 5:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    return _ESCAPE.sub(decode, token)


def _is_key_member(name: str) -> bool:
    return name.strip().lower() == "key"


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _blank_encryption_keys(value: Any, pointer: str, found: list[tuple[str, str]]) -> None:
    """Blank every ``encryption.key`` anywhere in ``value``; record (pointer, old)."""
    if isinstance(value, dict):
        for member, child in value.items():
            child_pointer = f"{pointer}/{_escape_pointer(str(member))}"
            if member == "encryption" and isinstance(child, dict):
                for name in [n for n in child if _is_key_member(str(n))]:
                    old = child[name]
                    if old not in ("", None):
                        found.append((f"{child_pointer}/{_escape_pointer(str(name))}", str(old)))
                    child[name] = ""
            _blank_encryption_keys(child, child_pointer, found)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _blank_encryption_keys(child, f"{pointer}/{index}", found)


def redact_editor_text(text: str, *, kind: str) -> tuple[str, list[dict[str, str]], list[str]]:
    """The user's text made safe to show again.

    Returns (text, notices, removed values). Inline volume keys become empty strings
    and each one gets a notice at its JSON pointer, however the member or its value is
    spelt (``"k\\u0065y"``, ``"\\u0073..."``). Text without keys comes back unchanged,
    so the user's formatting is kept.
    """
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict | list):
        found: list[tuple[str, str]] = []
        _blank_encryption_keys(document, "", found)
        if not found:
            return text, [], []
        notices = [{"path": path, "message": KEY_NOTICE} for path, _ in found]
        # Escapes the text held (a lone surrogate) stay escapes in the echo.
        return printable(pretty_json(document, kind=kind)), notices, [old for _, old in found]
    removed: list[str] = []

    def blank(match: re.Match) -> str:
        if not _is_key_member(_unescape(match.group("name"))):
            return match.group(0)
        raw = match.group("value")
        for value in (raw.strip("\"'"), _unescape(raw)):
            if value and value not in removed:
                removed.append(value)
        return f'{match.group("name")}{match.group("colon")}""'

    safe = _MEMBER.sub(blank, text)
    notices = [{"path": "", "message": KEY_NOTICE}] if removed else []
    return safe, notices, removed


def scrub(message: str, secrets: list[str]) -> str:
    for value in secrets:
        if value and len(value) >= 3:
            message = message.replace(value, "[redacted]")
    return message


class DocumentForm(forms.Form):
    """A policy document (of ``kind``, e.g. a VPPD) as JSON text plus a change note."""

    document = forms.CharField(
        strip=False,
        widget=forms.Textarea(
            attrs={"class": "code-editor", "rows": 32, "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    change_note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What changed and why"}),
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.document_errors: list[dict[str, str]] = []
        self._removed_keys: list[str] = []
        self.key_notices: list[dict[str, str]] = []
        if self.is_bound:
            text = self.data.get(self.add_prefix("document"), "")
            self.safe_text, self.key_notices, self._removed_keys = redact_editor_text(
                text, kind=kind
            )
        else:
            self.safe_text = self.initial.get("document", "")

    def clean_document(self) -> Any:
        text = self.cleaned_data["document"]
        try:
            return parse_document_text(text)
        except ValidationError as exc:
            self.add_document_errors(exc)
            raise ValidationError(
                "The document is not valid JSON; see the errors listed.", code="invalid"
            ) from None

    def add_document_errors(self, exc: ValidationError) -> None:
        for item in error_list(exc):
            self.document_errors.append(
                {"path": item["path"], "message": scrub(item["message"], self._removed_keys)}
            )

    @property
    def all_document_errors(self) -> list[dict[str, str]]:
        """Problems with the document, then notices about keys removed from the echo."""
        return [*self.document_errors, *self.key_notices]


class ProfileCreateForm(DocumentForm):
    name = forms.SlugField(
        required=False,
        max_length=63,
        help_text="Leave empty to use the document's name.",
        widget=forms.TextInput(attrs={"placeholder": "from the document", "autocomplete": "off"}),
    )
    field_order = ["name", "change_note", "document"]


class ReviewForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
