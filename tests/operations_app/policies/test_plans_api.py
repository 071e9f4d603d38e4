"""Scheduling policies' plans through the API: evaluating a policy (201 with its plan),
the list with its filters, a plan with its actions' reasons, effect, verdicts and jobs,
approving with actions left out and rejecting; 400 at the field's path, 403 for a
missing role or the author of a Production policy, 404 for unknown plans and policies,
409 for a plan that cannot be decided (twice, expired, recommend only) and a policy
that cannot be evaluated. No host is contacted: the dry run answers from a table."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from operations_app.models import (
    ActionStatus,
    JobKind,
    JobTrigger,
    ManagedVM,
    OperationJob,
    PlanStatus,
    PolicyPlan,
)
from operations_app.services import policies as policy_services
from profiles_app.models import PolicyKind
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import errors

from .support import balance_cpu, hot_fleet, scheduling_policy

pytestmark = pytest.mark.django_db

API = "/api/v1"
PLANS = f"{API}/plans/"
EVALUATE = f"{API}/policies/balance-cpu/evaluate/"


@pytest.fixture
def fleet(users, monkeypatch):
    return hot_fleet(users, monkeypatch)


def evaluated(users, **doc) -> PolicyPlan:
    policy = scheduling_policy(users, **doc)
    return policy_services.policy_evaluate(user=users["operator"], policy=policy)


def plan_url(plan, action: str = "") -> str:
    return f"{PLANS}{plan.pk}/" + (f"{action}/" if action else "")


# --- evaluating --------------------------------------------------------------------------


def test_evaluating_records_the_plan_with_reasons_effect_and_verdicts(api, users, fleet):
    scheduling_policy(users)
    response = api(users["operator"]).post(EVALUATE)
    assert response.status_code == 201, response.content
    plan = response.json()
    assert response["Location"] == plan["links"]["self"]
    assert plan["links"]["self"].endswith(f"/api/v1/plans/{plan['id']}/")
    assert plan["links"]["policy"].endswith("/api/v1/profiles/balance-cpu/?kind=scheduling")
    assert plan["policy"] == "balance-cpu" and plan["policy_version"] == "balance-cpu@1"
    assert plan["status"] == "proposed" and plan["automation"] == "approve"
    assert plan["requested_by"] == "operator" and plan["decided_by"] is None
    assert plan["action_count"] == 1 and plan["expires_at"]
    assert plan["efficacy"]["metric"] == "cpu"
    assert plan["efficacy"]["peak_after"] < plan["efficacy"]["peak_before"] == 85.0
    assert plan["realised"] == {}
    (action,) = plan["actions"]
    assert (action["index"], action["vm"], action["source"], action["target"]) == (
        0,
        "big",
        "lab-a",
        "lab-b",
    )
    assert action["vm_id"] == fleet["big"].pk and action["path"] == "live"
    assert action["reasons"][0].startswith("lab-a at 85.0 % cpu")
    assert action["effect"]["source_load"] == [85.0, 35.0]
    assert action["status"] == "proposed" and action["job"] is None
    assert action["links"]["job"] is None and action["links"]["vm"].endswith(
        f"/api/v1/vms/{fleet['big'].pk}/"
    )
    (verdict,) = action["placement"]["verdicts"]
    assert verdict["host"] == "lab-b" and verdict["chosen"] is True
    assert PolicyPlan.objects.get().pk == plan["id"]


def test_a_fleet_with_nothing_to_do_gives_an_empty_plan(api, users, fleet):
    ManagedVM.objects.filter(name="big").delete()
    scheduling_policy(users)
    response = api(users["operator"]).post(EVALUATE)
    assert response.status_code == 201
    assert response.json()["status"] == "empty" and response.json()["actions"] == []


def test_only_operators_evaluate(api, users, fleet):
    scheduling_policy(users)
    for who in ("viewer", "approver", "author"):
        response = api(users[who]).post(EVALUATE)
        assert response.status_code == 403, who
        assert "operators" in response.json()["detail"]
    assert not PolicyPlan.objects.exists()


def test_evaluating_an_unknown_or_a_vppd_name_is_404(api, users, fleet):
    assert api(users["operator"]).post(f"{API}/policies/nothing/evaluate/").status_code == 404
    # "web" is a VM profile, not a scheduling policy.
    response = api(users["operator"]).post(f"{API}/policies/web/evaluate/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No scheduling policy named 'web'."


def test_a_policy_without_an_approved_version_is_409(api, users, fleet):
    version_services.policy_create(
        user=users["author"], document=balance_cpu(), kind=PolicyKind.SCHEDULING
    )
    response = api(users["operator"]).post(EVALUATE)
    assert response.status_code == 409
    assert "has no approved version" in response.json()["detail"]


# --- reading -----------------------------------------------------------------------------


def test_everyone_reads_the_list_with_its_filters(api, users, fleet):
    first = evaluated(users)
    second = policy_services.policy_evaluate(user=users["operator"], policy=first.policy)
    scheduling_policy(users, name="balance-memory")
    client = api(users["viewer"])
    response = client.get(PLANS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(p["id"], p["status"]) for p in body["results"]] == [
        (second.pk, "proposed"),
        (first.pk, "superseded"),
    ]
    assert body["results"][0]["action_count"] == 1
    assert "actions" not in body["results"][0]
    proposed = client.get(PLANS, {"status": "superseded", "policy": "balance-cpu"}).json()
    assert [p["id"] for p in proposed["results"]] == [first.pk]
    assert client.get(PLANS, {"policy": "balance-memory"}).json()["count"] == 0
    assert client.get(PLANS, {"page_size": 1}).json()["next"]


def test_bad_list_filters_answer_400_at_their_field(api, users, fleet):
    client = api(users["viewer"])
    response = client.get(PLANS, {"status": "pending"})
    assert response.status_code == 400 and "status" in errors(response)
    response = client.get(PLANS, {"policy": "web"})
    assert response.status_code == 400
    assert errors(response) == {"policy": "no scheduling policy named 'web'"}


def test_a_plan_reads_as_the_viewer_sees_it_and_unknown_ones_are_404(api, users, fleet):
    plan = evaluated(users)
    response = api(users["viewer"]).get(plan_url(plan))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == plan.pk and body["snapshot_digest"] == plan.snapshot_digest
    assert body["links"]["approve"].endswith(f"/api/v1/plans/{plan.pk}/approve/")
    assert body["links"]["page"].endswith(f"/plans/{plan.pk}/")
    assert api(users["viewer"]).get(f"{PLANS}99999/").status_code == 404
    assert api(users["approver"]).post(f"{PLANS}99999/approve/", {}, format="json").status_code == (
        404
    )


# --- approving ---------------------------------------------------------------------------


def test_approving_runs_the_actions_not_skipped_as_policy_migrations(api, users, monkeypatch):
    fleet = hot_fleet(
        users, monkeypatch, vms=("big", "small", "third"), loads=(100, 70, 60), target_cpus=4
    )
    plan = evaluated(users)
    assert plan.actions.count() == 2
    response = api(users["approver2"]).post(
        plan_url(plan, "approve"), {"skip": [1], "comment": "one at a time"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved" and body["decided_by"] == "approver2"
    assert body["comment"] == "one at a time" and body["decided_at"]
    first, second = body["actions"]
    assert first["status"] == "scheduled" and first["job"]
    assert first["links"]["job"].endswith(f"/api/v1/jobs/{first['job']}/")
    assert second["status"] == "skipped" and second["note"] == "skipped by approver2"
    assert second["job"] is None
    job = OperationJob.objects.get()
    assert job.pk == first["job"] and job.kind == JobKind.MIGRATE
    assert job.trigger == JobTrigger.POLICY and job.requested_by == users["approver2"]
    assert job.vm == fleet[first["vm"]]

    again = api(users["approver"]).post(plan_url(plan, "approve"), {}, format="json")
    assert again.status_code == 409
    assert "only proposed plans can be decided" in again.json()["detail"]
    assert OperationJob.objects.count() == 1


def test_a_vm_moved_since_the_evaluation_is_stale_not_moved(api, users, fleet):
    plan = evaluated(users)
    ManagedVM.objects.filter(name="big").update(platform=fleet["b"])
    response = api(users["approver2"]).post(plan_url(plan, "approve"), {}, format="json")
    assert response.status_code == 200
    (action,) = response.json()["actions"]
    assert action["status"] == ActionStatus.STALE
    assert action["note"] == "big runs on lab-b now, not lab-a"
    assert not OperationJob.objects.exists()


def test_only_approvers_decide(api, users, fleet):
    plan = evaluated(users)
    for who in ("viewer", "operator", "author"):
        response = api(users[who]).post(plan_url(plan, "approve"), {}, format="json")
        assert response.status_code == 403, who
        response = api(users[who]).post(plan_url(plan, "reject"), {"comment": "no"}, format="json")
        assert response.status_code == 403, who
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED


def test_the_author_of_a_production_policy_may_not_decide_on_its_plan(api, users, fleet):
    ManagedVM.objects.update(execution_flags=["Testing"])
    plan = evaluated(
        users,
        author="author_approver",
        approver="approver",
        scope={"execution_flags": ["Production", "Testing"]},
    )
    for action in ("approve", "reject"):
        response = api(users["author_approver"]).post(
            plan_url(plan, action), {"comment": "mine"}, format="json"
        )
        assert response.status_code == 403
        assert "another approver must decide on it" in response.json()["detail"]
    assert plan.actions.count() == 1
    response = api(users["approver"]).post(plan_url(plan, "approve"), {}, format="json")
    assert response.status_code == 200 and response.json()["decided_by"] == "approver"


def test_the_author_of_a_testing_policy_may_decide_on_its_plan(api, users, fleet):
    plan = evaluated(users, author="author_approver", approver="approver")
    response = api(users["author_approver"]).post(plan_url(plan, "approve"), {}, format="json")
    assert response.status_code == 200


def test_bad_approvals_answer_400_at_their_field(api, users, fleet):
    plan = evaluated(users)
    client = api(users["approver2"])
    response = client.post(plan_url(plan, "approve"), {"skip": [0, 7]}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"skip/1": f"plan #{plan.pk} has no action 7"}
    response = client.post(plan_url(plan, "approve"), {"skip": "0"}, format="json")
    assert response.status_code == 400 and "skip" in errors(response)
    response = client.post(plan_url(plan, "approve"), {"skip": [-1]}, format="json")
    assert response.status_code == 400 and "skip/0" in errors(response)
    response = client.post(plan_url(plan, "approve"), {"skip": [], "force": True}, format="json")
    assert response.status_code == 400 and errors(response) == {
        "force": "not a field of this request"
    }
    response = client.post(plan_url(plan, "approve"), {"comment": "x" * 2001}, format="json")
    assert response.status_code == 400 and "comment" in errors(response)
    response = client.post(plan_url(plan, "approve"), "{not json", content_type="application/json")
    assert response.status_code == 400
    response = client.post(plan_url(plan, "approve"), [0], format="json")
    assert response.status_code == 400
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED and not OperationJob.objects.exists()


def test_an_expired_plan_cannot_be_approved(api, users, fleet):
    plan = evaluated(users)
    PolicyPlan.objects.filter(pk=plan.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = api(users["approver2"]).post(plan_url(plan, "approve"), {}, format="json")
    assert response.status_code == 409
    assert "expired; evaluate the policy again" in response.json()["detail"]


# --- recommend only, rejecting -----------------------------------------------------------


def test_a_recommend_only_plan_is_never_run_but_may_be_rejected(api, users, fleet):
    plan = evaluated(users, automation="recommend")
    client = api(users["approver2"])
    response = client.post(plan_url(plan, "approve"), {}, format="json")
    assert response.status_code == 409 and "only recommends" in response.json()["detail"]

    response = client.post(plan_url(plan, "reject"), {}, format="json")
    assert response.status_code == 400 and "comment" in errors(response)
    response = client.post(plan_url(plan, "reject"), {"comment": "  "}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"comment": "say why the plan is rejected"}

    response = client.post(plan_url(plan, "reject"), {"comment": "not now"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected" and body["comment"] == "not now"
    assert body["actions"][0]["status"] == "proposed"
    response = client.post(plan_url(plan, "reject"), {"comment": "again"}, format="json")
    assert response.status_code == 409
    assert not OperationJob.objects.exists()


def test_an_automatic_policy_approves_its_own_plan_when_evaluated(api, users, fleet):
    from tests.operations_app.scheduling_support import window

    window(users, "night")
    scheduling_policy(users, automation="automatic", window="night")
    response = api(users["operator"]).post(EVALUATE)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "approved" and body["decided_by"] is None
    assert body["actions"][0]["status"] == "scheduled"


def test_anonymous_clients_are_refused(client, users, fleet):
    plan = evaluated(users)
    assert client.get(PLANS).status_code in (401, 403)
    assert client.get(plan_url(plan)).status_code in (401, 403)
    assert client.post(EVALUATE).status_code in (401, 403)


# --- the description -------------------------------------------------------------------


def test_the_plan_endpoints_are_documented_with_their_errors(tmp_path):
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    paths = yaml.safe_load(path.read_text())["paths"]
    expected = {
        ("/api/v1/plans/", "get"): {"200", "400"},
        ("/api/v1/plans/{id}/", "get"): {"200", "404"},
        ("/api/v1/plans/{id}/approve/", "post"): {"200", "400", "403", "404", "409"},
        ("/api/v1/plans/{id}/reject/", "post"): {"200", "400", "403", "404", "409"},
        ("/api/v1/policies/{name}/evaluate/", "post"): {"201", "403", "404", "409"},
    }
    for (url, method), codes in expected.items():
        assert codes <= set(paths[url][method]["responses"]), (url, method)
    listed = {p["name"] for p in paths["/api/v1/plans/"]["get"]["parameters"]}
    assert {"policy", "status", "page", "page_size"} <= listed
