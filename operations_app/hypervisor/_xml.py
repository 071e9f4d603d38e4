"""Small ElementTree helpers shared by the XML builders and parsers.

Values are only ever placed as element text or attribute values, which ElementTree
escapes; nothing is assembled by string formatting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .errors import InvalidSpec

PERSONA_NS = "https://vmpersona.dev/xmlns/domain/1"
PERSONA_PREFIX = "persona"
ET.register_namespace(PERSONA_PREFIX, PERSONA_NS)

_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
    "p": 1024**5,
    "pib": 1024**5,
    "pb": 1000**5,
    "e": 1024**6,
    "eib": 1024**6,
    "eb": 1000**6,
}


def sub(
    parent: ET.Element, tag: str, text: str | int | None = None, /, **attrs: object
) -> ET.Element:
    """Append a child; attributes whose value is None are left out."""
    elem = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        elem.text = str(text)
    return elem


def to_string(elem: ET.Element) -> str:
    return ET.tostring(elem, encoding="unicode")


def parse(xml: str | bytes, *, what: str) -> ET.Element:
    """Parse an XML document; documents with a DTD are refused (no entity tricks)."""
    head = xml[:4096] if isinstance(xml, str) else xml[:4096].decode("utf-8", "replace")
    if "<!DOCTYPE" in head.upper() or "<!ENTITY" in head.upper():
        raise InvalidSpec(f"{what} must not contain a DTD")
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InvalidSpec(f"{what} is not well-formed XML: {exc}") from None


def local(tag: str) -> str:
    """Tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def to_int(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def to_bytes(value: str | None, unit: str | None, *, default_unit: str = "b") -> int | None:
    number = to_int(value)
    if number is None:
        return None
    factor = _UNITS.get((unit or default_unit).lower())
    if factor is None:
        return None
    return number * factor


def size_of(elem: ET.Element | None, *, default_unit: str = "b") -> int | None:
    """Bytes held by an element like ``<capacity unit='KiB'>123</capacity>``."""
    if elem is None:
        return None
    return to_bytes(elem.text, elem.get("unit"), default_unit=default_unit)


def attr(root: ET.Element, path: str, name: str) -> str | None:
    """Attribute ``name`` of the first element at ``path``, or None."""
    elem = root.find(path)
    return None if elem is None else elem.get(name)


def text_of(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    return elem.text if elem.text is not None else ""
