"""One verification item: a VPPD element checked inside the guest."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SECTIONS = (
    "base_image",
    "applications",
    "runtime",
    "data_volumes",
    "network",
    "security",
    "monitoring",
    "health",
)


@dataclass
class CheckResult:
    section: str  # one of SECTIONS
    pointer: str  # JSON pointer of the VPPD element, e.g. "/application_manifest/0/verify"
    name: str  # for people: "app nginx 1.24.0 verify command"
    source: str  # where it was read: always "guest" here
    expected: str
    actual: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        text = f"[{mark}] {self.pointer} {self.name}: expected {self.expected}; got {self.actual}"
        return f"{text} ({self.detail})" if self.detail else text
