"""``manage.py persona platform|inventory|image``: what an administrator at the shell sees.

Platforms use libvirt's in-process ``test:///default`` driver; an unreachable one points
at a TCP port nothing listens on.
"""

from __future__ import annotations

import json

import pytest

from operations_app.models import BaseImage, ManagedVM, Platform
from tests.operations_app.job_support import persona

pytestmark = pytest.mark.django_db

TEST_URI = "test:///default"
SECRET = "s3cret-Pa55"
WITH_PASSWORD = f"qemu+tcp://admin:{SECRET}@127.0.0.1:1/system"


def test_add_reads_capabilities_and_records_the_system_as_the_author():
    code, out, err = persona("platform", "add", "lab", "--uri", TEST_URI, "--site", "rack 4")
    assert code == 0, err
    assert out.strip() == "platform lab added: Reachable"
    platform = Platform.objects.get(name="lab")
    assert platform.site == "rack 4" and platform.capabilities["cpu_count"] > 0
    record = platform.history.first()
    assert record.history_user is None and record.history_change_reason == "platform added"


def test_add_as_an_operator_is_recorded_as_theirs(users):
    code, _, err = persona("platform", "add", "lab", "--uri", TEST_URI, "--as", "operator")
    assert code == 0, err
    assert Platform.objects.get(name="lab").history.first().history_user == users["operator"]


def test_add_as_someone_without_the_operators_role_is_refused_and_adds_nothing(users):
    code, _, err = persona("platform", "add", "lab", "--uri", TEST_URI, "--as", "viewer")
    assert code == 3
    assert "viewer may not manage platforms" in err and "operators" in err
    assert not Platform.objects.exists()
    code, _, err = persona("platform", "add", "lab", "--uri", TEST_URI, "--as", "nobody")
    assert code == 3 and "No active user named 'nobody'" in err
    assert not Platform.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["platform", "add", "Not A Slug", "--uri", TEST_URI], "name: lowercase letters"),
        (["platform", "add", "lab", "--uri", "http://example.test/"], "uri: "),
        (["platform", "add", "lab", "--uri", TEST_URI, "--constraints", "{nope"], "constraints:"),
        (["platform", "add", "lab", "--uri", TEST_URI, "--constraints", "[1]"], "constraints"),
        (["platform", "add", "lab", "--uri", TEST_URI, "--cost-vcpu-hour", "cheap"], "cost_vcpu"),
    ],
)
def test_bad_settings_name_the_field_and_add_nothing(args, message):
    code, out, err = persona(*args)
    assert code == 1, (out, err)
    assert message in err
    assert "Traceback" not in err
    assert not Platform.objects.exists()


def test_update_changes_only_what_is_given_and_refuses_bad_input_whole():
    persona("platform", "add", "lab", "--uri", TEST_URI, "--site", "rack 4", "--region", "eu")
    code, out, err = persona("platform", "update", "lab", "--region", "us", "--disable")
    assert code == 0, err
    assert out.strip() == "platform lab updated"
    platform = Platform.objects.get(name="lab")
    assert (platform.site, platform.region, platform.enabled) == ("rack 4", "us", False)
    assert platform.history.first().history_change_reason == "settings changed: enabled, region"

    code, _, err = persona("platform", "update", "lab", "--site", "x", "--constraints", "{")
    assert code == 1 and err.startswith("constraints:")
    platform.refresh_from_db()
    assert platform.site == "rack 4"

    code, _, err = persona("platform", "update", "elsewhere", "--site", "x")
    assert code == 3 and "No platform named 'elsewhere'" in err


def test_list_and_show_never_print_a_password_from_the_uri():
    code, out, err = persona("platform", "add", "remote", "--uri", WITH_PASSWORD)
    assert code == 0, err
    assert "Unreachable" in out
    persona("platform", "add", "lab", "--uri", TEST_URI)
    code, listed, _ = persona("platform", "list")
    assert code == 0
    lines = listed.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ENABLED", "VMS", "URI"]
    assert [line.split()[0] for line in lines[1:]] == ["lab", "remote"]
    code, shown, _ = persona("platform", "show", "remote")
    assert code == 0
    data = json.loads(shown)
    assert data["uri"] == "qemu+tcp://admin:***@127.0.0.1:1/system"
    assert data["status"] == "unreachable"
    for text in (out, listed, shown):
        assert SECRET not in text


def test_refresh_reports_each_platform_and_fails_when_one_cannot_be_reached():
    persona("platform", "add", "lab", "--uri", TEST_URI)
    code, out, _ = persona("platform", "refresh")
    assert (code, out.strip()) == (0, "lab: Reachable")
    persona("platform", "add", "remote", "--uri", WITH_PASSWORD)
    code, out, err = persona("platform", "refresh", "lab", "remote")
    assert code == 3
    assert "lab: Reachable" in out and "remote: Unreachable" in out
    assert "could not be reached" in err
    assert SECRET not in out + err


def test_inventory_sync_and_list():
    persona("platform", "add", "lab", "--uri", TEST_URI)
    code, out, err = persona("inventory", "sync")
    assert code == 0, err
    assert out.startswith("lab: 1 domains, 1 new, 0 gone")
    vm = ManagedVM.objects.get(platform__name="lab", name="test")
    code, out, _ = persona("inventory", "list")
    assert code == 0
    assert out.splitlines()[1].split() == ["test", "lab", vm.state, "no", "-"]


def _manifest(tmp_path, **overrides) -> str:
    (tmp_path / "root.qcow2").write_bytes(b"")
    meta = {"id": "mini", "name": "Mini", "os": "linux", "virtual_size": 1 << 26, **overrides}
    path = tmp_path / "image.json"
    path.write_text(json.dumps(meta))
    return str(path)


def test_image_register_and_list(tmp_path, users):
    persona("platform", "add", "lab", "--uri", TEST_URI)
    code, out, err = persona(
        "image", "register", _manifest(tmp_path), "--platform", "lab", "--as", "operator"
    )
    assert code == 0, err
    assert out.strip() == "base image mini registered on lab"
    image = BaseImage.objects.get(image_id="mini")
    assert image.virtual_size_bytes == 1 << 26 and image.min_vcpus == 1
    assert image.locations.get().path == str(tmp_path / "root.qcow2")
    assert image.history.first().history_user == users["operator"]
    code, out, _ = persona("image", "list")
    assert code == 0 and out.split()[:2] == ["mini", "Mini"] and out.strip().endswith("on lab")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_vcpus": "many"}, "min_vcpus:"),
        ({"min_memory_mib": -5}, "min_memory_mib:"),
        ({"virtual_size": -1}, "virtual_size_bytes: must not be negative"),
        ({"root_disk_format": "vmdk"}, "format:"),
        ({"root_disk": 7}, "root_disk: must be a file name"),
        ({"id": "Not A Slug"}, "image_id: lowercase letters"),
        ({"name": "x" * 300}, "name:"),
    ],
)
def test_image_register_names_the_bad_manifest_field_and_registers_nothing(
    tmp_path, overrides, message
):
    persona("platform", "add", "lab", "--uri", TEST_URI)
    code, out, err = persona(
        "image", "register", _manifest(tmp_path, **overrides), "--platform", "lab"
    )
    assert code == 1, (out, err)
    assert message in err and "Traceback" not in err
    assert not BaseImage.objects.exists()


def test_image_register_refuses_a_manifest_it_cannot_read_or_a_non_operator(tmp_path, users):
    persona("platform", "add", "lab", "--uri", TEST_URI)
    missing = str(tmp_path / "nowhere.json")
    code, _, err = persona("image", "register", missing, "--platform", "lab")
    assert code == 3 and "Cannot read the image manifest" in err
    (tmp_path / "list.json").write_text("[]")
    code, _, err = persona("image", "register", str(tmp_path / "list.json"), "--platform", "lab")
    assert code == 1 and "must be a JSON object" in err
    code, _, err = persona(
        "image", "register", _manifest(tmp_path), "--platform", "lab", "--as", "viewer"
    )
    assert code == 3 and "operators" in err
    assert not BaseImage.objects.exists()
