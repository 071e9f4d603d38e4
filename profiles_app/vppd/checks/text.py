"""Free text that reaches the hypervisor: the rules the clone's XML and nwfilter guards
keep (``operations_app/hypervisor/validation.py`` ``check_text``, ``domainxml``,
``nwfilterxml``), checked here so a profile that validates can be cloned."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError

# What XML 1.0 cannot carry (its "Char" production); lone surrogates are refused for
# every string by the document machinery already.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def xml_text_problem(text: str, *, single_line: bool = False) -> str | None:
    """Why the hypervisor would refuse ``text`` in an XML document, or None."""
    found = _NOT_XML_CHAR.search(text)
    if found:
        return f"holds the character U+{ord(found.group()):04X}, which XML cannot carry"
    if single_line:
        found = _CONTROL.search(text)
        if found:
            return (
                f"must be a single line: it holds the control character U+{ord(found.group()):04X}"
                " (newline, tab, carriage return, ...)"
            )
    return None


def check_description(doc: dict, **_: Any) -> Iterator[DocumentError]:
    """The description becomes the VM's domain description."""
    description = doc.get("description")
    if not isinstance(description, str):
        return
    if "\r" in description:
        yield DocumentError(
            "/description", "must not hold carriage returns (\\r); end lines with \\n only"
        )
        return
    problem = xml_text_problem(description)
    if problem:
        yield DocumentError("/description", problem)
