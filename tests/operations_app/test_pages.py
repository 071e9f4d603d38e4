"""The platform, VM and image pages as a user sees them.

Platforms use libvirt's in-process ``test:///default`` driver (a default pool, a
network and a running domain called "test"), so refresh and sync really talk to
libvirt without a daemon; an unreachable platform points at a socket that is not there.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.models import BaseImage, ManagedVM, Platform, VMMetricSample, VMState
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from profiles_app.services import versions as profile_services

pytestmark = pytest.mark.django_db

TEST_URI = "test:///default"
UNREACHABLE_URI = "qemu+unix:///system?socket=/nonexistent"


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def url(name, *args, **query):
    base = reverse(f"operations:{name}", args=args)
    if query:
        base += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return base


def platform(name="lab", uri=TEST_URI, **fields) -> Platform:
    return platform_services.platform_create(name=name, uri=uri, **fields)


def field_block(html: str, field: str) -> str:
    """The markup of one form field, from its wrapper to the next field's."""
    start = html.index(f'id="field-{field}"')
    nxt = html.find('id="field-', start + 1)
    return html[start : nxt if nxt != -1 else len(html)]


def form_data(**overrides) -> dict:
    data = {
        "name": "host-c",
        "uri": "qemu+ssh://root@host-c.example/system",
        "migration_uri": "",
        "description": "Rack 4",
        "site": "dc-1",
        "region": "eu-west",
        "enabled": "on",
        "storage_pool": "default",
        "networks": "default, persona-isolated",
        "vlan_networks": "100=persona-vlan-100\n200 = persona-vlan-200",
        "kvm": "auto",
        "constraints": '{"disk_buses": ["virtio"], "max_vcpus": 8}',
        "cost_vcpu_hour": "0.012",
        "cost_ram_gib_hour": "0.004",
        "cost_storage_gib_month": "0.05",
        "currency": "usd",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- access ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    p = platform()
    for path in (
        url("platforms"),
        url("platform", p.name),
        url("platform_create"),
        url("platform_edit", p.name),
        url("vms"),
        url("vm", 1),
        url("images"),
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("login")), path
    response = client.post(url("platform_refresh", p.name))
    assert response["Location"].startswith(reverse("login"))
    assert Platform.objects.get(pk=p.pk).status == "unknown"


def test_unknown_objects_are_404(client, users):
    login(client, users["operator"])
    assert client.get(url("platform", "nope")).status_code == 404
    assert client.get(url("platform_edit", "nope")).status_code == 404
    assert client.post(url("platform_refresh", "nope")).status_code == 404
    assert client.post(url("platform_sync", "nope")).status_code == 404
    assert client.get(url("vm", 999999)).status_code == 404


def test_refresh_and_sync_only_answer_post(client, users):
    p = platform()
    login(client, users["operator"])
    assert client.get(url("platform_refresh", p.name)).status_code == 405
    assert client.get(url("platform_sync", p.name)).status_code == 405


# --- platform list ----------------------------------------------------------------------


def test_list_shows_platforms_with_passwords_redacted(client, users):
    platform("lab", site="dc-1", region="eu-west")
    platform("remote", uri="qemu+ssh://root:hunter2@host-b.example/system", enabled=False)
    login(client, users["viewer"])
    response = client.get(url("platforms"))
    assert response.status_code == 200
    page = text(response)
    assert "hunter2" not in page
    assert "qemu+ssh://root:***@host-b.example/system" in page
    assert 'href="/ops/platforms/lab/"' in page and "dc-1" in page and "eu-west" in page
    assert "Not checked yet" in page  # status badge before the first refresh
    assert "disabled" in page
    assert "never read" in page


def test_list_buttons_follow_the_role(client, users):
    p = platform()
    login(client, users["viewer"])
    page = text(client.get(url("platforms")))
    assert url("platform_create") not in page
    assert url("platform_refresh", p.name) not in page

    login(client, users["operator"])
    page = text(client.get(url("platforms")))
    assert url("platform_create") in page
    assert url("platform_refresh", p.name) in page


def test_list_filters(client, users):
    platform("lab", site="dc-1")
    platform("other", site="dc-2", enabled=False)
    login(client, users["viewer"])
    page = text(client.get(url("platforms", q="dc-2")))
    assert "/ops/platforms/other/" in page and "/ops/platforms/lab/" not in page
    page = text(client.get(url("platforms", enabled="yes")))
    assert "/ops/platforms/lab/" in page and "/ops/platforms/other/" not in page
    page = text(client.get(url("platforms", q="nothing-like-it")))
    assert "No platform matches these filters." in page


def test_list_shows_utilisation_once_capabilities_are_known(client, users):
    p = platform_services.platform_refresh(platform=platform())
    inventory_services.inventory_sync(platform=p)
    test_vm = ManagedVM.objects.get(platform=p, name="test")
    login(client, users["viewer"])
    page = text(client.get(url("platforms")))
    cpus = p.capabilities["cpu_count"]
    assert f"{test_vm.vcpus} / {cpus}" in page
    assert f"{test_vm.memory_mib} / {p.capabilities['memory_mib']} MiB" in page
    assert 'class="meter' in page


def test_list_counts_only_live_vms_and_its_queries_do_not_grow_with_platforms(
    client, users, django_assert_max_num_queries
):
    caps = {"cpu_count": 8, "memory_mib": 16384}

    def known_platform(name):
        made = platform(name)
        Platform.objects.filter(pk=made.pk).update(capabilities=caps)
        return made

    lab = known_platform("lab")
    for name, state, vcpus, memory in [
        ("web", VMState.RUNNING, 2, 1024),
        ("db", VMState.PAUSED, 4, 4096),
        ("off", VMState.SHUTOFF, 8, 8192),
        ("gone", VMState.GONE, 8, 8192),
    ]:
        ManagedVM.objects.create(
            platform=lab,
            name=name,
            domain_uuid=uuid.uuid4(),
            state=state,
            vcpus=vcpus,
            memory_mib=memory,
        )
    login(client, users["viewer"])
    with django_assert_max_num_queries(12) as one_platform:
        page = text(client.get(url("platforms")))
    assert "6 / 8" in page and "5120 / 16384 MiB" in page
    for n in range(5):
        known_platform(f"more-{n}")
    with django_assert_max_num_queries(len(one_platform.captured_queries)):
        page = text(client.get(url("platforms")))
    assert "6 / 8" in page and page.count("0 / 8") == 5


# --- refresh, sync, unreachable ---------------------------------------------------------


def test_refresh_reads_capabilities_and_the_detail_page_shows_them(client, users):
    p = platform()
    login(client, users["operator"])
    response = client.post(url("platform_refresh", p.name), follow=True)
    assert response.status_code == 200
    assert any("capabilities refreshed" in m for m in messages_of(response))
    p.refresh_from_db()
    assert p.status == "ok"
    caps = p.capabilities
    page = text(response)
    assert "Reachable" in page
    assert caps["arch"] in page and caps["libvirt_version"] in page
    pool = caps["pools"][0]
    network = caps["networks"][0]
    assert pool["name"] in page and pool["path"] in page
    assert network["name"] in page and network["bridge"] in page
    assert caps["emulator"] in page
    assert caps["accelerators"][0]["reason"] in page
    assert "Effective capabilities" in page


def test_refresh_from_the_list_returns_to_the_list(client, users):
    p = platform()
    login(client, users["operator"])
    response = client.post(url("platform_refresh", p.name), {"next": "list"})
    assert response.status_code == 302
    assert response["Location"] == url("platforms")


def test_viewer_cannot_refresh_or_sync(client, users):
    p = platform()
    login(client, users["viewer"])
    for action in ("platform_refresh", "platform_sync"):
        response = client.post(url(action, p.name), follow=True)
        assert response.status_code == 200
        assert any("needs the 'operators' role" in m for m in messages_of(response)), action
    p.refresh_from_db()
    assert p.status == "unknown" and not p.capabilities
    assert not ManagedVM.objects.exists()


def test_sync_records_the_test_domain_as_unmanaged(client, users):
    p = platform_services.platform_refresh(platform=platform())
    login(client, users["operator"])
    response = client.post(url("platform_sync", p.name), follow=True)
    assert response.status_code == 200
    assert any("inventory synced" in m and "test" in m for m in messages_of(response))
    vm = ManagedVM.objects.get(platform=p, name="test")
    assert vm.managed is False and vm.state == VMState.RUNNING

    page = text(response)  # back on the platform page
    assert vm.get_absolute_url() in page
    assert "unmanaged" in page

    page = text(client.get(url("vms")))
    row = re.search(
        rf"<tr[^>]*>\s*<td[^>]*><a href=\"{vm.get_absolute_url()}\">.*?</tr>", page, re.S
    )
    assert row, "the VM is listed"
    assert "badge-unmanaged" in row.group(0) and "Running" in row.group(0)

    page = text(client.get(vm.get_absolute_url()))
    assert str(vm.domain_uuid) in page
    assert "unmanaged" in page and "none (unmanaged)" in page


def test_unreachable_platform_shows_its_error(client, users):
    p = platform("gone", uri=UNREACHABLE_URI)
    login(client, users["operator"])
    response = client.post(url("platform_refresh", p.name), follow=True)
    assert response.status_code == 200
    assert any("is unreachable" in m for m in messages_of(response))
    p.refresh_from_db()
    assert p.status == "unreachable" and "/nonexistent" in p.last_error
    page = text(response)
    assert 'id="last-error"' in page and "/nonexistent" in page
    assert "Never read: the platform did not answer." in page

    response = client.post(url("platform_sync", p.name), follow=True)
    assert response.status_code == 200
    assert any("is unreachable" in m for m in messages_of(response))

    page = text(client.get(url("platforms")))
    assert "badge-unreachable" in page and "Cannot connect" in page


# --- platform detail -------------------------------------------------------------------


def test_detail_shows_settings(client, users):
    p = platform(
        "lab",
        uri="qemu+tls://admin:s3cret@lab.example/system",
        migration_uri="qemu+tls://lab-migrate.example/system",
        storage_pool="fast",
        networks=["default", "backend"],
        vlan_networks={"100": "vlan100", "20": "vlan20"},
        kvm="avoid",
        constraints={"nic_models": ["virtio"], "max_memory_mib": 4096, "notes": "legacy rack"},
        currency="CHF",
        cost_vcpu_hour="0.02",
        cost_ram_gib_hour="0.005",
        cost_storage_gib_month="0.1",
    )
    login(client, users["viewer"])
    page = text(client.get(url("platform", p.name)))
    assert "s3cret" not in page
    assert "qemu+tls://admin:***@lab.example/system" in page
    assert "qemu+tls://lab-migrate.example/system" in page
    assert "fast" in page and "backend" in page
    assert page.index("<strong>20</strong>") < page.index("<strong>100</strong>")  # VLANs in order
    assert "Never use KVM (software emulation)" in page
    costs = page[page.index('id="costs"') :]
    assert "0.02 CHF" in costs and "0.005 CHF" in costs and "0.1 CHF" in costs
    assert "legacy rack" in page and "max_memory_mib" in page
    assert url("platform_edit", p.name) not in page  # a viewer gets no edit button


def test_effective_capabilities_show_what_the_constraints_remove(client, users):
    p = platform_services.platform_refresh(platform=platform())
    caps = dict(p.capabilities)
    caps.update(
        disk_buses=["ide", "sata", "virtio"],
        nic_models=["e1000", "virtio"],
        machines=[
            {"name": "pc-i440fx-7.2", "canonical": None, "max_cpus": 255, "deprecated": False},
            {"name": "pc-q35-7.2", "canonical": None, "max_cpus": 288, "deprecated": False},
        ],
        cpu_models=["qemu64", "Haswell", "EPYC"],
    )
    Platform.objects.filter(pk=p.pk).update(capabilities=caps)
    platform_services.platform_update(
        platform=p, constraints={"disk_buses": ["virtio"], "machine_types": ["q35"], "max_vcpus": 4}
    )
    login(client, users["viewer"])
    page = text(client.get(url("platform", p.name)))
    effective = page[page.index('id="effective"') : page.index('id="vms"')]
    removed = re.findall(r'chip chip-removed"[^>]*>([^<]+)<', effective)
    assert set(removed) == {"ide", "sata", "pc-i440fx-7.2"}
    allowed = re.findall(r'chip chip-ok">([^<]+)<', effective)
    assert "virtio" in allowed and "pc-q35-7.2" in allowed and "e1000" in allowed
    assert f"the host has {caps['cpu_count']}; capped at 4" in effective
    assert "3 CPU models" in page  # collapsed list


def test_detail_lists_the_platforms_vms(client, users):
    p = platform_services.platform_refresh(platform=platform())
    inventory_services.inventory_sync(platform=p)
    other = platform("other", uri=UNREACHABLE_URI)
    ManagedVM.objects.create(platform=other, name="elsewhere", domain_uuid=uuid.uuid4())
    login(client, users["viewer"])
    page = text(client.get(url("platform", p.name)))
    vms = page[page.index('id="vms"') :]
    assert ">test<" in vms and "elsewhere" not in vms


# --- add and edit ----------------------------------------------------------------------


def test_operator_adds_a_platform(client, users):
    login(client, users["operator"])
    assert client.get(url("platform_create")).status_code == 200
    response = client.post(url("platform_create"), form_data())
    assert response.status_code == 302
    p = Platform.objects.get(name="host-c")
    assert response["Location"] == p.get_absolute_url()
    assert p.uri == "qemu+ssh://root@host-c.example/system"
    assert p.networks == ["default", "persona-isolated"]
    assert p.vlan_networks == {"100": "persona-vlan-100", "200": "persona-vlan-200"}
    assert p.constraints == {"disk_buses": ["virtio"], "max_vcpus": 8}
    assert p.cost_vcpu_hour == Decimal("0.012") and p.currency == "USD"
    assert p.enabled and p.site == "dc-1" and p.region == "eu-west"
    assert p.history.first().history_user == users["operator"]


def test_viewer_cannot_add_a_platform(client, users):
    login(client, users["viewer"])
    response = client.get(url("platform_create"), follow=True)
    assert any("needs the 'operators' role" in m for m in messages_of(response))
    response = client.post(url("platform_create"), form_data())
    assert response.status_code == 403
    assert any("this needs the 'operators' role" in m for m in messages_of(response))
    assert not Platform.objects.exists()


def test_service_errors_are_shown_next_to_their_field_with_the_path(client, users):
    login(client, users["operator"])
    response = client.post(
        url("platform_create"),
        form_data(
            uri="http://example.com/",
            constraints='{"disk_buses": ["floppy"], "colour": "blue"}',
            vlan_networks="5000=far-away",
        ),
    )
    assert response.status_code == 400
    page = text(response)
    assert "not a libvirt URI" in field_block(page, "uri")
    constraints = field_block(page, "constraints")
    # Under the field, its label names it: the path goes on from there.
    assert "disk_buses/0: " in constraints and "floppy" in constraints
    assert "constraints/" not in constraints
    assert (
        "unknown constraint" in constraints
        and "colour" in constraints
        and "known ones are" in constraints
    )
    vlans = field_block(page, "vlan_networks")
    assert "5000: VLAN ids run from 1 to 4094" in vlans and "vlan_networks/" not in vlans
    assert 'id="form-errors"' in page
    # The list of problems names each field by its label, never by its internal name.
    problems = page[
        page.index('id="form-errors"') : page.index("</ul>", page.index('id="form-errors"'))
    ]
    assert ">VLAN mapping</a><span>5000: VLAN ids run from 1 to 4094" in problems
    assert "vlan_networks/" not in problems and "constraints/" not in problems
    # What the user typed is kept.
    assert "far-away" in page and "http://example.com/" in page
    assert not Platform.objects.exists()


def test_form_parsing_errors(client, users):
    login(client, users["operator"])
    response = client.post(
        url("platform_create"),
        form_data(constraints='{"disk_buses": [', vlan_networks="100 persona", cost_vcpu_hour="-1"),
    )
    assert response.status_code == 400
    page = text(response)
    assert "not valid JSON" in field_block(page, "constraints")
    assert "line 1: write VLAN=network" in field_block(page, "vlan_networks")
    assert "greater than or equal to 0" in field_block(page, "cost_vcpu_hour")
    response = client.post(url("platform_create"), form_data(currency="euro"))
    assert "currency" in text(response) and response.status_code == 400
    assert not Platform.objects.exists()


def test_duplicate_and_bad_names(client, users):
    platform("host-c")
    login(client, users["operator"])
    response = client.post(url("platform_create"), form_data())
    assert "already exists" in field_block(text(response), "name")
    response = client.post(url("platform_create"), form_data(name="Host C"))
    assert "lowercase letters, digits and dashes" in field_block(text(response), "name")
    assert Platform.objects.count() == 1


def test_edit_changes_only_what_changed(client, users):
    p = platform("lab", networks=["default"], site="dc-1", constraints={"firmware": ["bios"]})
    login(client, users["operator"])
    response = client.get(url("platform_edit", p.name))
    assert response.status_code == 200
    page = html.unescape(text(response))
    assert 'value="dc-1"' in page and '"firmware": ["bios"]' in page
    assert 'name="name"' not in page  # the name cannot change

    form = response.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(site="dc-2", networks="default, backend", enabled="on")
    data["constraints"] = form.initial["constraints"]
    response = client.post(url("platform_edit", p.name), data, follow=True)
    assert any("saved" in m for m in messages_of(response))
    p.refresh_from_db()
    assert p.site == "dc-2" and p.networks == ["default", "backend"]
    assert p.constraints == {"firmware": ["bios"]}
    assert p.history.first().history_change_reason == "settings changed: networks, site"

    response = client.post(url("platform_edit", p.name), data, follow=True)
    assert any("Nothing changed" in m for m in messages_of(response))


def test_edit_errors_and_roles(client, users):
    p = platform("lab")
    login(client, users["operator"])
    data = {k: v for k, v in response_initial(client, p).items() if v is not None}
    data.update(enabled="on", constraints='{"accelerators": ["xen"]}', uri="ftp://x")
    response = client.post(url("platform_edit", p.name), data)
    assert response.status_code == 400
    page = text(response)
    assert "accelerators/0: " in field_block(page, "constraints")
    assert "not a libvirt URI" in field_block(page, "uri")
    p.refresh_from_db()
    assert p.uri == TEST_URI and p.constraints == {}

    login(client, users["viewer"])
    response = client.get(url("platform_edit", p.name), follow=True)
    assert any("needs the 'operators' role" in m for m in messages_of(response))
    data.update(uri="qemu:///system", constraints="{}")
    response = client.post(url("platform_edit", p.name), data)
    assert response.status_code == 403
    p.refresh_from_db()
    assert p.uri == TEST_URI


def response_initial(client, p) -> dict:
    return dict(client.get(url("platform_edit", p.name)).context["form"].initial)


# --- VMs --------------------------------------------------------------------------------


@pytest.fixture
def inventory(users, make_document):
    """The test driver's domain (unmanaged) plus a managed VM of an approved profile."""
    p = platform_services.platform_refresh(platform=platform())
    inventory_services.inventory_sync(platform=p)
    version = profile_services.policy_create(user=users["author"], document=make_document("web"))
    profile_services.version_submit(user=users["author"], version=version)
    version = profile_services.version_approve(
        user=users["approver"], version=version, comment="ok"
    )
    managed = ManagedVM.objects.create(
        platform=platform("cluster", uri=UNREACHABLE_URI),
        name="web-01",
        domain_uuid=uuid.uuid4(),
        state=VMState.SHUTOFF,
        managed=True,
        profile_version=version,
        content_hash=version.content_hash,
        vcpus=2,
        memory_mib=2048,
        metadata={"profile": "web", "profile_version": version.number, "labels": {"tier": "web"}},
        last_seen=timezone.now(),
    )
    return {
        "test": ManagedVM.objects.get(platform=p, name="test"),
        "managed": managed,
        "version": version,
    }


def test_vm_list_and_filters(client, users, inventory):
    login(client, users["viewer"])
    page = text(client.get(url("vms")))
    assert ">test<" in page and ">web-01<" in page
    version_url = reverse(
        "profiles:version", kwargs={"name": "web", "number": inventory["version"].number}
    )
    assert version_url in page and "web@1" in page
    assert "2 GiB" in page

    page = text(client.get(url("vms", managed="unmanaged")))
    assert ">test<" in page and ">web-01<" not in page
    page = text(client.get(url("vms", managed="managed")))
    assert ">test<" not in page and ">web-01<" in page
    page = text(client.get(url("vms", state="shutoff")))
    assert ">test<" not in page and ">web-01<" in page
    page = text(client.get(url("vms", platform="cluster")))
    assert ">test<" not in page and ">web-01<" in page
    page = text(client.get(url("vms", q="web")))
    assert ">test<" not in page and ">web-01<" in page
    page = text(client.get(url("vms", q="zzz")))
    assert "No VM matches these filters." in page
    # Nonsense filter values are ignored rather than failing.
    assert client.get(url("vms", state="bogus", managed="maybe", page="x")).status_code == 200


def test_vm_detail_draws_the_metrics(client, users, inventory):
    vm = inventory["managed"]
    start = timezone.now() - timedelta(minutes=10)
    for i in range(10):
        VMMetricSample.objects.create(
            vm=vm,
            at=start + timedelta(minutes=i),
            cpu_percent=None if i == 0 else 10.0 + i,
            memory_used_mib=500 + i,
            memory_total_mib=2048,
            disk_read_bytes=i * 60 * 1024,  # 1 KiB/s
            disk_write_bytes=i * 60 * 2048,
            net_rx_bytes=i * 60 * 1024 * 1024,  # 1 MiB/s
            net_tx_bytes=0,
        )
    login(client, users["viewer"])
    response = client.get(url("vm", vm.pk))
    assert response.status_code == 200
    page = text(response)
    assert str(vm.domain_uuid) in page
    version = inventory["version"]
    assert reverse("profiles:version", kwargs={"name": "web", "number": version.number}) in page
    assert "tier=web" in page
    charts = page[page.index('id="metrics"') : page.index('id="samples"')]
    assert charts.count("<svg") == 4 and "<polyline" in charts
    assert "<script" not in charts  # drawn on the server
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another host
    assert "19.0 %" in page  # latest CPU
    assert "1.0 KiB/s" in page and "2.0 KiB/s" in page and "1.0 MiB/s" in page
    samples = page[page.index('id="samples"') :]
    assert samples.count("<tr>") == 1 + 10  # header + rows


def test_vm_without_samples(client, users, inventory):
    login(client, users["viewer"])
    page = text(client.get(url("vm", inventory["managed"].pk)))
    assert "No samples yet." in page


def test_chart_leaves_gaps_where_a_counter_was_reset():
    from operations_app.presentation.charts import counter_rates as _rates

    now = timezone.now()
    samples = [
        VMMetricSample(at=now, disk_read_bytes=0),
        VMMetricSample(at=now + timedelta(seconds=10), disk_read_bytes=1000),
        VMMetricSample(at=now + timedelta(seconds=20), disk_read_bytes=10),  # restarted
        VMMetricSample(at=now + timedelta(seconds=30), disk_read_bytes=510),
    ]
    assert _rates(samples, "disk_read_bytes") == [None, 100.0, None, 50.0]


# --- images -----------------------------------------------------------------------------


def test_images_page(client, users):
    lab = platform("lab")
    platform("other", uri=UNREACHABLE_URI)
    platform_services.base_image_register(
        image_id="tiny-linux",
        name="Tiny Linux",
        locations={lab: "/var/lib/images/tiny/root.qcow2"},
        os="busybox",
        checksum="sha256:" + "ab" * 32,
        virtual_size_bytes=64 * 1024 * 1024,
        min_vcpus=1,
        min_memory_mib=128,
        kernel="/var/lib/images/tiny/vmlinuz",
        initrd="/var/lib/images/tiny/initrd.img",
        cmdline="console=ttyS0",
    )
    BaseImage.objects.create(image_id="debian-12", name="Debian 12")
    login(client, users["viewer"])
    page = text(client.get(url("images")))
    assert "tiny-linux" in page and "Tiny Linux" in page and "busybox" in page
    assert "64.0 MiB" in page and "sha256:abababab" in page
    assert "/var/lib/images/tiny/vmlinuz" in page and "console=ttyS0" in page
    assert "/var/lib/images/tiny/root.qcow2" in page and "not on other" in page
    assert "debian-12" in page and "on no platform" in page
