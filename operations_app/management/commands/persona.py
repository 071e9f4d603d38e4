"""``python manage.py persona ...``: platforms, inventory, images, labels of VMs and
platforms, the local testbed, and jobs (clone, migrate, snapshot, rollback, destroy,
power, list, show, cancel, follow, and confirm or extend a job's health watch) and a
VM's snapshots. Clone, migrate, snapshot and destroy take ``--window NAME|auto`` or ``--at
ISO-TIME`` (and ``--on-miss next|expire``) to schedule the job; ``persona schedule
list|move`` and ``persona job approve|reject ID`` handle scheduled jobs.

Exit codes: 0 success, 1 invalid input (each error printed as ``<path>: <message>``),
2 usage, 3 the operation was refused or failed (unknown object, unreachable host, a
migration dry run that would not go ahead, ...), 4 a job that was waited for ended
without succeeding (rolled back, cancelled, failed or errored), 5 ``--timeout`` passed
while the job was still running.

Requests, cancels and a health watch's confirm and extend are made as a user, who needs
the roles the web UI asks for: name them with ``--as USER``, or set
``VMPERSONA_CLI_USER``; there is no implicit default. Changes to platforms, labels
and maintenance windows (``persona window add|list|show|export|import|delete``,
operations_app/management/window_cli.py) are made as ``--as USER`` (an operator), or
else as the system. Host maintenance (``persona maintenance plan|start|end|show|list``,
operations_app/management/maintenance_cli.py) is requested like a job, ``--as USER``,
as are scheduling policies and their plans (``persona policy create|submit|approve|
reject|list|evaluate`` and ``persona plan list|show|approve|reject``,
operations_app/management/policy_cli.py). Security advisories (``persona advisory
import|list``) and a platform's packages (``persona platform facts``) are imported as
``--as USER`` (an operator) or else as the system (operations_app/management/advisory_cli.py).
"""

from __future__ import annotations

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from operations_app import testbed
from operations_app.api.serializers.snapshots import VMSnapshotSerializer
from operations_app.management import (
    advisory_cli,
    cost_cli,
    job_cli,
    maintenance_cli,
    platform_cli,
    policy_cli,
    schedule_cli,
    window_cli,
)
from operations_app.management.job_cli import JobOutcome
from operations_app.models import BaseImage, JobKind, OnMiss, Platform
from operations_app.presentation.jobs import WATCH_EXTEND_MINUTES
from operations_app.services import inventory as inventory_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import platforms as platform_services
from operations_app.services import scheduling as scheduling_services
from operations_app.services import watch as watch_services
from vmpersona.errors import DomainError, error_list

JOB_USAGE = (
    "persona job ID [--events] [--wait] | persona job cancel ID --as USER | "
    "persona job confirm ID --as USER | persona job extend ID [--minutes N] --as USER | "
    "persona job approve ID [--comment TEXT] --as USER | "
    "persona job reject ID --comment TEXT --as USER"
)
JOB_ACTIONS = ("cancel", "confirm", "extend", "approve", "reject")


class Command(BaseCommand):
    help = "Manage platforms, inventory, base images and the local two-host testbed."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="area", required=True, metavar="AREA")

        tb = sub.add_parser("testbed", help="the local two-host libvirt testbed")
        tb.add_argument("action", choices=["up", "down", "status"])
        tb.add_argument("--no-image", action="store_true", help="do not build the tiny guest image")

        pf = sub.add_parser("platform", help="hypervisor platforms")
        pf_sub = pf.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = pf_sub.add_parser("add", help="register a platform")
        add.add_argument("name")
        add.add_argument(
            "--uri", required=True, help="libvirt URI, e.g. qemu+ssh://root@host/system"
        )
        self._platform_options(add)
        upd = pf_sub.add_parser("update", help="change a platform's settings")
        upd.add_argument("name")
        upd.add_argument("--uri")
        self._platform_options(upd)
        pf_list = pf_sub.add_parser("list", help="list platforms")
        self._label_filter(pf_list)
        show = pf_sub.add_parser("show", help="a platform's settings and capabilities")
        show.add_argument("name")
        pf_label = pf_sub.add_parser(
            "label",
            help="show a platform's labels, or set and remove some",
            description="With no KEY=VALUE, --remove or --replace, shows the labels.",
        )
        pf_label.add_argument("name")
        self._label_options(pf_label)
        ref = pf_sub.add_parser("refresh", help="read capabilities from libvirt")
        ref.add_argument("names", nargs="*", help="platforms (all enabled ones when omitted)")
        self._as_option(ref)
        advisory_cli.add_facts_parser(pf_sub, self._as_option)

        inv = sub.add_parser("inventory", help="VM inventory")
        inv_sub = inv.add_subparsers(dest="action", required=True, metavar="ACTION")
        sync = inv_sub.add_parser("sync", help="read the domains of every enabled platform")
        sync.add_argument("--platform", action="append", default=[])
        self._as_option(sync)
        inv_list = inv_sub.add_parser("list", help="list VMs")
        self._label_filter(inv_list)

        vm = sub.add_parser("vm", help="a VM of the inventory")
        vm_sub = vm.add_subparsers(dest="action", required=True, metavar="ACTION")
        vm_label = vm_sub.add_parser(
            "label",
            help="show a VM's labels, or set and remove some",
            description="With no KEY=VALUE, --remove or --replace, shows the labels.",
        )
        vm_label.add_argument("vm", help="VM name (or inventory id)")
        vm_label.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        self._label_options(vm_label)

        img = sub.add_parser("image", help="base images")
        img_sub = img.add_subparsers(dest="action", required=True, metavar="ACTION")
        reg = img_sub.add_parser("register", help="register an image from its image.json")
        reg.add_argument("manifest")
        reg.add_argument("--platform", action="append", required=True)
        self._as_option(reg)
        img_sub.add_parser("list", help="list base images")

        window_cli.add_parser(sub, self._as_option)
        maintenance_cli.add_parser(sub, self._as_option)
        policy_cli.add_parsers(sub, self._as_option)
        advisory_cli.add_parser(sub, self._as_option)
        cost_cli.add_parser(sub)

        self._job_arguments(sub)

    def _as_option(self, p, *, requests: bool = False):
        """``--as USER``: who a job is requested by (``requests``, falling back on
        $VMPERSONA_CLI_USER), or who makes a change to the platform registry (falling
        back on the system)."""
        p.add_argument(
            "--as",
            dest="as_user",
            metavar="USER",
            help="who requests it (default: $VMPERSONA_CLI_USER)"
            if requests
            else "who makes the change, checked for the operators role and recorded in the "
            "history (default: the system)",
        )

    def _label_options(self, p):
        p.add_argument(
            "pairs", nargs="*", metavar="KEY=VALUE", help="labels to set (KEY= for empty)"
        )
        p.add_argument(
            "--remove", action="append", default=[], metavar="KEY", help="repeat for several"
        )
        p.add_argument(
            "--replace",
            action="store_true",
            help="the labels become exactly the KEY=VALUE given (none: remove them all)",
        )
        self._as_option(p)

    def _label_filter(self, p):
        p.add_argument(
            "--label",
            default="",
            metavar="SELECTOR",
            help="only those with these labels: key=value or key, comma-separated, all "
            "must match (e.g. team=payments,rack)",
        )

    def _acting_user(self, opts):
        return job_cli.cli_user(opts["as_user"]) if opts.get("as_user") else None

    def _job_arguments(self, sub):
        clone = sub.add_parser("clone", help="clone a VM from an approved profile version")
        clone.add_argument("--profile", required=True, help="profile name")
        clone.add_argument(
            "--version", type=int, help="version number (default: the approved version)"
        )
        clone.add_argument(
            "--platform",
            default="auto",
            help="target platform (default auto: placement chooses, and says why)",
        )
        clone.add_argument("--name", required=True, dest="vm_name", help="name of the new VM")
        self._schedule_options(clone)
        self._as_option(clone, requests=True)
        self._wait_options(clone)

        migrate = sub.add_parser(
            "migrate",
            help="move a managed VM to another platform, or show what that would do (--plan)",
        )
        migrate.add_argument("vm", help="VM name (or inventory id)")
        migrate.add_argument(
            "--to", required=True, dest="target", metavar="PLATFORM", help="target platform"
        )
        migrate.add_argument(
            "--from",
            dest="source",
            metavar="PLATFORM",
            help="the VM's platform, if the name is ambiguous",
        )
        migrate.add_argument(
            "--mode",
            choices=migration_services.MIGRATION_MODES,
            default="auto",
            help="live, cold, or auto: live when nothing the guest sees changes (default)",
        )
        migrate.add_argument(
            "--plan",
            action="store_true",
            help="dry run: read both platforms and show what the migration would do; "
            "exit 0 only if it would go ahead",
        )
        migrate.add_argument("--json", action="store_true", help="with --plan: print it as JSON")
        self._schedule_options(migrate)
        self._as_option(migrate, requests=True)
        self._wait_options(migrate)

        snapshot = sub.add_parser("snapshot", help="take a snapshot of a managed VM")
        snapshot.add_argument("vm", help="VM name (or inventory id)")
        snapshot.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        snapshot.add_argument(
            "--description", default="", help="what it is for (at most 300 characters)"
        )
        self._schedule_options(snapshot)
        self._as_option(snapshot, requests=True)
        self._wait_options(snapshot)

        rollback = sub.add_parser(
            "rollback",
            help="return a VM to one of its snapshots (its current state is kept as a "
            "before-rollback snapshot)",
        )
        rollback.add_argument("vm", help="VM name (or inventory id)")
        rollback.add_argument("snapshot", help="snapshot name (or id; see persona snapshots VM)")
        rollback.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        self._as_option(rollback, requests=True)
        self._wait_options(rollback)

        snapshots = sub.add_parser("snapshots", help="list a VM's snapshots, newest first")
        snapshots.add_argument("vm", help="VM name (or inventory id)")
        snapshots.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        snapshots.add_argument("--all", action="store_true", help="include removed snapshots")
        snapshots.add_argument("--json", action="store_true", help="print them as JSON")

        destroy = sub.add_parser("destroy", help="decommission a VM")
        destroy.add_argument("vm", help="VM name (or inventory id)")
        destroy.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        self._schedule_options(destroy)
        self._as_option(destroy, requests=True)
        self._wait_options(destroy)

        power = sub.add_parser(
            "power",
            help="start, shut down (ACPI, never forced), reboot or force off a managed VM",
        )
        power.add_argument("vm", help="VM name (or inventory id)")
        power.add_argument("action", choices=list(job_cli.POWER_ACTIONS), help="what to do")
        power.add_argument("--platform", help="the VM's platform, if the name is ambiguous")
        self._as_option(power, requests=True)
        self._wait_options(power)

        jobs = sub.add_parser("jobs", help="list jobs, newest first")
        jobs.add_argument(
            "--status", action="append", default=[], help="status or 'active'; repeatable"
        )
        jobs.add_argument("--kind", choices=[k.value for k in JobKind])
        jobs.add_argument("--platform")
        jobs.add_argument("--vm", dest="vm_name")
        jobs.add_argument("--limit", type=int, default=50)

        job = sub.add_parser(
            "job",
            help="show a job, cancel one, or confirm or extend its health watch",
            usage=JOB_USAGE,
        )
        job.add_argument(
            "target",
            metavar="ID|cancel|confirm|extend|approve|reject",
            help="a job id; or cancel, confirm (end its health watch now, as passed), "
            "extend (watch longer), approve or reject (a scheduled job waiting for an "
            "approver) followed by the job id",
        )
        job.add_argument("job_id", nargs="?", type=int, help="(after an action) the job id")
        job.add_argument("--events", action="store_true", help="also list the job's events")
        job.add_argument(
            "--minutes",
            metavar="N",
            help=f"with extend: how many minutes longer to watch (default {WATCH_EXTEND_MINUTES})",
        )
        job.add_argument("--comment", help="with approve or reject: why (required to reject)")
        self._as_option(job, requests=True)
        self._wait_options(job)

        schedule = sub.add_parser(
            "schedule", help="scheduled jobs: list them, or move one before it starts"
        )
        schedule_sub = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")
        schedule_list = schedule_sub.add_parser(
            "list", help="jobs waiting for their window or time, by earliest start"
        )
        schedule_list.add_argument(
            "--all", action="store_true", help="also jobs that were scheduled and started or ended"
        )
        move = schedule_sub.add_parser(
            "move", help="give a scheduled job another window or time, or change --on-miss"
        )
        move.add_argument("job_id", type=int, metavar="ID")
        self._schedule_options(move, on_miss_default=None)
        self._as_option(move, requests=True)

    def _schedule_options(self, p, *, on_miss_default: str | None = OnMiss.NEXT):
        when = p.add_mutually_exclusive_group()
        when.add_argument(
            "--window",
            metavar="NAME|auto",
            help="schedule it: the next occurrence of this maintenance window, or auto (the "
            "next window covering the VM); it starts inside it, before its cutoff, outside "
            "blackouts",
        )
        when.add_argument(
            "--at",
            metavar="ISO-TIME",
            help="schedule it for this time, with its UTC offset (2026-05-01T02:00+02:00)",
        )
        p.add_argument(
            "--on-miss",
            dest="on_miss",
            choices=OnMiss.values,
            default=on_miss_default,
            help="if it cannot start in time: next (the next occurrence"
            + ("; the default" if on_miss_default else "")
            + ") or expire (a job for a time always expires)",
        )

    def _wait_options(self, p):
        p.add_argument(
            "--wait",
            action="store_true",
            help="follow the job until it ends; exit 0 only if it succeeded",
        )
        p.add_argument(
            "--timeout", type=float, default=None, help="give up waiting after this many seconds"
        )
        p.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls (default 1)"
        )

    def _platform_options(self, p):
        self._as_option(p)
        p.add_argument("--description")
        p.add_argument("--site")
        p.add_argument("--region")
        p.add_argument("--pool", dest="storage_pool")
        p.add_argument(
            "--migration-uri",
            dest="migration_uri",
            help="the URI other hosts' libvirt uses to reach this one for live migration",
        )
        p.add_argument("--network", dest="networks", action="append", help="repeat for several")
        p.add_argument(
            "--vlan", dest="vlans", action="append", metavar="ID=NETWORK", help="VLAN id to network"
        )
        p.add_argument("--kvm", choices=["auto", "use", "avoid"])
        p.add_argument("--constraints", help="JSON object of declared constraints")
        p.add_argument("--currency")
        p.add_argument("--cost-vcpu-hour", dest="cost_vcpu_hour")
        p.add_argument("--cost-ram-gib-hour", dest="cost_ram_gib_hour")
        p.add_argument("--cost-storage-gib-month", dest="cost_storage_gib_month")
        p.add_argument("--disable", dest="enabled", action="store_false", default=None)
        p.add_argument("--enable", dest="enabled", action="store_true")

    # ------------------------------------------------------------------ dispatch

    def handle(self, *args, **opts):
        handler = getattr(self, f"do_{opts['area']}")
        try:
            handler(opts)
        except ValidationError as exc:
            for err in error_list(exc):
                self.stderr.write(f"{err['path'] or '/'}: {err['message']}")
            sys.exit(1)
        except JobOutcome as exc:
            raise CommandError(str(exc), returncode=exc.code) from exc
        except (DomainError, Platform.DoesNotExist, BaseImage.DoesNotExist) as exc:
            raise CommandError(str(exc), returncode=3) from exc

    # ------------------------------------------------------------------ areas

    def do_testbed(self, opts):
        action = opts["action"]
        if action == "up":
            platforms = testbed.up(build_image=not opts["no_image"])
            for p in platforms:
                self.stdout.write(f"platform {p.name}: {p.uri} — {platform_cli.status_line(p)}")
            if BaseImage.objects.filter(image_id="tiny-linux").exists():
                self.stdout.write("base image tiny-linux registered")
        elif action == "down":
            testbed.daemons_down()
            self.stdout.write("testbed stopped")
        else:
            env = testbed.read_env()
            self.stdout.write(f"host A: {env.host_a_uri}\nhost B: {env.host_b_uri}")

    def do_platform(self, opts):
        action = opts["action"]
        if action == "add":
            p = platform_services.platform_create(
                user=self._acting_user(opts),
                name=opts["name"],
                uri=opts["uri"],
                **platform_cli.platform_settings(opts),
            )
            p = platform_services.platform_refresh(platform=p)
            self.stdout.write(f"platform {p.name} added: {platform_cli.status_line(p)}")
        elif action == "update":
            fields = platform_cli.platform_settings(opts)
            if opts.get("uri"):
                fields["uri"] = opts["uri"]
            p = platform_services.platform_update(
                user=self._acting_user(opts),
                platform=platform_cli.platform_named(opts["name"]),
                **fields,
            )
            self.stdout.write(f"platform {p.name} updated")
        elif action == "list":
            platform_cli.print_platforms(self.stdout, label=opts["label"])
        elif action == "show":
            platform_cli.print_platform(self.stdout, platform_cli.platform_named(opts["name"]))
        elif action == "label":
            p = platform_cli.platform_label(opts, user=self._acting_user(opts))
            self.stdout.write(platform_cli.labels_line(f"platform {p.name}", p.labels))
        elif action == "facts":
            advisory_cli.run_facts(
                opts,
                self.stdout,
                user=self._acting_user(opts),
                platform=platform_cli.platform_named(opts["name"]),
            )
        elif action == "refresh":
            platforms = platform_cli.platforms_named(opts["names"])
            failed = False
            user = self._acting_user(opts)
            for p in platforms:
                p = platform_services.platform_refresh(platform=p, user=user)
                failed |= p.status != "ok"
                self.stdout.write(f"{p.name}: {platform_cli.status_line(p)}")
            if failed:
                raise DomainError("At least one platform could not be reached.")

    def do_inventory(self, opts):
        if opts["action"] == "list":
            platform_cli.print_vms(self.stdout, label=opts["label"])
            return
        platforms = platform_cli.platforms_named(opts["platform"])
        failed = False
        user = self._acting_user(opts)
        for p in platforms:
            r = inventory_services.inventory_sync(platform=p, user=user)
            if not r.reachable:
                failed = True
                self.stdout.write(f"{p.name}: unreachable ({r.error})")
                continue
            self.stdout.write(
                f"{p.name}: {r.seen} domains, {len(r.added)} new, {len(r.gone)} gone, {r.samples} samples"
                + (f", {len(r.held)} left to running jobs" if r.held else "")
                + (
                    f", {len(r.secrets_supplied)} volume secrets supplied again"
                    if r.secrets_supplied
                    else ""
                )
            )
            for problem in r.secret_problems:
                self.stderr.write(f"{p.name}: {problem}")
        if failed:
            raise DomainError("At least one platform could not be reached.")

    def do_vm(self, opts):
        vm = platform_cli.vm_label(opts, user=self._acting_user(opts))
        self.stdout.write(
            platform_cli.labels_line(f"vm {vm.name} on {vm.platform.name}", vm.labels)
        )

    def do_image(self, opts):
        if opts["action"] == "list":
            platform_cli.print_images(self.stdout)
            return
        platforms = [platform_cli.platform_named(n) for n in opts["platform"]]
        image = platform_services.base_image_register_from_manifest(
            user=self._acting_user(opts), manifest_path=opts["manifest"], platforms=platforms
        )
        self.stdout.write(
            f"base image {image.image_id} registered on {', '.join(p.name for p in platforms)}"
        )

    def do_window(self, opts):
        window_cli.run(opts, self.stdout, user=self._acting_user(opts))

    def do_cost(self, opts):
        cost_cli.run(opts, self.stdout)

    def do_maintenance(self, opts):
        maintenance_cli.run(opts, self.stdout)

    def do_advisory(self, opts):
        advisory_cli.run(opts, self.stdout, user=self._acting_user(opts))

    def do_policy(self, opts):
        policy_cli.run_policy(opts, self.stdout)

    def do_plan(self, opts):
        policy_cli.run_plan(opts, self.stdout)

    # ------------------------------------------------------------------ jobs

    def do_clone(self, opts):
        job = job_cli.request_clone(
            user=job_cli.cli_user(opts["as_user"]),
            profile=opts["profile"],
            number=opts["version"],
            platform=opts["platform"],
            vm_name=opts["vm_name"],
            **job_cli.schedule_arguments(opts),
        )
        placement = (job.params or {}).get("placement")
        if placement and job.status == "scheduled":
            self.stdout.write(f"{placement['summary']} (for now: chosen again when it starts)")
        self._queued(job, opts, detail=f"; {placement['summary']}" if placement else "")

    def do_migrate(self, opts):
        if opts["plan"] and opts["wait"]:
            raise CommandError(
                "--plan queues no job: there is nothing to --wait for.", returncode=2
            )
        if opts["json"] and not opts["plan"]:
            raise CommandError("--json goes with --plan.", returncode=2)
        if opts["plan"] and (opts["window"] or opts["at"]):
            raise CommandError("--plan queues no job: there is nothing to schedule.", returncode=2)
        user = job_cli.cli_user(opts["as_user"])
        where = {"vm": opts["vm"], "source": opts["source"], "target": opts["target"]}
        if not opts["plan"]:
            job = job_cli.request_migrate(
                user=user, mode=opts["mode"], **where, **job_cli.schedule_arguments(opts)
            )
            self._queued(
                job,
                opts,
                detail=f" from {job.source_platform.name} to {job.platform.name} "
                f"({job.params.get('mode', opts['mode'])})",
            )
            return
        plan = job_cli.migration_plan(user=user, mode=opts["mode"], **where)
        if opts["json"]:
            self.stdout.write(json.dumps(plan, indent=2, default=str))
        else:
            job_cli.print_plan(self.stdout, plan)
        if not plan["ready"]:
            raise CommandError(
                f"{plan['vm']} would not be migrated: {plan['verdict']}", returncode=3
            )

    def do_snapshot(self, opts):
        job = job_cli.request_snapshot(
            user=job_cli.cli_user(opts["as_user"]),
            vm=opts["vm"],
            platform=opts["platform"],
            description=opts["description"],
            **job_cli.schedule_arguments(opts),
        )
        self._queued(job, opts, detail=f" on {job.platform.name}")

    def do_rollback(self, opts):
        job, snapshot = job_cli.request_rollback(
            user=job_cli.cli_user(opts["as_user"]),
            vm=opts["vm"],
            platform=opts["platform"],
            snapshot=opts["snapshot"],
        )
        self._queued(job, opts, detail=f"@{snapshot.name}")

    def do_snapshots(self, opts):
        vm, snapshots = job_cli.vm_snapshot_list(
            vm=opts["vm"], platform=opts["platform"], include_removed=opts["all"]
        )
        if opts["json"]:
            data = VMSnapshotSerializer(snapshots, many=True).data
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        job_cli.print_snapshots(self.stdout, vm, snapshots, include_removed=opts["all"])

    def do_destroy(self, opts):
        job = job_cli.request_destroy(
            user=job_cli.cli_user(opts["as_user"]),
            vm=opts["vm"],
            platform=opts["platform"],
            **job_cli.schedule_arguments(opts),
        )
        self._queued(job, opts)

    def do_power(self, opts):
        job = job_cli.request_power(
            user=job_cli.cli_user(opts["as_user"]),
            vm=opts["vm"],
            platform=opts["platform"],
            action=opts["action"],
        )
        self._queued(job, opts, detail=f" ({opts['action']}) on {job.platform.name}")

    def _queued(self, job, opts, detail: str = ""):
        if job.status == "scheduled":
            self.stdout.write(schedule_cli.scheduled_line(job))
        else:
            self.stdout.write(
                f"job {job.pk} queued: {job.get_kind_display().lower()} {job.vm_name}{detail}"
            )
        if opts["wait"]:
            self._wait(job, opts, after=0)

    def _wait(self, job, opts, *, after: int):
        job_cli.follow(
            job,
            after=after,
            out=self.stdout,
            verbosity=opts["verbosity"],
            interval=opts["interval"],
            timeout=opts["timeout"],
        )

    def do_schedule(self, opts):
        if opts["action"] == "list":
            schedule_cli.print_scheduled(self.stdout, include_ended=opts["all"])
            return
        job = job_cli.job_or_error(opts["job_id"])
        job = schedule_cli.schedule_move(user=job_cli.cli_user(opts["as_user"]), job=job, opts=opts)
        self.stdout.write(schedule_cli.scheduled_line(job))

    def do_jobs(self, opts):
        job_cli.print_jobs(
            self.stdout,
            status=opts["status"],
            kind=opts["kind"] or "",
            platform=opts["platform"] or "",
            vm_name=opts["vm_name"] or "",
            limit=opts["limit"],
        )

    def do_job(self, opts):
        target = opts["target"]
        if opts["minutes"] is not None and target != "extend":
            raise CommandError("--minutes goes with extend.", returncode=2)
        if opts["comment"] is not None and target not in ("approve", "reject"):
            raise CommandError("--comment goes with approve or reject.", returncode=2)
        if target in JOB_ACTIONS:
            if opts["job_id"] is None:
                extra = {
                    "extend": " [--minutes N]",
                    "approve": " [--comment TEXT]",
                    "reject": " --comment TEXT",
                }.get(target, "")
                raise CommandError(f"usage: persona job {target} ID{extra} --as USER", returncode=2)
            job = job_cli.job_or_error(opts["job_id"])
            user = job_cli.cli_user(opts["as_user"])
            if target == "cancel":
                job = job_services.job_cancel(user=user, job=job)
                state = "cancelled" if job.status == "cancelled" else "cancel requested"
            elif target == "approve":
                job = scheduling_services.job_schedule_approve(
                    user=user, job=job, comment=opts["comment"] or ""
                )
                state = f"approved by {user.username}"
            elif target == "reject":
                job = scheduling_services.job_schedule_reject(
                    user=user, job=job, comment=opts["comment"] or ""
                )
                state = f"rejected by {user.username}"
            elif target == "confirm":
                job = watch_services.job_watch_confirm(user=user, job=job)
                state = "health watch confirmed; it ends after the probe round in progress"
            else:
                minutes = opts["minutes"] if opts["minutes"] is not None else WATCH_EXTEND_MINUTES
                job = job_cli.watch_extend(user=user, job=job, minutes=minutes)
                state = (
                    f"health watch extended by {int(minutes)} min, "
                    f"until {job_cli.watch_until_text(job)}"
                )
            self.stdout.write(f"job {job.pk}: {state}")
            if opts["wait"]:
                self._wait(job, opts, after=job.event_seq)
            return
        if not target.isdigit() or opts["job_id"] is not None:
            raise CommandError(f"usage: {JOB_USAGE}", returncode=2)
        job = job_cli.job_or_error(int(target))
        job_cli.print_job(self.stdout, job, events=opts["events"])
        if opts["wait"]:
            self._wait(job, opts, after=job.event_seq)
