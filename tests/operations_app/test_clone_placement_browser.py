"""A clone without a platform in a real browser: the operator leaves the form's platform
on *Automatic*, sees the job page say where placement put it and why, with every
platform's verdict one click away; then the advisories page, where an operator imports
an OSV file and sees the platform it affects. Nothing spills sideways at 1366x768 or
390x844. Set VMPERSONA_SCREENSHOTS=/some/dir to keep the screenshots."""

from __future__ import annotations

import json

import pytest

from operations_app.models import OperationJob
from operations_app.services import advisories as advisory_services
from tests.browser import console_problems, log_in, shots_at_sizes

from .test_clone_placement import BaseImage, approved_version, host, managed_vm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_clones_without_choosing_a_platform(live_server, browser_page, users, password):
    image = BaseImage.objects.create(image_id="tiny-linux", name="Tiny", min_memory_mib=64)
    version = approved_version(users)
    a, b = host("host-a", image), host("host-b", image)
    host("host-c", None)
    managed_vm(version, a, "busy-1", vcpus=2, memory_mib=1536)

    page, base = browser_page, live_server.url
    problems = console_problems(page)
    log_in(page, base, "operator", password("operator"))
    page.goto(f"{base}/ops/clone/")
    assert page.locator("#id_platform").input_value() == "auto"
    page.select_option("#id_version", str(version.pk))
    page.fill("#id_vm_name", "web-9")
    shots_at_sizes(page, "placement-1-form")
    page.click("#clone-form button[type=submit]")
    job = OperationJob.objects.get(vm_name="web-9")
    page.wait_for_url(f"{base}{job.get_absolute_url()}")
    assert job.platform == b
    text = page.locator("main").inner_text()
    assert "placed on host-b" in text, text
    shots_at_sizes(page, "placement-2-job")
    assert problems == []


def test_an_operator_imports_advisories_and_sees_what_they_affect(
    live_server, browser_page, users, password, tmp_path
):
    from tests.operations_app.advisories.feeds import DSA_QEMU

    platform = host("host-a", None)
    advisory_services.platform_facts_import(
        user=users["operator"],
        platform=platform,
        content="qemu-system-x86 1:7.2+dfsg-7+deb12u2 qemu\n",
    )
    feed = tmp_path / "dsa.json"
    feed.write_text(json.dumps(DSA_QEMU))

    page, base = browser_page, live_server.url
    problems = console_problems(page)
    log_in(page, base, "operator", password("operator"))
    page.goto(f"{base}/ops/advisories/")
    page.set_input_files("input[type=file]", str(feed))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    assert "DSA-5549-1" in text and "host-a" in text, text
    shots_at_sizes(page, "advisories-1-list")
    assert problems == []
