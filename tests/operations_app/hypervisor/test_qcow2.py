"""Re-pointing a qcow2 overlay at another copy of its base, checked with qemu-img."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from operations_app.hypervisor import InvalidSpec, qcow2

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def _img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def overlay(tmp_path):
    base = tmp_path / "base.qcow2"
    _img("create", "-q", "-f", "qcow2", str(base), "16M")
    top = tmp_path / "top.qcow2"
    _img("create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top))
    return base, top


@pytest.mark.parametrize("name", ["b.qcow2", "images/tiny-linux/copy-on-host-b/root.qcow2"])
def test_rewritten_overlay_names_the_new_base_and_stays_valid(tmp_path, overlay, name):
    base, top = overlay
    copy = tmp_path / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(base, copy)
    new_name = str(copy)
    data = top.read_bytes()
    assert qcow2.backing_file(data) == str(base)
    out = tmp_path / "out.qcow2"
    out.write_bytes(qcow2.rewrite_backing(data, new_name))
    info = json.loads(_img("info", "--output=json", "-U", str(out)))
    assert info["backing-filename"] == new_name
    assert info["backing-filename-format"] == "qcow2"
    _img("check", "-q", str(out))


def test_a_file_without_backing_is_left_alone(tmp_path):
    plain = tmp_path / "plain.qcow2"
    _img("create", "-q", "-f", "qcow2", str(plain), "1M")
    data = plain.read_bytes()
    assert qcow2.rewrite_backing(data, "/elsewhere.qcow2") == data
    assert qcow2.backing_file(data) is None


def test_not_qcow2_and_oversized_names_are_refused(overlay):
    _, top = overlay
    with pytest.raises(InvalidSpec):
        qcow2.rewrite_backing(b"\x00" * 65536, "/x")
    with pytest.raises(InvalidSpec):
        qcow2.rewrite_backing(top.read_bytes(), "/" + "a" * 2000)
    assert qcow2.header_needed(b"not a qcow2 file at all!") == 0
