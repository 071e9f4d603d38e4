"""Feed excerpts in the feeds' own formats: OSV records as osv.dev serves them (a Debian
DSA for qemu, a Debian CVE record for the kernel, a GitHub advisory for Django) and the
Debian security tracker's JSON for qemu, libvirt and linux."""

from __future__ import annotations

import copy
import json
from typing import Any

DSA_QEMU: dict[str, Any] = {
    "schema_version": "1.6.0",
    "id": "DSA-5549-1",
    "modified": "2024-11-21T11:52:29Z",
    "published": "2023-11-08T00:00:00Z",
    "related": ["CVE-2023-3180", "CVE-2023-3354", "CVE-2023-42467"],
    "summary": "qemu - security update",
    "affected": [
        {
            "package": {
                "ecosystem": "Debian:12",
                "name": "qemu",
                "purl": "pkg:deb/debian/qemu?arch=source",
            },
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1:7.2+dfsg-7+deb12u3"}],
                }
            ],
            "versions": ["1:7.2+dfsg-7", "1:7.2+dfsg-7+deb12u1", "1:7.2+dfsg-7+deb12u2"],
        }
    ],
    "references": [{"type": "ADVISORY", "url": "https://www.debian.org/security/2023/dsa-5549"}],
    "database_specific": {"cvss_score": 8.2},
}

DEBIAN_CVE_LINUX: dict[str, Any] = {
    "schema_version": "1.6.0",
    "id": "DEBIAN-CVE-2024-1086",
    "modified": "2024-09-18T03:16:58Z",
    "published": "2024-01-31T13:15:10Z",
    "upstream": ["CVE-2024-1086"],
    "details": "A use-after-free vulnerability in the Linux kernel's netfilter: nf_tables "
    "component can be exploited to achieve local privilege escalation.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {
                "name": "linux",
                "ecosystem": "Debian:12",
                "purl": "pkg:deb/debian/linux?arch=source",
            },
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "6.1.76-1"}]}
            ],
            "versions": ["6.1.66-1", "6.1.69-1", "6.1.76-1~bpo11+1"],
        }
    ],
}

GHSA_DJANGO: dict[str, Any] = {
    "schema_version": "1.4.0",
    "id": "GHSA-vm8q-m57g-pff3",
    "modified": "2024-03-15T19:47:36Z",
    "published": "2024-03-04T09:30:32Z",
    "aliases": ["CVE-2024-27351"],
    "summary": "Django Regular expression denial-of-service in django.utils.text.Truncator.words()",
    "details": "In Django 3.2 before 3.2.25, 4.2 before 4.2.11, and 5.0 before 5.0.3, the "
    "django.utils.text.Truncator.words() method (with html=True) and the truncatewords_html "
    "template filter are subject to a potential regular expression denial-of-service attack.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "django", "purl": "pkg:pypi/django"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "3.2"}, {"fixed": "3.2.25"}]}
            ],
        },
        {
            "package": {"ecosystem": "PyPI", "name": "django", "purl": "pkg:pypi/django"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "4.0a1"}, {"fixed": "4.2.11"}]}
            ],
        },
        {
            "package": {"ecosystem": "PyPI", "name": "django", "purl": "pkg:pypi/django"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "5.0a1"}, {"fixed": "5.0.3"}]}
            ],
        },
    ],
    "references": [
        {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-27351"},
        {"type": "PACKAGE", "url": "https://github.com/django/django"},
    ],
    "database_specific": {
        "cwe_ids": ["CWE-1333"],
        "github_reviewed": True,
        "severity": "MODERATE",
        "nvd_published_at": "2024-03-15T20:15:07Z",
    },
}

PYSEC_LAST_AFFECTED: dict[str, Any] = {
    "id": "PYSEC-2099-1",
    "modified": "2024-01-01T00:00:00Z",
    "summary": "a flaw up to and including 2.1.0 of a SEMVER-ranged package",
    "severity": [
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        }
    ],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Example_Pkg"},
            "ranges": [
                {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "2.1.0"}]},
                {
                    "type": "GIT",
                    "repo": "https://example.org/example.git",
                    "events": [{"introduced": "0"}, {"fixed": "a1b2c3d"}],
                },
            ],
            "versions": ["0.9rc1"],
        }
    ],
}

TRACKER: dict[str, Any] = {
    "qemu": {
        "CVE-2023-3180": {
            "description": "A flaw was found in the QEMU virtual crypto device while handling "
            "data encryption/decryption requests in virtio_crypto_handle_sym_req.",
            "scope": "local",
            "debianbug": 1041471,
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "repositories": {
                        "bookworm": "1:7.2+dfsg-7+deb12u7",
                        "bookworm-security": "1:7.2+dfsg-7+deb12u6",
                    },
                    "fixed_version": "1:7.2+dfsg-7+deb12u2",
                    "urgency": "not yet assigned",
                },
                "bullseye": {
                    "status": "resolved",
                    "repositories": {"bullseye": "1:5.2+dfsg-11+deb11u3"},
                    "fixed_version": "0",
                    "urgency": "not yet assigned",
                },
                "sid": {
                    "status": "resolved",
                    "repositories": {"sid": "1:9.1.0+ds-8"},
                    "fixed_version": "1:8.0.4+dfsg-1",
                    "urgency": "not yet assigned",
                },
            },
        }
    },
    "libvirt": {
        "CVE-2024-1441": {
            "description": "An off-by-one error flaw was found in the "
            "udevListInterfacesByStatus() function in libvirt.",
            "scope": "local",
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "repositories": {"bookworm": "9.0.0-4+deb12u2"},
                    "fixed_version": "9.0.0-4+deb12u1",
                    "urgency": "not yet assigned",
                },
                "trixie": {
                    "status": "resolved",
                    "repositories": {"trixie": "11.3.0-3"},
                    "fixed_version": "10.2.0-1",
                    "urgency": "not yet assigned",
                },
            },
        }
    },
    "linux": {
        "CVE-2024-1086": {
            "description": "A use-after-free vulnerability in the Linux kernel's netfilter: "
            "nf_tables component can be exploited to achieve local privilege escalation.",
            "scope": "local",
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "repositories": {"bookworm": "6.1.115-1"},
                    "fixed_version": "6.1.76-1",
                    "urgency": "not yet assigned",
                },
                "bullseye": {
                    "status": "resolved",
                    "repositories": {"bullseye": "5.10.226-1"},
                    "fixed_version": "5.10.209-2",
                    "urgency": "not yet assigned",
                },
            },
        },
        "CVE-2024-26581": {
            "description": "In the Linux kernel, the following vulnerability has been "
            "resolved: netfilter: nft_set_rbtree: skip end interval element from gc",
            "scope": "local",
            "releases": {
                "bookworm": {
                    "status": "open",
                    "repositories": {"bookworm": "6.1.115-1"},
                    "urgency": "not yet assigned",
                },
                "buster": {
                    "status": "undetermined",
                    "repositories": {"buster": "4.19.249-2"},
                    "urgency": "not yet assigned",
                },
            },
        },
    },
}


def text(data: Any) -> bytes:
    return json.dumps(data).encode()


def osv_feed() -> dict[str, Any]:
    """The OSV API's answer shape, ``{"vulns": [...]}``."""
    return {"vulns": copy.deepcopy([DSA_QEMU, DEBIAN_CVE_LINUX, GHSA_DJANGO])}


def tracker() -> dict[str, Any]:
    return copy.deepcopy(TRACKER)
