"""Labels on VMs and platforms: the rules (``operations_app.labels``), the services that
change them, the selectors that filter by them, and the inventory sync leaving them be.

The platforms use libvirt's ``test:///default`` driver, whose running domain "test" the
sync records.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from operations_app import hypervisor as hv
from operations_app.labels import (
    MAX_LABELS,
    Requirement,
    label_errors,
    labels_text,
    merged_labels,
    parse_keys,
    parse_labels,
    parse_selector,
    selector_matches,
)
from operations_app.models import ManagedVM, Platform, VMState
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import inventory as inventory_services
from operations_app.services import labels as label_services
from operations_app.services import platforms as platform_services
from tests.operations_app.job_support import make_platform
from vmpersona.errors import NotPermitted, error_list

# --------------------------------------------------------------------------- the rules

VALID_KEYS = [
    "team",
    "a",
    "A1",
    "app.kubernetes.io",
    "under_score",
    "x" * 63,
    "example.com/team",
    "persona.example/rack-row",
    "a-b.c/d",
    f"{'a' * 63}.{'b' * 63}/name",
]
INVALID_KEYS = [
    ("", "may not be empty"),
    ("-team", "starting and ending with a letter or digit"),
    ("team-", "starting and ending"),
    ("te am", "letters, digits"),
    ("tëam", "letters, digits"),
    ("x" * 64, "1 to 63"),
    ("/team", "prefix before '/' may not be empty"),
    ("example.com/", "name after '/' may not be empty"),
    ("Example.com/team", "DNS subdomain"),
    ("exa_mple.com/team", "DNS subdomain"),
    ("-example.com/team", "DNS subdomain"),
    ("a/b/c", "DNS subdomain"),
    (f"{'a' * 254}/name", "DNS subdomain"),
    ("team=x", "letters, digits"),
]
VALID_VALUES = ["", "payments", "r12", "v1.2_3-rc", "9" * 63, "A"]
INVALID_VALUES = [
    ("-x", "starting and ending"),
    ("x.", "starting and ending"),
    ("a b", "letters, digits"),
    ("x" * 64, "at most 63"),
    ("a/b", "letters, digits"),
]


@pytest.mark.parametrize("key", VALID_KEYS)
def test_valid_keys(key):
    assert label_errors({key: "v"}) == []


@pytest.mark.parametrize(("key", "message"), INVALID_KEYS)
def test_invalid_keys_name_the_label(key, message):
    [error] = label_errors({key: "v"})
    assert error.path == "labels/" + key.replace("~", "~0").replace("/", "~1")
    assert message in error.message


@pytest.mark.parametrize("value", VALID_VALUES)
def test_valid_values(value):
    assert label_errors({"team": value}) == []


@pytest.mark.parametrize(("value", "message"), INVALID_VALUES)
def test_invalid_values_name_the_label(value, message):
    [error] = label_errors({"team": value})
    assert error.path == "labels/team"
    assert message in error.message and "'team'" in error.message


@pytest.mark.parametrize("value", [12, None, True, ["a"], {"a": "b"}])
def test_values_are_strings(value):
    [error] = label_errors({"team": value})
    assert error.path == "labels/team" and "must be a string" in error.message


@pytest.mark.parametrize("labels", [["team=payments"], "team=payments", None, 3])
def test_labels_are_an_object(labels):
    [error] = label_errors(labels)
    assert error.path == "labels" and "object" in error.message


def test_at_most_64_labels():
    assert label_errors({f"k{i}": "v" for i in range(MAX_LABELS)}) == []
    errors = label_errors({f"k{i}": "v" for i in range(MAX_LABELS + 1)})
    assert [(e.path, e.message) for e in errors] == [
        ("labels", "at most 64 labels per object, not 65")
    ]


def test_every_bad_label_is_reported():
    errors = label_errors({"ok": "fine", "-bad": "x", "team": "a b"})
    assert [e.path for e in errors] == ["labels/-bad", "labels/team"]


def test_parse_key_value_texts():
    labels, errors = parse_labels(["team=payments", "", "  rack = r12 ", "empty="])
    assert errors == []
    assert labels == {"team": "payments", "rack": "r12", "empty": ""}


def test_parse_errors_name_the_item_by_its_number():
    labels, errors = parse_labels(["team=payments", "nonsense", "-x=1", "team=other", "a=b c"])
    assert [(e.path, e.message) for e in errors] == [
        ("labels/1", "'nonsense' is not key=value"),
        ("labels/2", errors[1].message),
        ("labels/3", "the label 'team' is given twice"),
        ("labels/4", errors[3].message),
    ]
    assert "'-x'" in errors[1].message and "'b c'" in errors[3].message
    assert labels == {"team": "payments"}


def test_parse_refuses_more_than_64():
    _, errors = parse_labels([f"k{i}=v" for i in range(MAX_LABELS + 1)])
    assert [e.path for e in errors] == ["labels"]


def test_parse_keys():
    assert parse_keys(["team", " rack ", "team"]) == (["team", "rack"], [])
    _, errors = parse_keys(["ok", "bad key"])
    assert [e.path for e in errors] == ["remove/1"]


def test_selectors():
    requirements, errors = parse_selector(" team=payments, rack ,,env=")
    assert errors == []
    assert requirements == [
        Requirement("team", "payments"),
        Requirement("rack"),
        Requirement("env", ""),
    ]
    assert [str(r) for r in requirements] == ["team=payments", "rack", "env="]
    assert parse_selector("") == ([], [])
    _, errors = parse_selector("team=pay ments")
    assert [e.path for e in errors] == ["label"]
    assert "'team=pay ments' is not key or key=value" in errors[0].message
    assert selector_matches({"team": "payments", "rack": "r1", "env": ""}, requirements)
    assert not selector_matches({"team": "payments", "rack": "r1"}, requirements)
    assert not selector_matches(None, [Requirement("team")])
    assert selector_matches({}, [])


def test_merging_and_text():
    current = {"team": "a", "rack": "r1"}
    assert merged_labels(current, {"team": "b"}) == {"rack": "r1", "team": "b"}
    assert merged_labels(current, {"env": "x"}, replace=True) == {"env": "x"}
    assert merged_labels(current, {}, remove=["rack", "absent"]) == {"team": "a"}
    assert labels_text({"team": "a", "rack": "r1"}) == "rack=r1, team=a"
    assert labels_text({}) == ""


# --------------------------------------------------------------------------- the services


@pytest.fixture
def lab(users):
    return make_platform("lab")


@pytest.fixture
def vm(lab):
    return ManagedVM.objects.create(
        platform=lab, name="web-1", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )


def test_an_operator_sets_labels_and_the_history_says_so(users, vm):
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"team": "payments"})
    assert vm.labels == {"team": "payments"}
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"rack": "r12"})
    vm.refresh_from_db()
    assert vm.labels == {"rack": "r12", "team": "payments"}
    record = vm.history.first()
    assert record.history_change_reason == "labels changed"
    assert record.history_user == users["operator"]
    assert record.labels == {"rack": "r12", "team": "payments"}
    assert vm.history.count() == 3  # created, and the two changes

    label_services.vm_labels_set(
        user=users["operator"], vm=vm, labels={"env": "prod"}, replace=True
    )
    vm.refresh_from_db()
    assert vm.labels == {"env": "prod"}
    label_services.vm_labels_remove(user=users["admin"], vm=vm, keys=["env", "absent"])
    vm.refresh_from_db()
    assert vm.labels == {}
    assert vm.history.first().history_user == users["admin"]


def test_a_change_that_changes_nothing_records_nothing(users, vm):
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"team": "a"})
    count = vm.history.count()
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"team": "a"})
    label_services.vm_labels_remove(user=users["operator"], vm=vm, keys=["absent"])
    assert vm.history.count() == count


def test_set_and_remove_in_one_change(users, vm):
    label_services.vm_labels_set(user=None, vm=vm, labels={"a": "1", "b": "2"})
    label_services.vm_labels_set(user=None, vm=vm, labels={"c": "3"}, remove=["a"])
    vm.refresh_from_db()
    assert vm.labels == {"b": "2", "c": "3"}
    assert vm.history.first().history_user is None  # the system
    with pytest.raises(ValidationError) as caught:
        label_services.vm_labels_set(user=None, vm=vm, labels={"c": "4"}, remove=["c"])
    assert error_list(caught.value) == [
        {"path": "remove/0", "message": "'c' is both set and removed"}
    ]


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_only_operators_change_labels(users, vm, lab, who):
    with pytest.raises(NotPermitted, match="operators"):
        label_services.vm_labels_set(user=users[who], vm=vm, labels={"team": "x"})
    with pytest.raises(NotPermitted, match="operators"):
        label_services.vm_labels_remove(user=users[who], vm=vm, keys=["team"])
    with pytest.raises(NotPermitted, match="operators"):
        label_services.platform_labels_set(user=users[who], platform=lab, labels={"team": "x"})
    vm.refresh_from_db()
    lab.refresh_from_db()
    assert vm.labels == {} and lab.labels == {}


def test_invalid_labels_change_nothing_and_name_each_label(users, vm):
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"keep": "me"})
    with pytest.raises(ValidationError) as caught:
        label_services.vm_labels_set(
            user=users["operator"], vm=vm, labels={"team": "pay ments", "ok": "1", "-x": ""}
        )
    assert [e["path"] for e in error_list(caught.value)] == ["labels/team", "labels/-x"]
    vm.refresh_from_db()
    assert vm.labels == {"keep": "me"}


def test_the_limit_counts_the_labels_after_the_change(users, vm):
    label_services.vm_labels_set(
        user=users["operator"], vm=vm, labels={f"k{i}": "v" for i in range(MAX_LABELS)}
    )
    with pytest.raises(ValidationError) as caught:
        label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"one": "more"})
    assert error_list(caught.value)[0]["path"] == "labels"
    label_services.vm_labels_set(
        user=users["operator"], vm=vm, labels={"one": "more"}, remove=["k0"]
    )
    vm.refresh_from_db()
    assert len(vm.labels) == MAX_LABELS and "one" in vm.labels


def test_platform_labels(users, lab):
    platform = label_services.platform_labels_set(
        user=users["operator"], platform=lab, labels={"rack": "r12", "site": "dc1"}
    )
    assert platform.labels == {"rack": "r12", "site": "dc1"}
    lab.refresh_from_db()
    assert lab.labels == {"rack": "r12", "site": "dc1"}
    record = lab.history.first()
    assert (record.history_change_reason, record.history_user) == (
        "labels changed",
        users["operator"],
    )
    assert record.labels == {"rack": "r12", "site": "dc1"}
    label_services.platform_labels_remove(user=users["operator"], platform=lab, keys=["site"])
    lab.refresh_from_db()
    assert lab.labels == {"rack": "r12"}


def test_other_platform_settings_leave_labels_alone(users, lab):
    label_services.platform_labels_set(user=users["operator"], platform=lab, labels={"rack": "1"})
    platform_services.platform_update(user=users["operator"], platform=lab, site="dc-2")
    platform_services.platform_refresh(platform=lab)
    lab.refresh_from_db()
    assert (lab.site, lab.labels) == ("dc-2", {"rack": "1"})


# --------------------------------------------------------------------------- the selectors


def test_the_lists_filter_by_a_selector(users, lab):
    other = make_platform("other")
    rows = {}
    for name, labels in [
        ("a", {"team": "payments", "rack": "r12"}),
        ("b", {"team": "payments"}),
        ("c", {"team": "search", "rack": "r12"}),
        ("d", {"rack": "12", "team": "true"}),
        ("e", {"team": "", "example.com/tier": "gold"}),
    ]:
        rows[name] = ManagedVM.objects.create(
            platform=lab, name=name, domain_uuid=uuid.uuid4(), labels=labels
        )

    def names(selector):
        return [vm.name for vm in vm_selectors.vm_list(label=selector)]

    assert names("") == ["a", "b", "c", "d", "e"]
    assert names("team=payments") == ["a", "b"]
    assert names("team") == ["a", "b", "c", "d", "e"]
    assert names("rack=12") == ["d"]
    assert names("team=true") == ["d"]
    assert names("team=payments,rack") == ["a"]
    assert names("rack=r12, team=search") == ["c"]
    assert names("team=") == ["e"]
    assert names("example.com/tier=gold") == ["e"]
    assert names("example.com/tier") == ["e"]
    assert names("absent") == []
    assert [vm.name for vm in vm_selectors.vm_list(label="rack", platform="lab")] == [
        "a",
        "c",
        "d",
    ]
    with pytest.raises(ValidationError) as caught:
        names("team=no way")
    assert error_list(caught.value)[0]["path"] == "label"

    Platform.objects.filter(pk=lab.pk).update(labels={"rack": "r12", "gpu": ""})
    Platform.objects.filter(pk=other.pk).update(labels={"rack": "r13"})

    def platform_names(selector):
        return [p.name for p in platform_selectors.platform_list(label=selector)]

    assert platform_names("rack") == ["lab", "other"]
    assert platform_names("rack=r12") == ["lab"]
    assert platform_names("gpu,rack=r13") == []
    assert platform_names("gpu=") == ["lab"]
    # The annotations still count the VMs of each platform.
    assert platform_selectors.platform_list(label="rack=r12").get().vm_count == 5


# --------------------------------------------------------------------------- the inventory


def _the_test_domain(platform) -> hv.DomainInfo:
    with platform_services.platform_connect(platform, timeout=10) as conn:
        return conn.domains.lookup("test")


def test_the_inventory_sync_keeps_labels(users, lab):
    assert inventory_services.inventory_sync(platform=lab).added == ["test"]
    vm = ManagedVM.objects.get(platform=lab, name="test")
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"team": "payments"})

    # Something libvirt reports changed: the sync saves the row again.
    ManagedVM.objects.filter(pk=vm.pk).update(vcpus=99)
    inventory_services.inventory_sync(platform=lab)
    vm.refresh_from_db()
    assert vm.vcpus != 99
    assert vm.labels == {"team": "payments"}
    record = vm.history.first()
    assert record.history_change_reason == "changed on platform"
    assert record.labels == {"team": "payments"}

    # Nothing changed: still there.
    inventory_services.inventory_sync(platform=lab)
    vm.refresh_from_db()
    assert vm.labels == {"team": "payments"}


def test_a_vm_gone_keeps_its_labels_and_a_recreated_row_starts_empty(users, lab):
    gone = ManagedVM.objects.create(
        platform=lab, name="old", domain_uuid=uuid.uuid4(), labels={"team": "payments"}
    )
    result = inventory_services.inventory_sync(platform=lab)
    assert result.gone == ["old"]
    gone.refresh_from_db()
    assert (gone.state, gone.labels) == (VMState.GONE, {"team": "payments"})

    # The domain "test" recorded anew (its row deleted) starts without labels.
    vm = ManagedVM.objects.get(platform=lab, name="test")
    label_services.vm_labels_set(user=users["operator"], vm=vm, labels={"team": "x"})
    vm.delete()
    assert inventory_services.inventory_sync(platform=lab).added == ["test"]
    assert ManagedVM.objects.get(platform=lab, name="test").labels == {}


def test_a_vm_moved_to_another_platform_keeps_its_labels(users, lab):
    target = make_platform("target")
    domain = _the_test_domain(target)
    vm = ManagedVM.objects.create(
        platform=lab, name="test", domain_uuid=uuid.uuid4(), labels={"team": "payments"}
    )
    inventory_services.inventory_vm_moved(vm_id=vm.pk, platform=target, info=domain)
    vm.refresh_from_db()
    assert (vm.platform, vm.labels) == (target, {"team": "payments"})
