"""The migrate form, its dry run and a migrate job's page, as each role sees them.

The dry run's service reads two libvirt hosts; here it is replaced, where the view
imports it, by one returning a plan shaped like ``migration_preview``'s (taken from the
adaptation of a legacy i440fx VM to a q35-only host). Requesting a migration uses the
real service; no worker runs, so the job stays queued.
"""

from __future__ import annotations

import html as html_lib
import re
import threading
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.models import JobEvent, JobKind, JobStatus, ManagedVM, OperationJob, VMState
from operations_app.services import clones as clone_services
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import platforms as platform_services
from tests.browser import log_in
from tests.operations_app.job_support import (
    TEST_URI,
    approved_version,
    make_platform,
    managed_vm,
)

pytestmark = pytest.mark.django_db

GiB = 1024**3
MiB = 1024**2

MACHINE = {
    "kind": "machine_type",
    "subject": "domain",
    "source": "pc-i440fx-7.2",
    "target": "pc-q35-7.2",
    "detail": "The domain uses machine type pc-i440fx-7.2, but host-b allows only q35 machines.",
    "blocking": True,
    "reason": "",
}
DISK_BUS = {
    "kind": "disk_bus",
    "subject": "disk sdb",
    "source": "sata",
    "target": "scsi, virtio",
    "detail": "Disk sdb uses bus sata, but host-b does not allow it (allowed: scsi, virtio).",
    "blocking": True,
    "reason": "",
}
NIC = {
    "kind": "nic_model",
    "subject": "interface 52:54:00:12:34:56",
    "source": "e1000",
    "target": "",
    "detail": "Interface 0 (52:54:00:12:34:56) uses NIC model e1000; host-b offers no NIC model.",
    "blocking": True,
    "reason": "",
}
FIXES = [
    {
        "fix_id": "disk-bus-virtio",
        "description": "If the target lacks the source's disk bus, attach the disks as virtio.",
        "action": {"type": "domain", "set": {"disk_bus": "virtio"}},
        "when": "definition",
        "differences": [DISK_BUS],
        "changes": ["disk sdb: bus sata -> virtio, now vdb"],
    },
    {
        "fix_id": "builtin:machine-type",
        "description": "Use the target's machine type of the same family, else the one it allows.",
        "action": {"type": "domain", "set": {"machine_type": "q35"}},
        "when": "definition",
        "differences": [MACHINE],
        "changes": ["machine type: pc-i440fx-7.2 -> q35"],
    },
]
AFTER = {
    "fix_id": "rename-nic",
    "description": "The NIC is named differently on the new bus: fix the network config.",
    "action": {
        "type": "guest_command",
        "command": ["/usr/local/bin/fix-net", "--iface", "eth0"],
        "when": "after_cutover",
        "timeout": 60,
        "expect_exit_code": 0,
    },
    "when": "after_cutover",
    "differences": [],
    "changes": [],
}
XML_DIFF = [
    "--- source",
    "+++ target",
    "@@ -3,7 +3,7 @@",
    "   <memory unit='KiB'>524288</memory>",
    "   <os>",
    "-    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>",
    "+    <type arch='x86_64' machine='q35'>hvm</type>",
    "   </os>",
    "-      <target dev='sdb' bus='sata'/>",
    "+      <target dev='vdb' bus='virtio'/>",
]
DISKS = [
    {
        "volume": "web-01-root.qcow2",
        "target": "vda",
        "capacity_bytes": 10 * GiB,
        "allocation_bytes": 1288 * MiB,
        "encrypted": False,
        "from_pool": "persona",
        "to_pool": "persona-b",
    },
    {
        "volume": "web-01-data.qcow2",
        "target": "sdb",
        "capacity_bytes": 2 * GiB,
        "allocation_bytes": 200 * MiB,
        "encrypted": True,
        "from_pool": "persona",
        "to_pool": "persona-b",
    },
]


def preview(*, vm="web-01", source="lab", target="host-b", mode="auto", ready=True) -> dict:
    """What ``migration_preview`` returns: ready, or blocked by an unresolved NIC model."""
    hardware = [
        "machine type: pc-i440fx-7.2 -> q35",
        "disk sdb (sata) -> vdb (virtio)",
    ]
    base = {
        "vm": vm,
        "source": source,
        "target": target,
        "profile_version": "web@1",
        "running": True,
        "requested_mode": mode,
        "differences": [MACHINE, DISK_BUS],
        "fixes": FIXES + [AFTER],
        "guest_commands_before": [],
        "guest_commands_after": [AFTER],
        "hardware_changes": hardware,
        "notes": ["host-b has no usable KVM: the VM runs under software emulation there."],
        "cpu_compatible": True,
        "disks": DISKS,
        "copy_bytes": 1488 * MiB,
    }
    if ready:
        why = "the target needs changes a live migration cannot make (" + "; ".join(hardware) + ")"
        return {
            **base,
            "ready": True,
            "verdict": f"Would move {vm} cold: {why}.",
            "path": "cold",
            "path_reason": why,
            "refused": "",
            "ok": True,
            "problems": [],
            "unresolved": [],
            "xml_diff": XML_DIFF,
        }
    reason = "host-b allows no NIC model this interface can use."
    problem = NIC["detail"] + " " + reason
    return {
        **base,
        "differences": [MACHINE, DISK_BUS, NIC],
        "unresolved": [{**NIC, "reason": reason}],
        "cpu_compatible": False,
        "ready": False,
        "verdict": "Blocked: " + problem,
        "path": None,
        "path_reason": "",
        "refused": "",
        "ok": False,
        "problems": [problem],
        "xml_diff": [],
    }


def text_of(response) -> str:
    return response.content.decode()


def visible(html: str) -> str:
    """The page's text, tags stripped and whitespace folded, for phrase checks."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html)))


def migrate_url(vm) -> str:
    return reverse("operations:vm_migrate", args=[vm.pk])


@pytest.fixture
def setup(users):
    """A running VM of web@1 on lab; host-b and host-c to move to; a disabled platform."""
    version = approved_version(users)
    lab = make_platform("lab")
    host_b = make_platform("host-b")
    make_platform("host-c")
    platform_services.platform_create(name="retired", uri=TEST_URI, enabled=False)
    vm = managed_vm(version, lab, "web-01", vcpus=1, memory_mib=512, last_seen=timezone.now())
    return {"vm": vm, "lab": lab, "host_b": host_b, "version": version}


@pytest.fixture
def previews(monkeypatch):
    """Replace the dry run where the view imports it. Like the real one it first asks
    ``migration_check`` (roles, states, target, mode), which needs no host; it records
    each call that got past that check."""
    calls: list[dict] = []

    def install(*, ready: bool = True):
        def fake(*, user, vm, target, mode):
            vm = migration_services.migration_check(user=user, vm=vm, target=target, mode=mode)
            calls.append({"user": user, "vm": vm, "target": target, "mode": mode})
            return preview(
                vm=vm.name, source=vm.platform.name, target=target.name, mode=mode, ready=ready
            )

        monkeypatch.setattr("operations_app.views.migrate.migration_preview", fake)
        return calls

    return install


# --- the VM page ----------------------------------------------------------------------------


def test_the_migrate_panel_is_shown_to_operators(client, users, setup):
    vm = setup["vm"]
    for who in ("operator", "admin"):
        client.force_login(users[who])
        page = text_of(client.get(reverse("operations:vm", args=[vm.pk])))
        assert 'id="migrate"' in page and 'id="vm-migrate-link"' in page
        assert f'href="{migrate_url(vm)}"' in page
        # Quick links preselect each possible target; not the VM's own or a disabled one.
        assert f'href="{migrate_url(vm)}?target=host-b"' in page
        assert f'href="{migrate_url(vm)}?target=host-c"' in page
        assert "?target=lab" not in page and "?target=retired" not in page


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_the_migrate_panel_is_hidden_from_other_roles(client, users, setup, who):
    client.force_login(users[who])
    page = text_of(client.get(reverse("operations:vm", args=[setup["vm"].pk])))
    assert 'id="migrate"' not in page and migrate_url(setup["vm"]) not in page


def test_no_migrate_panel_for_vms_that_cannot_move(client, users, setup):
    vm = setup["vm"]
    stray = ManagedVM.objects.create(
        platform=setup["lab"], name="stray", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    client.force_login(users["operator"])
    page = text_of(client.get(reverse("operations:vm", args=[stray.pk])))
    assert 'id="migrate"' not in page
    ManagedVM.objects.filter(pk=vm.pk).update(state=VMState.GONE)
    page = text_of(client.get(reverse("operations:vm", args=[vm.pk])))
    assert 'id="migrate"' not in page and migrate_url(vm) not in page


# --- the form -------------------------------------------------------------------------------


def test_the_form_offers_the_enabled_platforms_the_vm_is_not_on(client, users, setup):
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.get(migrate_url(vm), {"target": "host-c"})
    assert response.status_code == 200
    page = text_of(response)
    target_select = re.search(r'<select name="target".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', target_select)
    assert options == ["", "host-b", "host-c"]
    assert '<option value="host-c" selected>' in page
    # Three modes, auto checked, each with its one-line explanation.
    for mode in ("auto", "live", "cold"):
        assert f'name="mode" value="{mode}"' in page
    assert re.search(r'value="auto" id="id_mode_auto"\s+checked', page)
    text = visible(page)
    assert "Keeps the guest running and copies its memory and disks" in text
    assert "Shuts the guest down, copies its disks and starts it, adapted" in text
    assert "Live when nothing but the disk locations change" in text
    # When: now (checked), in a window, in the next covering window, or at a time.
    for when in ("now", "window", "auto", "at"):
        assert f'name="when" value="{when}"' in page
    assert re.search(r'value="now" id="id_when_now"\s+checked', page)
    assert 'type="datetime-local" name="at"' in page
    assert "not available yet" not in text
    assert 'value="preview"' in page and "Preview (dry run)" in text
    assert 'value="migrate"' in page
    assert 'id="dry-run"' not in page  # nothing previewed yet


def test_viewers_get_no_form(client, users, setup, previews):
    calls = previews()
    vm = setup["vm"]
    client.force_login(users["viewer"])
    response = client.get(migrate_url(vm))
    assert response.status_code == 403
    page = text_of(response)
    assert 'id="migrate-form"' not in page and "needs the <strong>operators</strong> role" in page
    # Posting anyway: the services refuse, and the page says why; nothing is queued.
    for action in ("preview", "migrate"):
        response = client.post(
            migrate_url(vm), {"target": "host-b", "mode": "auto", "action": action}
        )
        assert response.status_code == 403
        assert "may not migrate VMs" in text_of(response)
    assert not OperationJob.objects.exists()
    assert calls == []  # the dry run's own role check refused


def test_a_vm_that_cannot_move_shows_why_instead_of_the_form(client, users, setup):
    stray = ManagedVM.objects.create(
        platform=setup["lab"], name="stray", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    client.force_login(users["operator"])
    response = client.get(migrate_url(stray))
    assert response.status_code == 409
    page = text_of(response)
    assert 'id="migrate-form"' not in page and "stray is unmanaged" in visible(page)
    response = client.post(migrate_url(stray), {"target": "host-b", "action": "migrate"})
    assert response.status_code == 409
    assert "conforms to no profile version" in visible(text_of(response))
    assert not OperationJob.objects.exists()
    assert client.get(reverse("operations:vm_migrate", args=[999999])).status_code == 404


# --- preview ------------------------------------------------------------------------------------


def test_a_ready_preview_shows_the_plan_under_the_form(client, users, setup, previews):
    calls = previews(ready=True)
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.post(
        migrate_url(vm), {"target": "host-b", "mode": "auto", "action": "preview"}
    )
    assert response.status_code == 200
    assert [(c["vm"].pk, c["target"].name, c["mode"]) for c in calls] == [(vm.pk, "host-b", "auto")]
    assert calls[0]["user"] == users["operator"]
    page = text_of(response)
    text = visible(page)
    assert not OperationJob.objects.exists()  # a preview changes nothing

    # The verdict, green, and the form keeps what was chosen.
    assert re.search(r'class="verdict verdict-ready"[^>]*data-ready="true"', page)
    assert "✓ Ready" in text and "Would move web-01 cold: the target needs changes" in text
    # A shortcut to migrate exactly what was previewed.
    shortcut = re.search(r'<form[^>]*id="verdict-migrate".*?</form>', page, re.S)
    assert shortcut
    assert '<input type="hidden" name="target" value="host-b">' in shortcut.group(0)
    assert '<input type="hidden" name="mode" value="auto">' in shortcut.group(0)
    assert 'name="action" value="migrate"' in shortcut.group(0)
    assert '<option value="host-b" selected>' in page
    # Path and why, requested mode, CPU.
    assert '<span class="path-badge path-cold">cold</span>' in page
    assert "a live migration cannot make (machine type: pc-i440fx-7.2 -> q35" in text
    assert re.search(r"<dt>Requested</dt><dd><span class=\"mono\">auto</span>", page)
    assert '<span class="jb jb-pass">compatible</span>' in page
    # Differences, each with the fix that resolves it.
    differences = page[page.index('id="mig-differences"') : page.index('id="mig-fixes"')]
    assert differences.count("<tr") == 3  # header and two rows
    assert "<code>disk_bus</code>" in differences and "disk sdb" in differences
    assert "scsi, virtio" in differences
    assert "fixed by <code>disk-bus-virtio</code>" in differences
    assert "fixed by <code>builtin:machine-type</code>" in differences
    assert "unresolved" not in differences
    # The fixes that apply, when, and what they change; the guest command after cutover.
    fixes = page[page.index('id="mig-fixes"') : page.index('id="mig-guest-commands"')]
    assert "<code>disk-bus-virtio</code>" in fixes and "definition" in fixes
    assert "disk sdb: bus sata -&gt; virtio, now vdb" in fixes
    commands = page[page.index('id="mig-guest-commands"') : page.index('id="mig-hardware"')]
    assert "after cutover" in commands
    assert "<code>/usr/local/bin/fix-net --iface eth0</code>" in commands
    assert "host-b has no usable KVM" in text  # notes
    # The disks, in readable sizes, with their pools.
    disks = page[page.index('id="dry-run-disks"') : page.index('id="dry-run-diff"')]
    assert "web-01-root.qcow2" in disks and "10.0 GiB" in disks and "1.3 GiB" in disks
    assert "web-01-data.qcow2" in disks and "200.0 MiB" in disks and "encrypted" in disks
    assert 'persona</span> <span class="arrow">→</span> <span class="mono small">persona-b' in disks
    assert "1.5 GiB allocated in all" in text
    # The XML diff, added and removed lines marked.
    assert (
        '<span class="dl d-del">-    &lt;type arch=&#x27;x86_64&#x27; machine=&#x27;pc-i440fx-7.2&#x27;&gt;hvm&lt;/type&gt;</span>'
        in page
    )
    assert (
        '<span class="dl d-add">+      &lt;target dev=&#x27;vdb&#x27; bus=&#x27;virtio&#x27;/&gt;</span>'
        in page
    )
    assert '<span class="dl d-hunk">@@ -3,7 +3,7 @@</span>' in page
    assert (
        '<span class="diff-stat small"><span class="plus">+2</span> <span class="minus">−2</span>'
        in page
    )


def test_a_blocked_preview_says_why_in_red(client, users, setup, previews):
    previews(ready=False)
    client.force_login(users["operator"])
    response = client.post(
        migrate_url(setup["vm"]), {"target": "host-b", "mode": "live", "action": "preview"}
    )
    assert response.status_code == 200
    page = text_of(response)
    text = visible(page)
    assert re.search(r'class="verdict verdict-blocked"[^>]*data-ready="false"', page)
    assert "✗ Not ready" in text
    assert "Blocked: Interface 0 (52:54:00:12:34:56) uses NIC model e1000" in text
    assert 'id="verdict-migrate"' not in page  # no shortcut to migrate a blocked plan
    problems = page[page.index('id="mig-problems"') : page.index('id="mig-differences"')]
    assert "host-b allows no NIC model this interface can use." in problems
    rows = re.findall(r'<tr class="unresolved">.*?</tr>', page, re.S)
    assert len(rows) == 1  # the plan's own list names the NIC model only
    assert "nic_model" in rows[0] and "jb-fail" in rows[0]
    assert "host-b allows no NIC model this interface can use." in rows[0]  # its reason
    assert '<span class="path-badge path-none">none</span>' in page
    assert '<span class="jb jb-fail">not compatible</span>' in page
    assert "Not computed: there is no adapted definition" in text
    assert "checked" in page.split('id="id_mode_live"')[1][:20]  # the mode chosen stays chosen
    assert not OperationJob.objects.exists()


def test_preview_errors_from_the_service_are_shown_not_raised(client, users, setup, monkeypatch):
    from vmpersona.errors import StateConflict

    def unreachable(**kwargs):
        raise StateConflict("The dry run could not read the platforms: host-b is unreachable")

    monkeypatch.setattr("operations_app.views.migrate.migration_preview", unreachable)
    client.force_login(users["operator"])
    response = client.post(migrate_url(setup["vm"]), {"target": "host-b", "action": "preview"})
    assert response.status_code == 409
    errors = re.search(
        r'<ul class="form-errors" role="alert" id="form-errors">(.*?)</ul>', text_of(response), re.S
    )
    assert errors and "host-b is unreachable" in errors.group(1)
    assert 'id="dry-run"' not in text_of(response)


# --- migrate ------------------------------------------------------------------------------------


def test_migrate_queues_a_job_and_goes_to_its_page(client, users, setup, previews):
    calls = previews()
    vm = setup["vm"]
    client.force_login(users["operator"])
    response = client.post(
        migrate_url(vm), {"target": "host-b", "mode": "live", "action": "migrate"}
    )
    job = OperationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == JobKind.MIGRATE and job.status == JobStatus.QUEUED
    assert job.vm == vm and job.source_platform == setup["lab"] and job.platform == setup["host_b"]
    assert job.params["mode"] == "live" and job.requested_by == users["operator"]
    assert calls == []  # migrating does not run the dry run first
    page = client.get(response["Location"])
    text = visible(text_of(page))
    assert "Migration of web-01 from lab to host-b (live) queued" in text
    assert 'id="migration"' in text_of(page)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target": "lab", "mode": "auto"}, "target", "already runs on lab"),
        ({"target": "host-b", "mode": "teleport"}, "mode", "mode must be one of auto, live, cold"),
        ({"target": "", "mode": "auto"}, "target", "This field is required."),
        ({"target": "nowhere", "mode": "auto"}, "target", "Select a valid choice."),
    ],
)
@pytest.mark.parametrize("action", ["migrate", "preview"])
def test_bad_input_is_shown_on_its_field_and_nothing_is_queued(
    client, users, setup, previews, data, field, message, action
):
    calls = previews()
    client.force_login(users["operator"])
    response = client.post(migrate_url(setup["vm"]), {**data, "action": action})
    assert response.status_code == 400
    page = text_of(response)
    block = page[page.index(f'id="field-{field}"') :]
    block = block[: block.index("</div>", block.index('class="field-error"'))]
    # The error names the field by its label, as the form shows it.
    label = {"target": "Target platform", "mode": "Mode"}[field]
    assert f'data-path="{field}">{label}: ' in block and message in html_lib.unescape(block)
    assert f"<code>{field}</code>" not in block
    assert not OperationJob.objects.exists()
    assert calls == []  # refused before any host would have been read


def test_a_disabled_target_and_a_second_request_are_refused_at_the_top(client, users, setup):
    client.force_login(users["operator"])
    vm = setup["vm"]
    response = client.post(migrate_url(vm), {"target": "retired", "action": "migrate"})
    assert response.status_code == 409
    assert "Platform retired is disabled." in text_of(response)
    assert not OperationJob.objects.exists()
    client.post(migrate_url(vm), {"target": "host-b", "action": "migrate"})
    response = client.post(migrate_url(vm), {"target": "host-c", "action": "migrate"})
    assert response.status_code == 409
    assert "already has an active job" in text_of(response)
    assert OperationJob.objects.count() == 1


def test_a_migration_without_when_is_queued_now(client, users, setup):
    client.force_login(users["operator"])
    response = client.post(migrate_url(setup["vm"]), {"target": "host-b", "action": "migrate"})
    assert response.status_code == 302
    job = OperationJob.objects.get()
    assert job.status == JobStatus.QUEUED and job.not_before is None


# --- the job page --------------------------------------------------------------------------------


def migrate_job(users, setup, *, mode="auto") -> OperationJob:
    return migration_services.job_request_migrate(
        user=users["operator"], vm=setup["vm"], target=setup["host_b"], mode=mode
    )


def running_migrate_job(users, setup) -> OperationJob:
    """A migrate job of web-01 to host-b, running its restore step."""
    job = migrate_job(users, setup)
    result = finished_result()
    for key in ("migration", "verification", "cut_over"):
        result.pop(key)
    OperationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, current_step="restore", result=result, started_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def emit_transfer(job, *, done: int, memory: int, disk: int) -> None:
    """A progress event of the live migration in the restore step: ``done`` of 4 GiB."""
    event_services.job_event(
        job=job,
        kind="transfer",
        step="restore",
        what="live migration",
        done_bytes=done,
        total_bytes=4 * GiB,
        memory_bytes=memory,
        disk_bytes=disk,
    )


def finished_result() -> dict:
    adaptation = {
        "ok": True,
        "problems": [],
        "unresolved": [],
        "hardware_changes": [],
        "cpu_compatible": True,
        "differences": [
            {
                "kind": "storage_path",
                "subject": "disk vda",
                "source": "/var/lib/vmpersona/pools/lab",
                "target": "/var/lib/vmpersona/pools/host-b",
                "detail": "Disk vda is /var/lib/vmpersona/pools/lab/web-01-root.qcow2; on host-b "
                "it is /var/lib/vmpersona/pools/host-b/web-01-root.qcow2.",
                "blocking": True,
                "reason": "",
            }
        ],
        "fixes": [
            {
                "fix_id": "builtin:storage-path",
                "description": "Put the disk image where it goes on the target.",
                "action": {
                    "type": "domain",
                    "set": {"storage_path": "/var/lib/vmpersona/pools/host-b"},
                },
                "when": "definition",
                "differences": [],
                "changes": [
                    "disk vda: /var/lib/vmpersona/pools/lab/web-01-root.qcow2 -> "
                    "/var/lib/vmpersona/pools/host-b/web-01-root.qcow2"
                ],
            }
        ],
        "guest_commands_before": [],
        "guest_commands_after": [],
        "notes": [],
    }
    return {
        "restore_point": {"platform": "lab", "xml": "<domain><name>web-01</name></domain>"},
        "adaptation": adaptation,
        "disks": {
            "/var/lib/vmpersona/pools/lab/web-01-root.qcow2": {"volume": "web-01-root.qcow2"}
        },
        "secrets": {},
        "path": "live",
        "path_reason": "no hardware or definition changes beyond disk locations, and the VM is running",
        "requested_mode": "auto",
        "adapted_xml": "<domain><name>web-01</name></domain>",
        "xml_diff": [
            "--- source",
            "+++ target",
            "@@ -20,1 +20,1 @@",
            "-      <source file='/var/lib/vmpersona/pools/lab/web-01-root.qcow2'/>",
            "+      <source file='/var/lib/vmpersona/pools/host-b/web-01-root.qcow2'/>",
        ],
        "migration": {
            "path": "live",
            "why": "no hardware or definition changes beyond disk locations, and the VM is running",
            "elapsed_ms": 8421,
            "downtime_ms": 37,
            "data_processed_bytes": 1610612736,
            "memory_processed_bytes": 268435456,
            "disk_processed_bytes": 1342177280,
        },
        "verification": {"checks": 12, "passed": 12, "failed": 0},
        "cut_over": True,
    }


def test_a_finished_migrate_job_shows_path_downtime_bytes_and_diff(client, users, setup):
    job = migrate_job(users, setup)
    OperationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, result=finished_result(), progress=100
    )
    client.force_login(users["viewer"])  # everyone who may see the job sees the summary
    response = client.get(job.get_absolute_url())
    assert response.status_code == 200
    page = text_of(response)
    text = visible(page)
    section = page[page.index('id="migration"') : page.index('id="steps"')]
    assert "<strong>lab</strong>" in section and "<strong>host-b</strong>" in section
    assert 'id="mig-requested">auto<' in section
    assert '<span class="path-badge path-live">live</span>' in section
    assert "no hardware or definition changes beyond disk locations" in section
    assert 'id="mig-downtime">37 ms<' in section
    assert 'id="mig-elapsed">8.4 s<' in section
    assert 'id="mig-data">1.5 GiB<' in section
    assert 'id="mig-memory">256.0 MiB<' in section and 'id="mig-disk">1.2 GiB<' in section
    # The adaptation, folded under a summary; the diff folded too.
    assert re.search(
        r"<summary>Adaptation: 1 difference, 1 fix, 0 guest commands <span[^>]*>everything", section
    )
    assert "<code>storage_path</code>" in section and "<code>builtin:storage-path</code>" in section
    assert "Fixes applied" in section
    assert '<span class="dl d-add">+      &lt;source file=' in section
    assert '<span class="dl d-del">-      &lt;source file=' in section
    # The raw result list leaves out what the section shows and the runner's working state.
    result = page[
        page.index('id="job-result"') : page.index("</dl>", page.index('id="job-result"'))
    ]
    assert "verification" in result
    assert (
        "restore_point" not in result and "adapted_xml" not in result and "xml_diff" not in result
    )
    assert "Migration" in text
    assert re.search(r'id="job-transfer" data-step=""\s+hidden>', page)  # no live line now


def test_a_queued_migrate_job_says_what_is_to_come(client, users, setup):
    job = migrate_job(users, setup, mode="cold")
    client.force_login(users["operator"])
    page = text_of(client.get(job.get_absolute_url()))
    section = page[page.index('id="migration"') : page.index('id="steps"')]
    assert 'id="mig-requested">cold<' in section
    assert "chosen when the adaptation is planned" in visible(section)
    assert 'id="mig-plan-pending"' in section and 'id="mig-figures"' not in section
    assert re.search(r'<div class="transfer" id="job-transfer" data-step=""\s+hidden>', page)
    # The section on its own, as the live page fetches it.
    response = client.get(reverse("operations:job_migration", args=[job.pk]))
    assert response.status_code == 200
    assert 'id="migration"' in text_of(response) and "<html" not in text_of(response)


def test_a_running_migration_shows_the_latest_transfer_but_not_in_the_log(client, users, setup):
    job = running_migrate_job(users, setup)
    event_services.job_log(job=job, message="moving web-01 live", step="restore")
    for done in range(1, 11):
        emit_transfer(job, done=done * 200 * MiB, memory=done * 20 * MiB, disk=done * 180 * MiB)
    client.force_login(users["operator"])
    page = text_of(client.get(job.get_absolute_url()))
    transfer = page[page.index('id="job-transfer"') : page.index('id="migration"')]
    assert "hidden" not in transfer.split(">", 1)[0]
    assert 'id="job-transfer-text">transferred 2.0 GiB of 4.0 GiB (live migration)<' in transfer
    assert "memory 200.0 MiB · disk 1.8 GiB" in transfer
    assert 'aria-valuenow="48"' in transfer and 'style="width: 48%"' in transfer
    # The log holds the status and log lines only: ten transfer events, no transfer lines.
    log = page[page.index('id="job-log"') : page.index('id="verification"')]
    assert (
        log.count('class="ln ') == JobEvent.objects.filter(job=job).exclude(kind="transfer").count()
    )
    assert "transferred" not in log
    assert '<span class="path-badge path-live">live</span>' in page
    assert 'id="mig-figures"' not in page  # no figures before the move ends

    # Once the step is over, the line is gone.
    OperationJob.objects.filter(pk=job.pk).update(current_step="adapt_guest")
    page = text_of(client.get(job.get_absolute_url()))
    assert re.search(r'id="job-transfer" data-step=""\s+hidden>', page)


def test_the_transfer_line_is_never_behind_the_log(client, users, setup):
    """A copy that ends within the second after its last progress event: the line shows
    its end before the log says it is copied, on the page and in the events (live)."""
    from operations_app.runners.migrate import MigrateRunner

    job = running_migrate_job(users, setup)
    report = MigrateRunner(job)._progress_reporter("volume web-01-root.qcow2")
    report(100 * MiB, GiB)  # the first figure goes out
    report(900 * MiB, GiB)  # within the second: held back
    report(GiB, GiB)  # the end: out at once, however soon
    report(GiB, GiB, final=True)  # the runner's own "copied" report: said once only
    event_services.job_log(job=job, message="copied volume web-01-root.qcow2", step="restore")

    kinds = list(JobEvent.objects.filter(job=job).order_by("seq").values_list("kind", "payload"))
    transfers = [(p["done_bytes"], p["total_bytes"]) for k, p in kinds if k == "transfer"]
    assert transfers == [(100 * MiB, GiB), (GiB, GiB)]
    last_transfer = max(i for i, (k, _) in enumerate(kinds) if k == "transfer")
    copied = next(i for i, (k, p) in enumerate(kinds) if p.get("message", "").startswith("copied"))
    assert last_transfer < copied  # the figure is there before the log line

    client.force_login(users["operator"])
    page = text_of(client.get(job.get_absolute_url()))
    transfer = page[page.index('id="job-transfer"') : page.index('id="migration"')]
    assert "transferred 1.0 GiB of 1.0 GiB (volume web-01-root.qcow2)" in transfer
    assert 'aria-valuenow="100"' in transfer
    assert "copied volume web-01-root.qcow2" in page


def test_the_migration_section_is_only_for_migrate_jobs_and_their_viewers(client, users, setup):
    version = setup["version"]
    clone = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=setup["host_b"], vm_name="web-02"
    )
    client.force_login(users["operator"])
    page = text_of(client.get(clone.get_absolute_url()))
    assert 'id="migration"' not in page and 'id="job-transfer"' not in page
    assert client.get(reverse("operations:job_migration", args=[clone.pk])).status_code == 404
    job = migrate_job(users, setup)
    client.force_login(users["author"])  # sees only the jobs they requested
    assert client.get(reverse("operations:job_migration", args=[job.pk])).status_code == 404


# --- in a real browser ------------------------------------------------------------------------


def _emit_in_thread(work):
    """Events pushed from another thread, as a worker does (outside Playwright's loop)."""

    def run():
        from django.db import connection

        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)


@pytest.fixture
def running_migration(users, setup):
    return running_migrate_job(users, setup)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_transfer_events_drive_one_progress_line_live(
    running_migration,
    live_server,
    browser_page,
    password,
):
    page, base, job = browser_page, live_server.url, running_migration
    page.add_init_script("window.WebSocket = undefined;")  # poll the events API
    log_in(page, base, "operator", password("operator"))
    page.goto(f"{base}/ops/jobs/{job.pk}/")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'polling'")
    assert page.locator("#job-transfer").is_hidden()
    lines_before = page.locator("#job-log .ln").count()

    def copy():
        for done in range(1, 41):
            emit_transfer(job, done=done * 50 * MiB, memory=done * 5 * MiB, disk=done * 45 * MiB)

    _emit_in_thread(copy)
    page.wait_for_function(
        "() => document.getElementById('job-transfer-text').textContent"
        " === 'transferred 2.0 GiB of 4.0 GiB (live migration)'"
    )
    assert page.locator("#job-transfer").is_visible()
    assert page.locator("#job-transfer-detail").inner_text() == "memory 200.0 MiB · disk 1.8 GiB"
    assert page.locator("#job-transfer-bar").get_attribute("aria-valuenow") == "48"
    assert page.locator("#job-log .ln").count() == lines_before  # forty events, no log lines

    def finish():
        OperationJob.objects.filter(pk=job.pk).update(result=finished_result())
        event_services.job_event(
            job=job,
            kind="step_finished",
            index=4,
            step="restore",
            status="succeeded",
            duration_s=8.4,
            output="live migration to host-b",
        )
        job_services.job_transition(
            job=job, to=JobStatus.SUCCEEDED, allowed=[JobStatus.RUNNING], progress=100
        )

    _emit_in_thread(finish)
    page.wait_for_selector("#job-status .jb-succeeded")
    page.wait_for_selector("#mig-downtime")
    assert page.locator("#job-transfer").is_hidden()
    assert page.locator("#mig-downtime").inner_text() == "37 ms"
    assert page.locator("#mig-data").inner_text() == "1.5 GiB"
    assert page.locator("#migration .xml-diff .d-add").count() == 1


# --- how the plan reads ---------------------------------------------------------------------------


def test_only_definition_fixes_count_as_fixing_a_difference():
    from operations_app.presentation.migration import difference_rows

    quiesce = {**AFTER, "fix_id": "quiesce", "when": "before_cutover", "differences": [MACHINE]}
    rows = difference_rows([MACHINE, DISK_BUS], FIXES + [quiesce], ok=True, problems=[])
    machine, bus = rows
    assert machine["fixed_by"] == ["builtin:machine-type"] and machine["commands"] == ["quiesce"]
    assert bus["fixed_by"] == ["disk-bus-virtio"] and not bus["unresolved"]


def test_the_plans_unresolved_list_says_which_differences_are_unresolved():
    from operations_app.presentation.migration import difference_rows

    still = {
        **DISK_BUS,
        "reason": "The profile's fix 'disk-bus-virtio' was applied, but the difference remains.",
    }
    # No problem sentence names it (the list alone decides), and a MACHINE entry with
    # another source value is not the same difference.
    other_machine = {**MACHINE, "source": "pc-i440fx-8.0", "reason": "No fix applies to it."}
    rows = difference_rows(
        [MACHINE, DISK_BUS],
        FIXES,
        ok=False,
        problems=["something else entirely"],
        unresolved=[still, other_machine],
    )
    machine, bus, appeared = rows
    assert not machine["unresolved"] and machine["fixed_by"] == ["builtin:machine-type"]
    assert bus["unresolved"] and bus["fixed_by"] == [] and bus["reason"] == still["reason"]
    # What is left but was not among the differences gets a row of its own.
    assert appeared["unresolved"] and appeared["source"] == "pc-i440fx-8.0"
    assert appeared["reason"] == "No fix applies to it." and appeared["fixed_by"] == []


def test_an_empty_unresolved_list_leaves_nothing_unresolved_whatever_the_problems_say():
    from operations_app.presentation.migration import difference_rows

    problem = DISK_BUS["detail"] + " The adapted domain definition is not valid."
    rows = difference_rows([MACHINE, DISK_BUS], FIXES, ok=False, problems=[problem], unresolved=[])
    assert [r["unresolved"] for r in rows] == [False, False]
    assert rows[1]["fixed_by"] == ["disk-bus-virtio"]


def test_a_non_blocking_leftover_keeps_its_reason_but_is_not_unresolved():
    from operations_app.presentation.migration import adaptation_view

    note = {**NIC, "blocking": False, "detail": "Interface 0 uses NIC model e1000."}
    reason = "It does not keep the domain from running, so it is left as it is."
    view = adaptation_view(
        {
            "ok": True,
            "problems": [],
            "differences": [note],
            "unresolved": [{**note, "reason": reason}],
        }
    )
    (row,) = view["differences"]
    assert row["unresolved"] is False and row["blocking"] is False and row["reason"] == reason


def test_results_without_the_unresolved_list_fall_back_to_the_problem_sentences():
    """Job results stored before the plan's unresolved list was kept."""
    from operations_app.presentation.migration import adaptation_view, difference_rows

    problem = (
        DISK_BUS["detail"]
        + " The profile's fix 'disk-bus-virtio' was applied, but the difference remains."
    )
    rows = difference_rows([MACHINE, DISK_BUS], FIXES, ok=False, problems=[problem])
    assert [r["unresolved"] for r in rows] == [False, True]
    assert rows[1]["fixed_by"] == []
    legacy = {
        "ok": False,
        "problems": [problem],
        "differences": [MACHINE, DISK_BUS],
        "fixes": FIXES,
    }
    assert [r["unresolved"] for r in adaptation_view(legacy)["differences"]] == [False, True]
