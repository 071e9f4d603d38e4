"""Importing advisories: the service (idempotent, all or nothing, from a file or a URL
served on 127.0.0.1), the API, ``persona advisory`` and the advisories page."""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from operations_app.models import Advisory, AdvisoryAffected
from operations_app.services import advisories as advisory_services
from tests.operations_app.job_support import errors, persona
from vmpersona.errors import DomainError, NotPermitted, error_list

from .feeds import DSA_QEMU, GHSA_DJANGO, osv_feed, text, tracker

pytestmark = pytest.mark.django_db

API = "/api/v1/advisories/"


def test_importing_stores_each_advisory_and_importing_again_changes_nothing(users):
    result = advisory_services.advisories_import(user=users["operator"], content=text(osv_feed()))
    assert result.source == "osv" and len(result.created) == 3
    django = Advisory.objects.get(advisory_id="GHSA-vm8q-m57g-pff3")
    assert django.cve == "CVE-2024-27351" and django.cvss == 7.5
    assert django.imported_by == users["operator"]
    assert django.affected.count() == 3
    assert django.history.count() == 1
    linux = Advisory.objects.get(advisory_id="DEBIAN-CVE-2024-1086")
    assert linux.aliases == ["CVE-2024-1086"] and linux.cve == "CVE-2024-1086"

    again = advisory_services.advisories_import(user=users["operator"], content=text(osv_feed()))
    assert again.created == [] and again.updated == [] and len(again.unchanged) == 3
    assert Advisory.objects.count() == 3 and AdvisoryAffected.objects.count() == 5
    assert django.history.count() == 1

    changed = dict(GHSA_DJANGO, modified="2024-04-01T00:00:00Z")
    changed["affected"] = changed["affected"][:1]
    result = advisory_services.advisories_import(user=None, content=text(changed))
    assert result.updated == ["GHSA-vm8q-m57g-pff3"]
    django.refresh_from_db()
    assert django.affected.count() == 1 and django.history.count() == 2

    result = advisory_services.advisories_import(user=None, content=text(tracker()))
    assert result.source == "debian-tracker" and len(result.created) == 4
    # the same CVE from two feeds: two records, one CVE
    assert Advisory.objects.filter(cve="CVE-2024-1086").count() == 2


def test_a_bad_file_changes_nothing_and_names_the_field(users):
    bad = osv_feed()
    bad["vulns"][2]["affected"][1]["ranges"][0]["events"][1]["fixed"] = "4.2.11!!"
    with pytest.raises(ValidationError) as caught:
        advisory_services.advisories_import(user=users["operator"], content=text(bad))
    (problem,) = error_list(caught.value)
    assert problem["path"] == "/vulns/2/affected/1/ranges/0/events/1/fixed"
    assert "not a PEP 440 version" in problem["message"]
    assert Advisory.objects.count() == 0


def test_only_operators_import(users):
    with pytest.raises(NotPermitted, match="operators"):
        advisory_services.advisories_import(user=users["viewer"], content=text(DSA_QEMU))


@contextmanager
def served(routes: dict[str, tuple[int, dict[str, str], bytes]]):
    """An http.server on 127.0.0.1 answering ``routes`` (path -> status, headers, body)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            code, headers, body = routes.get(self.path, (404, {}, b"not here"))
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_importing_from_a_url_with_its_limits(users, tmp_path):
    routes = {
        "/osv.json": (200, {"Content-Type": "application/json"}, text(osv_feed())),
        "/moved": (302, {"Location": "/osv.json"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/to-ftp": (301, {"Location": "ftp://127.0.0.1/feed.json"}, b""),
        "/big": (200, {}, b"[" + b" " * 4096 + b"]"),
    }
    with served(routes) as base:
        result = advisory_services.advisories_import_url(user=None, url=f"{base}/moved")
        assert len(result.created) == 3
        with pytest.raises(DomainError, match="file:///etc/passwd' is not allowed"):
            advisory_services.advisories_fetch(f"{base}/to-file")
        with pytest.raises(DomainError, match="redirects to ftp:, not http or https"):
            advisory_services.advisories_fetch(f"{base}/to-ftp")
        with pytest.raises(DomainError, match="404"):
            advisory_services.advisories_fetch(f"{base}/missing")
        with pytest.raises(ValidationError, match="larger than 1024 bytes"):
            advisory_services.advisories_fetch(f"{base}/big", max_bytes=1024)
    with pytest.raises(ValidationError, match="http:// or https://"):
        advisory_services.advisories_fetch("file:///etc/passwd")
    with pytest.raises(ValidationError, match="http:// or https://"):
        advisory_services.advisories_fetch("ftp://example.org/feed.json")


def test_the_api_imports_lists_and_shows(api, users):
    upload = SimpleUploadedFile("osv.json", text(osv_feed()), content_type="application/json")
    response = api(users["operator"]).post(API, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["total"] == 3 and len(response.json()["created"]) == 3

    upload = SimpleUploadedFile("t.json", text(tracker()), content_type="application/json")
    response = api(users["viewer"]).post(API, {"file": upload}, format="multipart")
    assert response.status_code == 403

    bad = tracker()
    bad["qemu"]["CVE-2023-3180"]["releases"]["bookworm"]["fixed_version"] = "1:"
    upload = SimpleUploadedFile("t.json", text(bad), content_type="application/json")
    response = api(users["operator"]).post(API, {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "/qemu/CVE-2023-3180/releases/bookworm/fixed_version" in errors(response)

    response = api(users["operator"]).post(API, {"url": "gopher://x"}, format="json")
    assert response.status_code == 400 and "url" in errors(response)
    response = api(users["operator"]).post(API, {}, format="json")
    assert response.status_code == 400 and "file" in errors(response)

    listed = api(users["viewer"]).get(API, {"search": "django"}).json()
    assert [a["id"] for a in listed["results"]] == ["GHSA-vm8q-m57g-pff3"]
    listed = api(users["viewer"]).get(API, {"package": "qemu"}).json()
    assert [a["id"] for a in listed["results"]] == ["DSA-5549-1"]
    listed = api(users["viewer"]).get(API).json()
    assert [a["cvss"] for a in listed["results"]] == [8.2, 7.8, 7.5]  # the highest first

    detail = api(users["viewer"]).get(f"{API}CVE-2024-27351/")
    assert detail.status_code == 200
    (record,) = detail.json()
    assert record["id"] == "GHSA-vm8q-m57g-pff3" and record["affected"][0]["package"] == "django"
    assert api(users["viewer"]).get(f"{API}CVE-1999-0001/").status_code == 404


def test_the_command_line_imports_and_lists(users, tmp_path, no_cli_user):
    path = tmp_path / "osv.json"
    path.write_bytes(text(osv_feed()))
    code, out, err = persona("advisory", "import", str(path), "--as", "operator")
    assert code == 0, err
    assert "3 advisories from OSV: 3 new, 0 updated, 0 unchanged" in out
    code, out, _ = persona("advisory", "import", str(path), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == [
        "DSA-5549-1",
        "DEBIAN-CVE-2024-1086",
        "GHSA-vm8q-m57g-pff3",
    ]

    code, out, _ = persona("advisory", "list", "--package", "django")
    assert code == 0 and "GHSA-vm8q-m57g-pff3" in out and "7.5" in out and "DSA-" not in out
    code, out, _ = persona("advisory", "list", "--json")
    assert [a["id"] for a in json.loads(out)][0] == "DSA-5549-1"

    bad = tmp_path / "bad.json"
    bad.write_text('{"vulns": [{"id": 5}]}')
    code, _, err = persona("advisory", "import", str(bad))
    assert code == 1 and "/vulns/0/id: must be a non-empty string" in err
    code, _, err = persona("advisory", "import", str(path), "--as", "viewer")
    assert code == 3 and "operators" in err
    code, _, err = persona("advisory", "import")
    assert code == 3 and "Name a FILE or give --url" in err
    code, _, err = persona("advisory", "import", str(tmp_path / "none.json"))
    assert code == 1 and "cannot read" in err


def test_the_page_lists_advisories_and_operators_import(client, users):
    client.force_login(users["viewer"])
    page = client.get("/ops/advisories/")
    assert page.status_code == 200 and b"No advisories" in page.content
    assert b'type="file"' not in page.content

    client.force_login(users["operator"])
    upload = SimpleUploadedFile("osv.json", text(osv_feed()), content_type="application/json")
    response = client.post("/ops/advisories/", {"file": upload})
    assert response.status_code == 302
    page = client.get("/ops/advisories/?q=qemu")
    assert b"DSA-5549-1" in page.content and b"GHSA-vm8q" not in page.content
    upload = SimpleUploadedFile("bad.json", b"[{}]", content_type="application/json")
    response = client.post("/ops/advisories/", {"file": upload})
    assert response.status_code == 400 and b"/0/id" in response.content
    assert b"advisories" in client.get("/ops/plans/").content


def test_the_admin_shows_advisories_read_only(client, users):
    advisory_services.advisories_import(user=None, content=text(osv_feed()))
    client.force_login(users["admin"])
    listing = client.get("/admin/operations_app/advisory/?q=django")
    assert listing.status_code == 200 and b"GHSA-vm8q-m57g-pff3" in listing.content
    row = Advisory.objects.get(advisory_id="DSA-5549-1")
    page = client.get(f"/admin/operations_app/advisory/{row.pk}/change/")
    assert page.status_code == 200 and b"1:7.2+dfsg-7+deb12u3" in page.content
    assert client.get("/admin/operations_app/advisory/add/").status_code == 403
