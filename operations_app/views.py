"""Server-rendered pages for platforms, the VM inventory and base images.

Each view parses the request, calls one selector or service, and renders. Everyone
logged in may read; changing a platform, refreshing its capabilities or syncing its
inventory needs the operators role. A refusal becomes a message, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from operations_app import selectors
from operations_app.constraints import CONSTRAINT_LIST_KEYS, CONSTRAINTS_SCHEMA
from operations_app.forms import PlatformForm
from operations_app.forms_jobs import SnapshotForm
from operations_app.hypervisor import redact_uri
from operations_app.migration_display import vm_migratable
from operations_app.models import ManagedVM, Platform, VMMetricSample, VMState
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from operations_app.services import snapshots as snapshot_services
from operations_app.snapshot_display import snapshot_panel, vm_snapshottable
from profiles_app.documents import error_list
from vmpersona.errors import DomainError, NotPermitted
from vmpersona.roles import OPERATORS, has_role, require_role

VMS_PER_PAGE = 100
CHART_SAMPLES = 60
MAX_CHART_SAMPLES = 1000
TABLE_SAMPLES = 20

CONSTRAINT_LABELS = {
    "machine_types": "Machine types",
    "disk_buses": "Disk buses",
    "nic_models": "NIC models",
    "accelerators": "Accelerators",
    "cpu_modes": "CPU modes",
    "firmware": "Firmware",
}

# --- helpers --------------------------------------------------------------------------


def _can_operate(user) -> bool:
    return has_role(user, OPERATORS)


def _platform_or_404(name: str) -> Platform:
    try:
        return Platform.objects.get(name=name)
    except Platform.DoesNotExist as exc:
        raise Http404(f"No platform named '{name}'.") from exc


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in error_list(exc)
        )
    return str(exc)


def _with_latest_sample(qs: QuerySet[ManagedVM]) -> QuerySet[ManagedVM]:
    """Annotate each VM with its newest sample's CPU % and time (one query in all)."""
    latest = VMMetricSample.objects.filter(vm=OuterRef("pk")).order_by("-at")
    return qs.annotate(
        latest_cpu_percent=Subquery(latest.values("cpu_percent")[:1]),
        latest_sample_at=Subquery(latest.values("at")[:1]),
    )


def _percent(part: float, whole: float) -> float | None:
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def _utilisation(util: dict[str, Any]) -> dict[str, Any]:
    vcpu = _percent(util["vcpus_allocated"], util["vcpus_total"])
    memory = _percent(util["memory_allocated_mib"], util["memory_total_mib"])
    return {
        **util,
        "vcpus_percent": vcpu,
        "vcpus_bar": min(vcpu, 100.0) if vcpu is not None else 0,
        "memory_percent": memory,
        "memory_bar": min(memory, 100.0) if memory is not None else 0,
    }


def _reported_values(caps: dict, key: str) -> list[str]:
    if key == "machine_types":
        return [m["name"] for m in caps.get("machines") or []]
    if key == "accelerators":
        return [a["domain_type"] for a in caps.get("accelerators") or [] if a.get("usable")]
    return list(caps.get(key) or [])


def _constraint_text(value: Any, unit: str = "") -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"{value}{unit}"


def declared_constraints(constraints: dict) -> list[dict[str, Any]]:
    """The platform's constraints as (key, values or text) rows, notes last."""
    rows = [
        {"key": key, "values": value if isinstance(value, list) else None, "text": str(value)}
        for key, value in constraints.items()
        if key != "notes"
    ]
    if constraints.get("notes"):
        rows.append({"key": "notes", "values": None, "text": str(constraints["notes"])})
    return rows


def constraint_effect(
    capabilities: dict, constraints: dict, effective: dict
) -> list[dict[str, Any]]:
    """One row per capability: what libvirt reports, what the constraints allow and remove."""
    rows: list[dict[str, Any]] = []
    for key in CONSTRAINT_LIST_KEYS:
        reported = _reported_values(capabilities, key)
        allowed = effective.get(key) or []
        rows.append(
            {
                "key": key,
                "label": CONSTRAINT_LABELS.get(key, key),
                "constraint": _constraint_text(constraints.get(key)),
                "effective": allowed,
                "removed": [v for v in reported if v not in allowed],
                "reported_count": len(reported),
            }
        )
    for key, label, reported_key, unit in (
        ("max_vcpus", "Max vCPUs", "cpu_count", ""),
        ("max_memory_mib", "Max memory", "memory_mib", " MiB"),
    ):
        host_value = capabilities.get(reported_key)
        limit = effective.get(key)
        rows.append(
            {
                "key": key,
                "label": label,
                "constraint": _constraint_text(constraints.get(key), unit),
                "effective": [f"{limit}{unit}"] if limit else [],
                "removed": [],
                "note": f"the host has {host_value}{unit}; capped at {limit}{unit}"
                if host_value and limit and limit < host_value
                else "",
                "reported_count": 1 if host_value else 0,
                "scalar": True,
            }
        )
    return rows


def capability_sizes(caps: dict) -> dict[str, Any]:
    """Byte and MiB figures of a capabilities record, formatted for reading."""
    pools = []
    for pool in caps.get("pools") or []:
        capacity = pool.get("capacity_bytes") or 0
        available = pool.get("available_bytes") or 0
        pools.append(
            {
                **pool,
                "capacity": _iec(capacity),
                "free": _iec(available),
                "used_percent": _percent(capacity - available, capacity),
            }
        )
    return {
        "memory": _mib_label(caps.get("memory_mib")),
        "free_memory": _mib_label(caps.get("free_memory_mib")),
        "pools": pools,
    }


def _amount(value) -> str:
    """A cost rate without trailing zeros: 0.012, not 0.01200."""
    text = format(value.normalize(), "f") if value is not None else "0"
    return text


def platform_costs(platform: Platform) -> list[tuple[str, str]]:
    return [
        ("vCPU-hour", _amount(platform.cost_vcpu_hour)),
        ("GiB RAM-hour", _amount(platform.cost_ram_gib_hour)),
        ("GiB storage-month", _amount(platform.cost_storage_gib_month)),
    ]


# --- platforms ------------------------------------------------------------------------


@login_required
def platform_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    enabled_filter = request.GET.get("enabled", "")
    enabled = {"yes": True, "no": False}.get(enabled_filter)
    platforms = list(selectors.platform_list(search=search, enabled=enabled))
    utilisations = selectors.platform_utilisations(platforms)
    rows = [
        {"platform": p, "uri": redact_uri(p.uri), "util": _utilisation(utilisations[p.pk])}
        for p in platforms
    ]
    return render(
        request,
        "operations_app/platform_list.html",
        {
            "rows": rows,
            "search": search,
            "enabled_filter": enabled_filter if enabled is not None else "",
            "filtered": bool(search or enabled is not None),
            "can_operate": _can_operate(request.user),
        },
    )


@login_required
def platform_detail(request: HttpRequest, name: str) -> HttpResponse:
    platform = _platform_or_404(name)
    caps = platform.capabilities or {}
    effective = selectors.platform_effective_capabilities(platform)
    vms = _with_latest_sample(selectors.vm_list(platform=platform.name))
    return render(
        request,
        "operations_app/platform_detail.html",
        {
            "platform": platform,
            "uri": redact_uri(platform.uri),
            "migration_uri": redact_uri(platform.migration_uri) if platform.migration_uri else "",
            "caps": caps,
            "sizes": capability_sizes(caps),
            "effective": effective,
            "constraint_rows": constraint_effect(caps, platform.constraints or {}, effective)
            if caps
            else [],
            "costs": platform_costs(platform),
            "declared": declared_constraints(platform.constraints or {}),
            "vlans": sorted(
                (platform.vlan_networks or {}).items(),
                key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0,
            ),
            "vms": list(vms),
            "util": _utilisation(selectors.platform_utilisation(platform=platform)),
            "can_operate": _can_operate(request.user),
        },
    )


def constraint_help() -> list[tuple[str, str]]:
    """(key, what it takes) for each constraint, from the constraints' JSON Schema."""
    rows = []
    for key, spec in CONSTRAINTS_SCHEMA["properties"].items():
        if spec.get("type") == "array":
            choices = (spec.get("items") or {}).get("enum")
            meaning = "a list of " + (", ".join(choices) if choices else "names")
        elif spec.get("type") == "integer":
            meaning = f"a whole number of at least {spec.get('minimum', 0)}"
        else:
            meaning = "text: why these rules exist"
        rows.append((key, meaning))
    return rows


def _render_form(request, form: PlatformForm, *, platform: Platform | None = None, status=200):
    return render(
        request,
        "operations_app/platform_form.html",
        {
            "form": form,
            "platform": platform,
            "title": f"Edit {platform.name}" if platform else "Add platform",
            "constraint_help": constraint_help(),
        },
        status=status,
    )


@login_required
def platform_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PlatformForm(request.POST)
        if form.is_valid():
            try:
                require_role(request.user, OPERATORS, "add platforms")
                platform = platform_services.platform_create(
                    user=request.user, name=form.cleaned_data["name"], **form.settings()
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not add the platform: {exc}")
                return _render_form(
                    request, form, status=403 if isinstance(exc, NotPermitted) else 400
                )
            else:
                messages.success(
                    request,
                    f"Platform {platform.name} added. Refresh its capabilities to check that it is reachable.",
                )
                return redirect(platform)
        return _render_form(request, form, status=400)
    if not _can_operate(request.user):
        messages.warning(request, "Adding platforms needs the 'operators' role.")
        return redirect("operations:platforms")
    return _render_form(request, PlatformForm())


@login_required
def platform_edit(request: HttpRequest, name: str) -> HttpResponse:
    platform = _platform_or_404(name)
    if request.method == "POST":
        form = PlatformForm(request.POST, platform=platform)
        if form.is_valid():
            changed = form.changed_settings()
            try:
                require_role(request.user, OPERATORS, "change platforms")
                if changed:
                    platform = platform_services.platform_update(
                        user=request.user, platform=platform, **changed
                    )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not save {platform.name}: {exc}")
                return _render_form(
                    request,
                    form,
                    platform=platform,
                    status=403 if isinstance(exc, NotPermitted) else 400,
                )
            else:
                if changed:
                    names = ", ".join(str(form.fields[k].label or k) for k in changed)
                    messages.success(request, f"Platform {platform.name} saved ({names}).")
                else:
                    messages.info(request, f"Nothing changed on {platform.name}.")
                return redirect(platform)
        return _render_form(request, form, platform=platform, status=400)
    if not _can_operate(request.user):
        messages.warning(request, "Changing platforms needs the 'operators' role.")
        return redirect(platform)
    return _render_form(request, PlatformForm(platform=platform), platform=platform)


@login_required
@require_POST
def platform_refresh(request: HttpRequest, name: str) -> HttpResponse:
    platform = _platform_or_404(name)
    try:
        platform = platform_services.platform_refresh(platform=platform, user=request.user)
    except NotPermitted as exc:
        messages.error(request, str(exc))
        return redirect(_next_url(request, platform))
    if platform.status == "ok":
        messages.success(request, f"{platform.name}: capabilities refreshed.")
    else:
        messages.error(request, f"{platform.name} is unreachable: {platform.last_error}")
    return redirect(_next_url(request, platform))


@login_required
@require_POST
def platform_sync(request: HttpRequest, name: str) -> HttpResponse:
    platform = _platform_or_404(name)
    try:
        result = inventory_services.inventory_sync(platform=platform, user=request.user)
    except NotPermitted as exc:
        messages.error(request, str(exc))
        return redirect(_next_url(request, platform))
    if result.reachable:
        parts = [f"{result.seen} domain{'s' if result.seen != 1 else ''}"]
        if result.added:
            parts.append("new: " + ", ".join(result.added))
        if result.gone:
            parts.append("gone: " + ", ".join(result.gone))
        if result.held:
            parts.append("left to the jobs working on them: " + ", ".join(result.held))
        messages.success(request, f"{platform.name}: inventory synced; " + "; ".join(parts) + ".")
    else:
        messages.error(request, f"{platform.name} is unreachable: {result.error}")
    return redirect(_next_url(request, platform))


def _next_url(request: HttpRequest, platform: Platform) -> str:
    """Back to the platform list when the button was pressed there, else to the platform."""
    if request.POST.get("next") == "list":
        return "operations:platforms"
    return platform.get_absolute_url()


# --- VMs ------------------------------------------------------------------------------


MANAGED_FILTERS = {"managed": True, "unmanaged": False}


@login_required
def vm_list(request: HttpRequest) -> HttpResponse:
    platform = request.GET.get("platform", "").strip()
    state = request.GET.get("state", "")
    if state not in VMState.values:
        state = ""
    managed_filter = request.GET.get("managed", "")
    managed = MANAGED_FILTERS.get(managed_filter)
    search = request.GET.get("q", "").strip()
    vms = _with_latest_sample(
        selectors.vm_list(platform=platform, state=state, managed=managed, search=search)
    )
    page = Paginator(vms, VMS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "operations_app/vm_list.html",
        {
            "page": page,
            "vms": page.object_list,
            "platform": platform,
            "state": state,
            "managed": managed_filter if managed is not None else "",
            "search": search,
            "query": query.urlencode(),
            "platform_choices": list(
                Platform.objects.order_by("name").values_list("name", flat=True)
            ),
            "state_choices": VMState.choices,
            "filtered": bool(platform or state or managed is not None or search),
        },
    )


def _iec(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{text} {unit}{suffix}"
        value /= 1024
    return "—"  # pragma: no cover - the loop always returns


def _rates(samples: list[VMMetricSample], attr: str) -> list[float | None]:
    """Bytes per second between consecutive samples of a cumulative counter.

    The first sample has no rate; a counter that went down (the domain restarted) has none.
    """
    rates: list[float | None] = [None] if samples else []
    for prev, cur in pairwise(samples):
        seconds = (cur.at - prev.at).total_seconds()
        delta = getattr(cur, attr) - getattr(prev, attr)
        rates.append(delta / seconds if seconds > 0 and delta >= 0 else None)
    return rates


@dataclass
class ChartSeries:
    label: str
    css: str
    segments: list[str]
    dots: list[str]
    latest: str


CHART_W, CHART_H = 300.0, 80.0


def _chart(
    title: str,
    times: list[datetime],
    series: list[tuple[str, str, list[float | None]]],
    *,
    fmt,
    ymax: float | None = None,
) -> dict[str, Any]:
    """An SVG line chart's geometry: polyline point lists in a 300x80 box, gaps left open."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    top = ymax if ymax else (max(values) if values else 0)
    if not top or top <= 0:
        top = 1.0
    if len(times) > 1:
        t0, span = times[0], (times[-1] - times[0]).total_seconds() or 1.0
        xs = [CHART_W * (t - t0).total_seconds() / span for t in times]
    else:
        xs = [CHART_W] * len(times)
    out = []
    for label, css, vs in series:
        segments: list[str] = []
        dots: list[str] = []
        run: list[str] = []
        for x, v in zip(xs, vs, strict=True):
            if v is None:
                if run:
                    (segments if len(run) > 1 else dots).append(" ".join(run))
                run = []
                continue
            y = CHART_H - CHART_H * min(max(v, 0.0), top) / top
            run.append(f"{x:.1f},{y:.1f}")
        if run:
            (segments if len(run) > 1 else dots).append(" ".join(run))
        latest = next((v for v in reversed(vs) if v is not None), None)
        out.append(ChartSeries(label, css, segments, [f"{d} {d}" for d in dots], fmt(latest)))
    return {
        "title": title,
        "series": out,
        "top": fmt(top if values or ymax else None),
        "start": times[0] if times else None,
        "end": times[-1] if times else None,
        "empty": not values,
        "w": int(CHART_W),
        "h": int(CHART_H),
        "mid": CHART_H / 2,
    }


def _percent_label(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _mib_label(value: float | None) -> str:
    return "—" if value is None else _iec(value * 1024 * 1024)


def _rate_label(value: float | None) -> str:
    return _iec(value, "/s")


def vm_charts(vm: ManagedVM, samples: list[VMMetricSample]) -> list[dict[str, Any]]:
    times = [s.at for s in samples]
    totals = [s.memory_total_mib for s in samples if s.memory_total_mib]
    memory_top = max(totals) if totals else (vm.memory_mib or None)
    return [
        _chart(
            "CPU",
            times,
            [("CPU", "s-cpu", [s.cpu_percent for s in samples])],
            fmt=_percent_label,
            ymax=100.0,
        ),
        _chart(
            "Memory used",
            times,
            [("used", "s-mem", [s.memory_used_mib for s in samples])],
            fmt=_mib_label,
            ymax=memory_top,
        ),
        _chart(
            "Disk",
            times,
            [
                ("read", "s-read", _rates(samples, "disk_read_bytes")),
                ("write", "s-write", _rates(samples, "disk_write_bytes")),
            ],
            fmt=_rate_label,
        ),
        _chart(
            "Network",
            times,
            [
                ("rx", "s-rx", _rates(samples, "net_rx_bytes")),
                ("tx", "s-tx", _rates(samples, "net_tx_bytes")),
            ],
            fmt=_rate_label,
        ),
    ]


def sample_rows(samples: list[VMMetricSample], count: int) -> list[dict[str, Any]]:
    """The newest ``count`` samples, newest first, with their rates."""
    rates = {
        attr: _rates(samples, attr)
        for attr in ("disk_read_bytes", "disk_write_bytes", "net_rx_bytes", "net_tx_bytes")
    }
    rows = []
    for index in range(len(samples) - 1, max(len(samples) - count, 0) - 1, -1):
        s = samples[index]
        rows.append(
            {
                "at": s.at,
                "cpu": _percent_label(s.cpu_percent),
                "memory": _mib_label(s.memory_used_mib),
                "memory_total": _mib_label(s.memory_total_mib) if s.memory_total_mib else "",
                "disk_read": _rate_label(rates["disk_read_bytes"][index]),
                "disk_write": _rate_label(rates["disk_write_bytes"][index]),
                "net_rx": _rate_label(rates["net_rx_bytes"][index]),
                "net_tx": _rate_label(rates["net_tx_bytes"][index]),
            }
        )
    return rows


@login_required
def vm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        vm = ManagedVM.objects.select_related("platform", "profile_version__policy").get(pk=pk)
    except ManagedVM.DoesNotExist as exc:
        raise Http404(f"No VM {pk} in the inventory.") from exc
    return vm_page(request, vm)


def vm_page(
    request: HttpRequest,
    vm: ManagedVM,
    *,
    snapshot_form: SnapshotForm | None = None,
    snapshot_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The VM page. The snapshot views render it again, with the refused form or the
    refusal (and its status), so an error shows where the button was."""
    try:
        limit = max(2, min(int(request.GET.get("limit", CHART_SAMPLES)), MAX_CHART_SAMPLES))
    except ValueError:
        limit = CHART_SAMPLES
    samples = selectors.vm_metrics(vm=vm, limit=limit)
    can_migrate = _can_operate(request.user) and vm_migratable(vm)
    can_snapshot = _can_operate(request.user) and vm_snapshottable(vm)
    return render(
        request,
        "operations_app/vm_detail.html",
        {
            "can_migrate": can_migrate,
            "migration_targets": list(
                Platform.objects.filter(enabled=True).exclude(pk=vm.platform_id).order_by("name")
            )
            if can_migrate
            else [],
            "vm": vm,
            "platform": vm.platform,
            "samples": samples,
            "latest": samples[-1] if samples else None,
            "charts": vm_charts(vm, samples),
            "rows": sample_rows(samples, TABLE_SAMPLES),
            "limit": limit,
            "snapshots": snapshot_panel(
                vm,
                snapshot_services.vm_snapshots(vm=vm, include_removed=True),
                can_snapshot=can_snapshot,
                retention=settings.VMPERSONA_SNAPSHOT_RETENTION,
            ),
            "snapshot_form": snapshot_form or SnapshotForm(),
            "snapshot_errors": snapshot_errors or [],
        },
        status=status,
    )


# --- base images ----------------------------------------------------------------------


@login_required
def image_list(request: HttpRequest) -> HttpResponse:
    platforms = list(Platform.objects.order_by("name").values_list("name", flat=True))
    rows = []
    for image in selectors.base_image_list():
        locations = list(image.locations.all())  # type: ignore[attr-defined]
        present = {loc.platform.name for loc in locations}
        rows.append(
            {
                "image": image,
                "size": _iec(image.virtual_size_bytes) if image.virtual_size_bytes else "",
                "locations": sorted(locations, key=lambda loc: loc.platform.name),
                "missing": [name for name in platforms if name not in present],
            }
        )
    return render(request, "operations_app/image_list.html", {"rows": rows})
