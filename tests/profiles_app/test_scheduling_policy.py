"""The scheduling policy is a policy kind like the VPPD: a published JSON Schema,
semantic checks with paths, drafts, review and approval with separation of duties,
history; its aggressiveness sets how sure an evaluation must be."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from profiles_app.documents import validate_document
from profiles_app.kinds import get_kind
from profiles_app.models import PolicyKind, VersionStatus
from profiles_app.scheduling.settings import AGGRESSIVENESS, policy_settings
from profiles_app.services import versions as version_services
from vmpersona.errors import NotPermitted

KIND = PolicyKind.SCHEDULING


def starter() -> dict:
    return get_kind(KIND).starter()


def paths(document) -> dict[str, str]:
    return {e.path: e.message for e in get_kind(KIND).errors(document)}


def test_the_starter_document_is_valid_as_a_scheduling_policy_and_not_as_a_vppd():
    assert paths(starter()) == {}
    assert get_kind(PolicyKind.VPPD).errors(starter())
    validate_document(starter(), kind=KIND)  # raises nothing


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda d: d.update(trigger="weather"), "/trigger", "weather"),
        (lambda d: d.pop("utilisation"), "/utilisation", "needs its 'utilisation' section"),
        (
            lambda d: d.update(cost={"horizon_days": 30}),
            "/cost",
            "only a cost policy reads this section",
        ),
        (
            lambda d: d["utilisation"].update(target_percent=85),
            "/utilisation/target_percent",
            "must be below trigger_percent (80)",
        ),
        (
            lambda d: d["utilisation"].update(trigger_percent=120),
            "/utilisation/trigger_percent",
            "100",
        ),
        (lambda d: d.update(automation="automatic"), "/window", "needs the maintenance window"),
        (lambda d: d.update(aggressiveness=9), "/aggressiveness", "5"),
        (
            lambda d: d.update(cooldown={"minutes": 600, "max_minutes": 60}),
            "/cooldown/max_minutes",
            "at least minutes (600)",
        ),
        (
            lambda d: d.update(
                affinity=[
                    {"name": "db", "kind": "anti_affinity", "vms": {"labels": {"app": "db"}}},
                    {"name": "db", "kind": "affinity", "vms": {"vms": ["a", "b"]}},
                ]
            ),
            "/affinity/1/name",
            "already the name of affinity/0",
        ),
        (
            lambda d: d.update(
                platform_rules=[
                    {"name": "r", "rule": "may", "vms": {"vms": ["a"]}, "platforms": {}}
                ]
            ),
            "/platform_rules/0/rule",
            "may",
        ),
        (lambda d: d.update(colour="blue"), "/colour", "unknown field 'colour'"),
    ],
)
def test_bad_policies_are_refused_at_the_offending_field(change, path, words):
    doc = copy.deepcopy(starter())
    change(doc)
    found = paths(doc)
    assert path in found, found
    assert words in found[path], found[path]


def test_an_evacuation_policy_names_its_platforms():
    doc = {
        "schema_version": "1.0",
        "name": "refresh-rack-12",
        "trigger": "evacuation",
        "evacuation": {"platforms": {"labels": {"rack": "r12"}}},
        "automation": "automatic",
        "window": "patch-night",
    }
    assert paths(doc) == {}
    del doc["evacuation"]
    assert "needs its 'evacuation' section" in paths(doc)["/evacuation"]


def test_aggressiveness_sets_consecutive_evaluations_and_minimum_improvement_unless_given():
    doc = starter()
    for level, (consecutive, improvement) in AGGRESSIVENESS.items():
        doc["aggressiveness"] = level
        settings = policy_settings(doc)
        assert (settings.consecutive_evaluations, settings.min_improvement_percent) == (
            consecutive,
            improvement,
        )
    assert AGGRESSIVENESS[1][0] > AGGRESSIVENESS[5][0]
    assert AGGRESSIVENESS[1][1] > AGGRESSIVENESS[5][1]
    doc.update(consecutive_evaluations=7, min_improvement_percent=1.5)
    settings = policy_settings(doc)
    assert settings.consecutive_evaluations == 7 and settings.min_improvement_percent == 1.5


def test_cooldown_backs_off_and_is_capped():
    settings = policy_settings(
        {**starter(), "cooldown": {"minutes": 60, "backoff_factor": 3, "max_minutes": 500}}
    )
    assert [settings.cooldown_for(n) for n in (0, 1, 2, 3)] == [0, 60, 180, 500]


@pytest.mark.django_db
def test_drafts_review_and_approval_work_as_for_profiles(users):
    version = version_services.policy_create(user=users["author"], document=starter(), kind=KIND)
    assert version.policy.kind == KIND and version.status == VersionStatus.DRAFT
    version = version_services.version_submit(user=users["author"], version=version)
    with pytest.raises(NotPermitted):
        version_services.version_approve(user=users["author"], version=version)
    version = version_services.version_approve(user=users["approver"], version=version)
    assert version.status == VersionStatus.APPROVED
    assert version.history.count() >= 3


@pytest.mark.django_db
def test_an_invalid_policy_is_refused_with_its_path_and_nothing_is_stored(users):
    from profiles_app.models import Policy

    doc = starter()
    doc["utilisation"]["target_percent"] = 95
    with pytest.raises(ValidationError) as err:
        version_services.policy_create(user=users["author"], document=doc, kind=KIND)
    assert "/utilisation/target_percent" in str(err.value)
    assert not Policy.objects.exists()


@pytest.mark.django_db
def test_a_scheduling_policy_is_never_cloned_as_a_profile(users):
    from operations_app.services import clones as clone_services
    from tests.operations_app.job_support import make_platform
    from vmpersona.errors import error_list

    version = version_services.policy_create(user=users["author"], document=starter(), kind=KIND)
    version = version_services.version_submit(user=users["author"], version=version)
    version = version_services.version_approve(user=users["approver"], version=version)
    with pytest.raises(ValidationError) as err:
        clone_services.job_request_clone(
            user=users["operator"], version=version, platform=make_platform(), vm_name="x-1"
        )
    assert error_list(err.value)[0]["path"] == "version"
    assert "is a scheduling policy, not a VM profile" in error_list(err.value)[0]["message"]


@pytest.mark.django_db
def test_its_schema_is_published(client):
    response = client.get("/api/v1/schemas/scheduling/")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Scheduling policy"
    assert set(body["properties"]["trigger"]["enum"]) == {
        "utilisation",
        "vulnerability",
        "cost",
        "evacuation",
    }
