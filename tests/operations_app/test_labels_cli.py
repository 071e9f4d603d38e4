"""``persona vm label``, ``persona platform label`` and the lists' ``--label`` filter:
the same labels service as the pages and the API, as an administrator at the shell."""

from __future__ import annotations

import json
import uuid

import pytest

from operations_app.models import ManagedVM, Platform, VMState
from tests.operations_app.job_support import make_platform, persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(users):
    return make_platform("lab")


@pytest.fixture
def vm(lab):
    return ManagedVM.objects.create(
        platform=lab, name="web-1", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )


def test_an_operator_sets_and_removes_a_vms_labels(users, vm):
    code, out, err = persona(
        "vm", "label", "web-1", "team=payments", "rack=r12", "--as", "operator"
    )
    assert code == 0, err
    assert out.strip() == "vm web-1 on lab: rack=r12, team=payments"
    vm.refresh_from_db()
    assert vm.labels == {"rack": "r12", "team": "payments"}
    record = vm.history.first()
    assert (record.history_change_reason, record.history_user) == (
        "labels changed",
        users["operator"],
    )

    code, out, err = persona(
        "vm", "label", str(vm.pk), "env=", "--remove", "rack", "--as", "operator"
    )
    assert code == 0, err
    assert out.strip() == "vm web-1 on lab: env=, team=payments"

    code, out, _ = persona("vm", "label", "web-1", "--platform", "lab")
    assert (code, out.strip()) == (0, "vm web-1 on lab: env=, team=payments")

    code, out, err = persona("vm", "label", "web-1", "--replace", "--as", "operator")
    assert (code, out.strip()) == (0, "vm web-1 on lab: no labels"), err
    vm.refresh_from_db()
    assert vm.labels == {}


def test_without_as_the_change_is_the_systems(vm):
    code, _, err = persona("vm", "label", "web-1", "team=payments")
    assert code == 0, err
    assert vm.history.first().history_user is None


@pytest.mark.parametrize("who", ["viewer", "author"])
def test_others_are_refused(users, vm, lab, who):
    code, _, err = persona("vm", "label", "web-1", "team=x", "--as", who)
    assert code == 3 and f"{who} may not change labels" in err
    code, _, err = persona("platform", "label", "lab", "rack=1", "--as", who)
    assert code == 3 and "operators" in err
    vm.refresh_from_db()
    lab.refresh_from_db()
    assert vm.labels == {} and lab.labels == {}
    # Reading is everyone's.
    assert persona("vm", "label", "web-1")[0] == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["team=payments", "nonsense"], "labels/1: 'nonsense' is not key=value"),
        (["team=pay ments"], "labels/0: the value 'pay ments' of 'team'"),
        (["x-=1"], "labels/0: key 'x-'"),
        (["a=1", "a=2"], "labels/1: the label 'a' is given twice"),
        (["--remove", "bad key"], "remove/0: key 'bad key'"),
        (["a=1", "--remove", "a"], "remove/0: 'a' is both set and removed"),
    ],
)
def test_bad_labels_name_the_argument_and_change_nothing(users, vm, args, expected):
    code, out, err = persona("vm", "label", "web-1", *args, "--as", "operator")
    assert code == 1, (out, err)
    assert expected in err
    assert "Traceback" not in err
    vm.refresh_from_db()
    assert vm.labels == {}


def test_unknown_vm_or_platform(users):
    code, _, err = persona("vm", "label", "nope", "a=b", "--as", "operator")
    assert code == 1 and "vm: no VM named 'nope'" in err
    code, _, err = persona("platform", "label", "nope", "a=b", "--as", "operator")
    assert code == 3 and "No platform named 'nope'" in err


def test_platform_labels_and_show(users, lab):
    code, out, err = persona("platform", "label", "lab", "rack=r12", "gpu=", "--as", "operator")
    assert code == 0, err
    assert out.strip() == "platform lab: gpu=, rack=r12"
    lab.refresh_from_db()
    assert lab.labels == {"gpu": "", "rack": "r12"}
    assert lab.history.first().history_change_reason == "labels changed"
    assert lab.history.first().history_user == users["operator"]
    code, out, _ = persona("platform", "show", "lab")
    assert json.loads(out)["labels"] == {"gpu": "", "rack": "r12"}
    code, out, _ = persona("platform", "label", "lab", "--remove", "gpu", "--as", "admin")
    assert out.strip() == "platform lab: rack=r12"


def test_the_lists_filter_by_label(users, lab):
    other = make_platform("other")
    for name, labels in [("a", {"team": "payments"}), ("b", {"team": "search"}), ("c", {})]:
        ManagedVM.objects.create(platform=lab, name=name, domain_uuid=uuid.uuid4(), labels=labels)
    Platform.objects.filter(pk=other.pk).update(labels={"rack": "r12"})

    def names(*args):
        code, out, err = persona(*args)
        assert code == 0, err
        return [line.split()[0] for line in out.splitlines()[1:]]

    assert names("inventory", "list") == ["a", "b", "c"]
    assert names("inventory", "list", "--label", "team=payments") == ["a"]
    assert names("inventory", "list", "--label", "team") == ["a", "b"]
    assert names("platform", "list", "--label", "rack=r12") == ["other"]
    assert names("platform", "list") == ["lab", "other"]
    code, _, err = persona("inventory", "list", "--label", "team=a b")
    assert code == 1 and err.startswith("label: 'team=a b' is not key or key=value")
