"""Both feeds parsed as they come (OSV records, lists, the API's ``vulns``; the Debian
tracker's JSON), bad files refused naming the field's JSON pointer, and versions
compared as Debian and PyPI order them."""

from __future__ import annotations

import copy

import pytest

from operations_app.advisories import FeedError, parse_feed
from operations_app.advisories.debian import release_ecosystem
from operations_app.advisories.exposure import (
    AdvisoryIndex,
    Package,
    dotted,
    platform_packages,
    profile_packages,
    source_package,
)
from operations_app.advisories.versions import UnsupportedEcosystem, is_affected
from tests.operations_app.advisories.feeds import (
    DSA_QEMU,
    GHSA_DJANGO,
    PYSEC_LAST_AFFECTED,
    osv_feed,
    text,
    tracker,
)

pytestmark = pytest.mark.dbfree


def by_id(advisories):
    return {a.id: a for a in advisories}


# --------------------------------------------------------------------------- OSV


def test_osv_records_in_every_shape_give_their_advisories():
    assert [a.id for a in parse_feed(text(DSA_QEMU))] == ["DSA-5549-1"]
    assert [a.id for a in parse_feed(text([DSA_QEMU, GHSA_DJANGO]))] == [
        "DSA-5549-1",
        "GHSA-vm8q-m57g-pff3",
    ]
    found = by_id(parse_feed(text(osv_feed())))
    assert set(found) == {"DSA-5549-1", "DEBIAN-CVE-2024-1086", "GHSA-vm8q-m57g-pff3"}

    django = found["GHSA-vm8q-m57g-pff3"]
    assert django.source == "osv" and django.cve == "CVE-2024-27351"
    assert django.cvss == 7.5 and django.cvss_vector.startswith("CVSS:3.1/")
    assert [a.package for a in django.affected] == ["django"] * 3
    assert django.published is not None and django.published.tzinfo is not None

    linux = found["DEBIAN-CVE-2024-1086"]
    assert linux.cve == "CVE-2024-1086" and linux.cvss == 7.8  # from its CVSS v3 vector
    assert linux.summary.startswith("A use-after-free")  # no summary: the details
    qemu = found["DSA-5549-1"]
    assert qemu.cvss == 8.2  # database_specific carries the number
    assert qemu.affected[0].ecosystem == "Debian:12"
    assert qemu.affected[0].versions[0] == "1:7.2+dfsg-7"


def test_semver_ranges_last_affected_and_cvss_v4_are_read_git_ranges_left_out():
    (advisory,) = parse_feed(text(PYSEC_LAST_AFFECTED))
    assert advisory.cvss == 9.3
    (affected,) = advisory.affected
    assert [r["type"] for r in affected.ranges] == ["SEMVER"]
    entry = affected.to_dict()
    assert is_affected(entry, "2.1.0") and is_affected(entry, "1.0.0")
    assert not is_affected(entry, "2.1.1") and not is_affected(entry, "0.9")
    assert is_affected(entry, "0.9rc1")  # listed in versions


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d.pop("id"), "/id", "non-empty string"),
        (lambda d: d["affected"][0]["package"].pop("name"), "/affected/0/package/name", "string"),
        (
            lambda d: d["affected"][0]["ranges"][0].update(type="NUMERIC"),
            "/affected/0/ranges/0/type",
            "not a range type",
        ),
        (
            lambda d: d["affected"][0]["ranges"][0]["events"][1].update(fixed="no version!"),
            "/affected/0/ranges/0/events/1/fixed",
            "not a Debian version",
        ),
        (
            lambda d: d["affected"][0]["ranges"][0]["events"].append({"fixed": "1", "limit": "2"}),
            "/affected/0/ranges/0/events/2",
            "exactly one of",
        ),
        (lambda d: d.update(published="yesterday"), "/published", "RFC 3339"),
        (
            lambda d: d.update(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}]),
            "/severity/0/score",
            "not a CVSS_V3 vector",
        ),
        (lambda d: d.update(affected={"qemu": 1}), "/affected", "must be a list"),
    ],
)
def test_a_bad_osv_record_names_the_offending_field(mutate, path, words):
    record = copy.deepcopy(DSA_QEMU)
    mutate(record)
    with pytest.raises(FeedError) as caught:
        parse_feed(text({"vulns": [GHSA_DJANGO, record]}))
    assert caught.value.path == "/vulns/1" + path
    assert words in caught.value.message


def test_a_file_that_is_no_feed_says_so():
    with pytest.raises(FeedError, match="not JSON"):
        parse_feed(b"{nope")
    with pytest.raises(FeedError, match="neither an OSV record"):
        parse_feed(text({"hello": "world"}))
    with pytest.raises(FeedError, match="no advisories"):
        parse_feed(text({"vulns": []}))
    with pytest.raises(FeedError, match="appears twice") as caught:
        parse_feed(text([GHSA_DJANGO, GHSA_DJANGO]))
    assert caught.value.path == "/1/id"


# --------------------------------------------------------------------------- Debian tracker


def test_the_debian_tracker_gives_one_advisory_per_cve_in_numbered_releases():
    found = by_id(parse_feed(text(tracker())))
    assert set(found) == {"CVE-2023-3180", "CVE-2024-1441", "CVE-2024-1086", "CVE-2024-26581"}
    qemu = found["CVE-2023-3180"]
    assert qemu.source == "debian-tracker" and qemu.cvss is None
    # bullseye's fixed_version 0: never affected; sid has no number
    assert [(a.ecosystem, a.package) for a in qemu.affected] == [("Debian:12", "qemu")]
    assert qemu.affected[0].ranges[0]["events"] == [
        {"introduced": "0"},
        {"fixed": "1:7.2+dfsg-7+deb12u2"},
    ]
    assert {a.ecosystem for a in found["CVE-2024-1441"].affected} == {"Debian:12", "Debian:13"}
    # open: every version; undetermined: nothing said yet
    (open_entry,) = found["CVE-2024-26581"].affected
    assert open_entry.ranges[0]["events"] == [{"introduced": "0"}]


def test_a_bad_tracker_entry_names_its_path():
    data = tracker()
    data["libvirt"]["CVE-2024-1441"]["releases"]["bookworm"]["status"] = "fixed"
    with pytest.raises(FeedError) as caught:
        parse_feed(text(data))
    assert caught.value.path == "/libvirt/CVE-2024-1441/releases/bookworm/status"
    data = tracker()
    del data["linux"]["CVE-2024-1086"]["releases"]["bookworm"]["fixed_version"]
    with pytest.raises(FeedError) as caught:
        parse_feed(text(data))
    assert caught.value.path == "/linux/CVE-2024-1086/releases/bookworm/fixed_version"


def test_release_names_map_to_ecosystems():
    assert release_ecosystem("bookworm") == "Debian:12"
    assert release_ecosystem("trixie") == "Debian:13"
    assert release_ecosystem("12") == "Debian:12"
    with pytest.raises(ValueError, match="not a Debian release"):
        release_ecosystem("hamm-ish")


# --------------------------------------------------------------------------- versions


def debian_fixed(fixed, *, ecosystem="Debian:12", introduced="0"):
    return {
        "ecosystem": ecosystem,
        "package": "qemu",
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}],
    }


@pytest.mark.parametrize(
    ("installed", "fixed", "affected"),
    [
        ("1:7.2+dfsg-7+deb12u2", "1:7.2+dfsg-7+deb12u3", True),
        ("1:7.2+dfsg-7+deb12u3", "1:7.2+dfsg-7+deb12u3", False),
        ("1:7.2+dfsg-7+deb12u10", "1:7.2+dfsg-7+deb12u3", False),  # u10 > u3, not as text
        ("8.0.0", "1:7.2+dfsg-7+deb12u3", True),  # the epoch outweighs the upstream version
        ("9.0.0-4", "9.0.0-4+deb12u1", True),
        ("9.0.0-4+deb12u1", "9.0.0-4+deb12u1", False),
        ("6.1.76-1~bpo11+1", "6.1.76-1", True),  # ~ sorts before anything
        ("6.1.76-1", "6.1.76-1", False),
        ("2.0~rc1-1", "2.0-1", True),
    ],
)
def test_debian_versions_order_as_dpkg_does(installed, fixed, affected):
    assert is_affected(debian_fixed(fixed), installed) is affected


def test_an_upstream_version_alone_is_compared_to_the_fixes_upstream_part():
    entry = debian_fixed("9.0.0-4+deb12u1")
    assert is_affected(entry, "9.0.0", upstream_only=True)  # the fix may not be installed
    assert not is_affected(entry, "9.1.0", upstream_only=True)
    assert is_affected(debian_fixed("1:7.2+dfsg-7+deb12u3"), "7.2.0", upstream_only=True)
    assert not is_affected(debian_fixed("1:7.2+dfsg-7+deb12u3"), "8.0.0", upstream_only=True)


def test_pypi_ranges_of_the_django_advisory():
    affected = [a.to_dict() for a in parse_feed(text(GHSA_DJANGO))[0].affected]

    def hit(version):
        return any(is_affected(a, version) for a in affected)

    assert hit("3.2.24") and not hit("3.2.25")
    assert hit("4.1.13") and hit("4.2.10") and not hit("4.2.11")
    assert hit("5.0rc1") and hit("5.0.2") and not hit("5.0.3")
    assert not hit("3.1.14") and not hit("5.1")
    assert hit("4.2.10.post1")  # PEP 440, not text


def test_other_ecosystems_are_refused_not_compared_as_text():
    entry = {"ecosystem": "npm", "package": "x", "ranges": [{"type": "SEMVER", "events": []}]}
    with pytest.raises(UnsupportedEcosystem, match="unsupported ecosystem 'npm'"):
        is_affected(entry, "1.0.0")


# --------------------------------------------------------------------------- exposure


def index_of(*records):
    entries = []
    for advisory in (a for r in records for a in parse_feed(text(r))):
        for affected in advisory.affected:
            entries.append((advisory.id, advisory.cve, advisory.cvss, affected.to_dict()))
    return AdvisoryIndex(entries, {"CVE-2024-1086": 7.8})


def test_a_platforms_packages_come_from_dpkg_and_libvirt():
    facts = {
        "debian_release": "bookworm",
        "packages": {
            "linux-image-6.1.0-17-amd64": {"version": "6.1.69-1"},
            "qemu-system-x86": {"version": "1:7.2+dfsg-7+deb12u2"},
            "qemu-utils": {"version": "1:7.2+dfsg-7+deb12u2"},
            "openssh-server": {"version": "1:9.2p1-2+deb12u2", "source": "openssh"},
        },
    }
    caps = {"libvirt_version": "9.0.0", "hypervisor_version": "7.2.0"}
    packages = platform_packages(capabilities=caps, facts=facts)
    names = {(p.name, p.version, p.upstream_only) for p in packages}
    assert names == {
        ("linux", "6.1.69-1", False),
        ("qemu", "1:7.2+dfsg-7+deb12u2", False),  # dpkg's version, not libvirt's 7.2.0
        ("openssh", "1:9.2p1-2+deb12u2", False),
        ("libvirt", "9.0.0", True),
    }
    assert source_package("libvirt-daemon-system") == "libvirt"
    assert dotted(9000000) == "9.0.0" and dotted(7002000) == "7.2.0"

    exposures = {e.advisory: e for e in index_of(DSA_QEMU, tracker()).match(packages)}
    assert set(exposures) == {
        "DSA-5549-1",  # fixed in deb12u3; CVE-2023-3180 was fixed in deb12u2, installed
        "CVE-2024-1441",
        "CVE-2024-1086",
        "CVE-2024-26581",
    }
    assert exposures["CVE-2024-1086"].cvss == 7.8  # scored from another feed by CVE
    assert exposures["CVE-2024-26581"].cvss is None  # no feed scored it
    assert exposures["CVE-2024-1441"].version == "9.0.0"  # libvirt's, upstream only


def test_a_patched_platform_is_exposed_to_what_is_still_open_only():
    facts = {
        "packages": {
            "linux-image-6.1.0-28-amd64": "6.1.119-1",
            "qemu-system-x86": "1:7.2+dfsg-7+deb12u7",
            "libvirt-daemon": "9.0.0-4+deb12u2",
        }
    }
    packages = platform_packages(capabilities={}, facts=facts)
    exposures = index_of(DSA_QEMU, tracker()).match(packages)
    assert [e.advisory for e in exposures] == ["CVE-2024-26581"]


def test_a_profiles_applications_are_matched_by_their_ecosystem():
    document = {
        "application_manifest": [
            {"name": "django", "version": "4.2.10", "install": {"method": "script"}},
            {
                "name": "hypervisor-tools",
                "version": "7.2",
                "install": {"method": "package", "manager": "apt", "package": "qemu"},
            },
            {
                "name": "web",
                "version": "1.0",
                "install": {"method": "package", "manager": "dnf", "package": "nginx"},
            },
        ],
        "runtime_environment": [{"name": "openjdk", "version": "8u392"}],
    }
    packages, unmatched = profile_packages(document)
    assert [(p.ecosystem, p.name, p.version) for p in packages] == [
        ("PyPI", "django", "4.2.10"),
        ("Debian:12", "qemu", "7.2"),
    ]
    assert any("unsupported ecosystem 'Red Hat'" in u for u in unmatched)
    assert any("openjdk" in u for u in unmatched)
    exposures = index_of(GHSA_DJANGO, DSA_QEMU).match(packages)
    assert [(e.advisory, e.cvss) for e in exposures] == [
        ("CVE-2024-27351", 7.5),
        ("DSA-5549-1", 8.2),
    ]
    assert index_of(GHSA_DJANGO).match([Package("PyPI", "Django", "4.2.11")]) == []
