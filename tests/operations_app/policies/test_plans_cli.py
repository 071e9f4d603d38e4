"""``persona policy create|submit|approve|reject|list|evaluate`` and ``persona plan
list|show|approve|reject``: scheduling policies and their plans at the shell, through
the same services as the pages and the API. Invalid input prints ``path: message``
(exit 1), usage errors exit 2, refusals, unknown objects and conflicts exit 3."""

from __future__ import annotations

import json

import pytest

from operations_app.models import ActionStatus, ManagedVM, OperationJob, PlanStatus, PolicyPlan
from operations_app.services import policies as policy_services
from profiles_app.models import Policy, PolicyKind, VersionStatus
from tests.operations_app.job_support import persona

from .support import balance_cpu, hot_fleet, scheduling_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(users, monkeypatch, no_cli_user):
    return hot_fleet(
        users, monkeypatch, vms=("big", "small", "third"), loads=(100, 70, 60), target_cpus=4
    )


def evaluated(users, **doc) -> PolicyPlan:
    policy = scheduling_policy(users, **doc)
    return policy_services.policy_evaluate(user=users["operator"], policy=policy)


def document_file(tmp_path, **doc):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(balance_cpu(**doc)))
    return str(path)


# --- the policy store ----------------------------------------------------------------------


def test_a_policy_is_created_submitted_approved_and_listed(users, tmp_path, no_cli_user):
    code, out, err = persona("policy", "create", document_file(tmp_path), "--as", "author")
    assert code == 0, err
    assert out.splitlines() == [
        "balance-cpu@1 draft created (scheduling policy).",
        "Submit it for approval: python manage.py persona policy submit balance-cpu@1 --as USER",
    ]
    assert Policy.objects.get().kind == PolicyKind.SCHEDULING

    code, out, err = persona("policy", "submit", "balance-cpu@1", "--as", "author")
    assert (code, out) == (0, "balance-cpu@1 submitted for approval.\n"), err
    code, out, err = persona("policy", "approve", "balance-cpu@1", "--as", "author")
    assert code == 3 and "author" in err  # never one's own version
    code, out, err = persona("policy", "approve", "balance-cpu@1", "--as", "approver")
    assert code == 0, err
    assert out.splitlines() == [
        "balance-cpu@1 approved.",
        "Evaluate it now: python manage.py persona policy evaluate balance-cpu --as USER",
    ]

    code, out, err = persona("policy", "list")
    assert code == 0, err
    assert out.splitlines() == [
        "NAME         APPROVED  LATEST  PENDING  TRIGGER      AUTOMATION  DESCRIPTION",
        "balance-cpu  1         1       0        utilisation  approve",
    ]
    code, out, _ = persona("policy", "list", "--json")
    assert json.loads(out)[0]["approved_version"] == 1


def test_a_pending_version_may_be_rejected_with_a_reason(users, tmp_path, no_cli_user):
    persona("policy", "create", document_file(tmp_path), "--as", "author")
    persona("policy", "submit", "balance-cpu@1", "--as", "author")
    code, out, err = persona("policy", "reject", "balance-cpu@1", "--as", "approver")
    assert code == 1 and err.strip()  # the reason is required
    code, out, err = persona(
        "policy", "reject", "balance-cpu@1", "--comment", "too eager", "--as", "approver"
    )
    assert (code, out) == (0, "balance-cpu@1 rejected.\n"), err
    assert Policy.objects.get().versions.get().status == VersionStatus.REJECTED


def test_an_invalid_document_prints_each_problem_at_its_pointer(users, tmp_path, no_cli_user):
    bad = document_file(
        tmp_path, utilisation={"metric": "cpu", "trigger_percent": 60, "target_percent": 70}
    )
    code, out, err = persona("policy", "create", bad, "--as", "author")
    assert code == 1
    assert "/utilisation/target_percent: must be below trigger_percent (60)" in err
    assert not Policy.objects.exists()
    (tmp_path / "broken.json").write_text("{nope")
    code, _, err = persona("policy", "create", str(tmp_path / "broken.json"), "--as", "author")
    assert code == 1 and err.strip()


def test_policy_store_usage_errors_and_refusals(users, tmp_path, no_cli_user):
    code, _, err = persona("policy", "create", str(tmp_path / "missing.json"), "--as", "author")
    assert code == 2 and "Cannot read" in err
    code, _, err = persona("policy", "create", document_file(tmp_path))
    assert code == 2 and "--as USER" in err
    code, _, err = persona("policy", "create", document_file(tmp_path), "--as", "viewer")
    assert code == 3 and "authors" in err
    code, _, err = persona("policy", "create", document_file(tmp_path), "--as", "nobody")
    assert code == 3 and "No active user named 'nobody'" in err
    code, _, err = persona("policy", "submit", "balance-cpu", "--as", "author")
    assert code == 2 and "NAME@N" in err
    code, _, err = persona("policy", "submit", "balance-cpu@1", "--as", "author")
    assert code == 3 and "No version 1" in err


# --- evaluating ------------------------------------------------------------------------------


def test_evaluate_prints_the_plan_with_reasons_and_predicted_effect(users, fleet):
    scheduling_policy(users)
    code, out, err = persona("policy", "evaluate", "balance-cpu", "--as", "operator")
    assert code == 0, err
    plan = PolicyPlan.objects.get()
    lines = out.splitlines()
    assert lines[0] == f"Plan #{plan.pk} of balance-cpu@1 (approve): proposed"
    assert lines[1].startswith("fleet as of: ") and "(evaluated by operator); expires" in lines[1]
    assert lines[2] == (
        "effect:      cpu peak 115 % -> 42.5 % predicted; spread between platforms 115 -> "
        "12.5 points"
    )
    assert lines[3:9] == [
        "actions (2):",
        "  [0] migrate big: lab-a -> lab-b (live) — proposed",
        "      - lab-a at 115.0 % cpu (trigger 80 %, target 60 %)",
        "      - big uses 1.00 CPUs",
        "      - lab-b would be at 25.0 %; live: running, no changes",
        "      effect: lab-a 115 % -> 65 %, lab-b 0 % -> 25 %, moves 1.5 GiB",
    ]
    assert lines[-3:] == [
        "Decide:",
        f"  python manage.py persona plan approve {plan.pk} [--skip N ...] [--comment TEXT] "
        "--as USER",
        f"  python manage.py persona plan reject {plan.pk} --comment TEXT --as USER",
    ]


def test_evaluate_as_json_is_what_the_api_answers(users, fleet):
    scheduling_policy(users)
    code, out, err = persona("policy", "evaluate", "balance-cpu", "--json", "--as", "operator")
    assert code == 0, err
    data = json.loads(out)
    assert data["id"] == PolicyPlan.objects.get().pk and data["status"] == "proposed"
    assert [a["vm"] for a in data["actions"]] == ["big", "small"]
    assert data["actions"][0]["placement"]["verdicts"][0]["chosen"] is True
    assert data["links"]["self"] == f"/api/v1/plans/{data['id']}/"


def test_evaluate_refusals_and_conflicts(users, fleet):
    scheduling_policy(users)
    code, _, err = persona("policy", "evaluate", "balance-cpu", "--as", "viewer")
    assert code == 3 and "operators" in err
    code, _, err = persona("policy", "evaluate", "web", "--as", "operator")
    assert code == 3 and "No scheduling policy named 'web'" in err
    code, _, err = persona("policy", "evaluate", "balance-cpu")
    assert code == 2
    assert PolicyPlan.objects.count() == 0


# --- plans -----------------------------------------------------------------------------------


def test_plan_list_with_its_filters(users, fleet):
    old = evaluated(users)
    new = policy_services.policy_evaluate(user=users["operator"], policy=old.policy)
    code, out, err = persona("plan", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "POLICY",
        "STATUS",
        "AUTOMATION",
        "ACTIONS",
        "FLEET",
        "AS",
        "OF",
        "DECIDED",
        "BY",
    ]
    assert [line.split()[:5] for line in lines[1:]] == [
        [str(new.pk), "balance-cpu@1", "proposed", "approve", "2"],
        [str(old.pk), "balance-cpu@1", "superseded", "approve", "2"],
    ]
    code, out, _ = persona("plan", "list", "--status", "superseded", "--json")
    assert [p["id"] for p in json.loads(out)] == [old.pk]
    code, out, _ = persona("plan", "list", "--policy", "balance-cpu", "--status", "done")
    assert out == "no plans\n"
    code, _, err = persona("plan", "list", "--policy", "web")
    assert code == 3 and "No scheduling policy named 'web'" in err


def test_plan_show_with_verdicts_and_as_json(users, fleet):
    plan = evaluated(users)
    code, out, err = persona("plan", "show", str(plan.pk), "--verdicts")
    assert code == 0, err
    assert "      each platform:\n        lab-b: chosen (score " in out
    code, out, _ = persona("plan", "show", str(plan.pk), "--json")
    assert json.loads(out)["efficacy"]["peak_before"] == 115.0
    code, _, err = persona("plan", "show", "99999")
    assert code == 3 and "No plan #99999." in err


def test_plan_approve_with_a_skipped_action(users, fleet):
    plan = evaluated(users)
    code, out, err = persona(
        "plan",
        "approve",
        str(plan.pk),
        "--skip",
        "1",
        "--comment",
        "one first",
        "--as",
        "approver2",
    )
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.splitlines() == [
        f"Plan #{plan.pk} approved by approver2: 1 migration job requested.",
        f"  [0] big lab-a -> lab-b: job {job.pk} (queued)",
        "  [1] small lab-a -> lab-b: skipped by approver2",
    ]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and plan.comment == "one first"
    code, out, _ = persona("plan", "show", str(plan.pk))
    assert f"  [0] migrate big: lab-a -> lab-b (live) — scheduled as job {job.pk}" in out
    assert "decided:     approved by approver2 at " in out
    assert "Decide:" not in out

    code, _, err = persona("plan", "approve", str(plan.pk), "--as", "approver2")
    assert code == 3 and "only proposed plans can be decided" in err
    assert OperationJob.objects.count() == 1


def test_a_moved_vm_is_stale_and_named_so(users, fleet):
    plan = evaluated(users)
    ManagedVM.objects.filter(name="small").update(platform=fleet["b"])
    code, out, err = persona("plan", "approve", str(plan.pk), "--as", "approver2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [a["status"] for a in data["actions"]] == [ActionStatus.SCHEDULED, ActionStatus.STALE]
    assert data["actions"][1]["note"] == "small runs on lab-b now, not lab-a"


def test_plan_approve_bad_input_and_refusals(users, fleet):
    plan = evaluated(users)
    pk = str(plan.pk)
    code, _, err = persona("plan", "approve", pk, "--skip", "0", "7", "--as", "approver2")
    assert code == 1 and f"skip/1: plan #{plan.pk} has no action 7" in err
    code, _, err = persona("plan", "approve", pk, "--skip", "x", "--as", "approver2")
    assert code != 0
    code, _, err = persona("plan", "approve", pk)
    assert code == 2 and "--as USER" in err
    for who in ("viewer", "operator", "author"):
        code, _, err = persona("plan", "approve", pk, "--as", who)
        assert code == 3 and "approvers" in err, who
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED and not OperationJob.objects.exists()


def test_the_author_of_a_production_policy_may_not_decide_on_its_plan(users, fleet):
    ManagedVM.objects.update(execution_flags=["Production"])
    plan = evaluated(users, author="author_approver", approver="approver")
    code, _, err = persona("plan", "approve", str(plan.pk), "--as", "author_approver")
    assert code == 3 and "another approver must decide on it" in err
    code, _, err = persona(
        "plan", "reject", str(plan.pk), "--comment", "mine", "--as", "author_approver"
    )
    assert code == 3
    code, _, err = persona("plan", "approve", str(plan.pk), "--as", "approver")
    assert code == 0, err


def test_a_recommend_only_plan_is_not_run_and_rejecting_needs_a_reason(users, fleet):
    plan = evaluated(users, automation="recommend")
    code, out, _ = persona("plan", "show", str(plan.pk))
    assert out.splitlines()[-1] == "This policy only recommends: its plans are not run."
    code, _, err = persona("plan", "approve", str(plan.pk), "--as", "approver2")
    assert code == 3 and "only recommends" in err
    code, _, err = persona("plan", "reject", str(plan.pk), "--as", "approver2")
    assert code == 1 and "comment: say why the plan is rejected" in err
    code, out, err = persona(
        "plan", "reject", str(plan.pk), "--comment", "not now", "--as", "approver2"
    )
    assert (code, out) == (0, f"Plan #{plan.pk} rejected by approver2: nothing runs.\n"), err
    code, _, err = persona(
        "plan", "reject", str(plan.pk), "--comment", "again", "--as", "approver2"
    )
    assert code == 3
    assert not OperationJob.objects.exists()


def test_plan_run_approves_then_follows_the_jobs_to_the_end(users, fleet):
    from django.utils import timezone

    from operations_app.models import JobStatus

    plan = evaluated(users)
    args = ("plan", "run", str(plan.pk))
    code, out, err = persona(
        *args, "--skip", "1", "--timeout", "0.2", "--interval", "0.05", "--as", "approver2"
    )
    # approved, its job requested; nobody runs it here, so following it times out (exit 5)
    job = OperationJob.objects.get()
    assert code == 5 and f"Job {job.pk} is still queued after 0.2s" in err
    assert (
        out.splitlines()[0] == f"Plan #{plan.pk} approved by approver2: 1 migration job requested."
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED

    code, _, err = persona(*args, "--skip", "0", "--as", "approver2")
    assert code == 2 and "--skip and --comment go with a proposed plan" in err

    # the job ends: run follows it and the plan is done
    OperationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now()
    )
    ManagedVM.objects.filter(name="big").update(platform=fleet["b"])
    code, out, err = persona(*args, "--as", "approver2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"[0] big: job {job.pk}" and lines[-1] == f"Plan #{plan.pk}: done."

    code, _, err = persona(*args, "--as", "approver2")
    assert code == 3 and f"Plan #{plan.pk} is done: it has nothing to run." in err


def test_plan_run_exits_4_when_an_action_fails(users, fleet):
    from django.utils import timezone

    from operations_app.models import JobStatus

    plan = evaluated(users)
    policy_services.plan_approve(user=users["approver2"], plan=plan, skip=[1])
    OperationJob.objects.update(
        status=JobStatus.FAILED, finished_at=timezone.now(), error="the target said no"
    )
    code, out, err = persona("plan", "run", str(plan.pk), "--as", "approver2")
    assert code == 4 and "Not every action succeeded" in err and "[0] big:" in err
    assert out.splitlines()[-1] == f"Plan #{plan.pk}: done."
