"""The platform form: add a platform, or change its settings.

It turns what the browser sent into the values the services take (a list of network
names, a VLAN mapping, a constraints object) and puts the services' errors next to the
field they name. The rules about what a platform may hold live in the services.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from operations_app.forms.base import labelled_error
from operations_app.models import KvmPolicy, Platform
from operations_app.presentation.platforms import vlan_rows
from vmpersona.errors import error_list


def _model_field(name: str):
    return Platform._meta.get_field(name)


def _max_length(name: str) -> int | None:
    return _model_field(name).max_length


def constraints_text(constraints: dict | None) -> str:
    """Constraints as JSON with one key per line, short lists kept on their line."""
    if not constraints:
        return ""
    lines = [
        f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in constraints.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}"


class PlatformForm(forms.Form):
    """Every editable setting of a platform; ``name`` only when the platform is new."""

    name = forms.CharField(
        max_length=_max_length("name"),
        help_text="Lowercase letters, digits and dashes; it cannot be changed later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "host-a"}),
    )
    uri = forms.CharField(
        label="URI",
        max_length=_max_length("uri"),
        help_text=_model_field("uri").help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "qemu:///system"}),
    )
    migration_uri = forms.CharField(
        label="Migration URI",
        required=False,
        max_length=_max_length("migration_uri"),
        help_text=_model_field("migration_uri").help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    site = forms.CharField(required=False, max_length=_max_length("site"))
    region = forms.CharField(required=False, max_length=_max_length("region"))
    enabled = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Disabled platforms are skipped by periodic refresh and inventory sync.",
    )
    storage_pool = forms.CharField(
        label="Storage pool",
        max_length=_max_length("storage_pool"),
        initial="default",
        help_text=_model_field("storage_pool").help_text,
    )
    networks = forms.CharField(
        required=False,
        help_text="libvirt networks VMs may join, separated by commas.",
        widget=forms.TextInput(attrs={"placeholder": "default, persona-isolated"}),
    )
    vlan_networks = forms.CharField(
        label="VLAN mapping",
        required=False,
        help_text="One VLAN per line as VLAN=network, for hosts without Open vSwitch.",
        widget=forms.Textarea(
            attrs={"rows": 3, "class": "mono", "placeholder": "100=persona-vlan-100"}
        ),
    )
    kvm = forms.ChoiceField(label="KVM policy", choices=KvmPolicy.choices, initial=KvmPolicy.AUTO)
    constraints = forms.CharField(
        required=False,
        help_text="Declared constraints on top of what libvirt reports, as a JSON object.",
        widget=forms.Textarea(
            attrs={"rows": 8, "class": "mono", "spellcheck": "false", "placeholder": "{}"}
        ),
    )
    cost_vcpu_hour = forms.DecimalField(
        label="per vCPU-hour", max_digits=10, decimal_places=5, min_value=0, initial=0
    )
    cost_ram_gib_hour = forms.DecimalField(
        label="per GiB RAM-hour", max_digits=10, decimal_places=5, min_value=0, initial=0
    )
    cost_storage_gib_month = forms.DecimalField(
        label="per GiB storage-month", max_digits=10, decimal_places=5, min_value=0, initial=0
    )
    currency = forms.CharField(
        max_length=3,
        initial="EUR",
        help_text="ISO 4217 code",
        widget=forms.TextInput(attrs={"size": 4, "autocomplete": "off"}),
    )

    #: The service settings, in the order the page shows them.
    SETTINGS = (
        "uri",
        "migration_uri",
        "description",
        "site",
        "region",
        "enabled",
        "storage_pool",
        "networks",
        "vlan_networks",
        "kvm",
        "constraints",
        "cost_vcpu_hour",
        "cost_ram_gib_hour",
        "cost_storage_gib_month",
        "currency",
    )

    def __init__(self, *args, platform: Platform | None = None, **kwargs):
        self.platform = platform
        if platform is not None and "initial" not in kwargs and not args:
            kwargs["initial"] = self.initial_for(platform)
        super().__init__(*args, **kwargs)
        if platform is not None:
            del self.fields["name"]
        for name, field in self.fields.items():
            if isinstance(field, forms.DecimalField):
                field.widget = forms.TextInput(attrs={"inputmode": "decimal", "size": 10})
            field.widget.attrs.setdefault("id", f"id_{name}")

    @staticmethod
    def initial_for(platform: Platform) -> dict[str, Any]:
        vlans = vlan_rows(platform.vlan_networks)
        return {
            "uri": platform.uri,
            "migration_uri": platform.migration_uri,
            "description": platform.description,
            "site": platform.site,
            "region": platform.region,
            "enabled": platform.enabled,
            "storage_pool": platform.storage_pool,
            "networks": ", ".join(platform.networks or []),
            "vlan_networks": "\n".join(f"{vlan}={network}" for vlan, network in vlans),
            "kvm": platform.kvm,
            "constraints": constraints_text(platform.constraints),
            "cost_vcpu_hour": platform.cost_vcpu_hour,
            "cost_ram_gib_hour": platform.cost_ram_gib_hour,
            "cost_storage_gib_month": platform.cost_storage_gib_month,
            "currency": platform.currency,
        }

    # --- parsing ----------------------------------------------------------------------

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_uri(self) -> str:
        return self.cleaned_data["uri"].strip()

    def clean_migration_uri(self) -> str:
        return self.cleaned_data["migration_uri"].strip()

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        for validator in _model_field("currency").validators:
            validator(currency)
        return currency

    def clean_networks(self) -> list[str]:
        text = self.cleaned_data["networks"]
        return [part.strip() for part in text.split(",") if part.strip()]

    def clean_vlan_networks(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        problems = []
        for number, line in enumerate(self.cleaned_data["vlan_networks"].splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            vlan, sep, network = (part.strip() for part in line.partition("="))
            if not sep or not vlan or not network:
                problems.append(f"line {number}: write VLAN=network, e.g. 100=persona-vlan-100")
            elif vlan in mapping:
                problems.append(f"line {number}: VLAN {vlan} is mapped twice")
            else:
                mapping[vlan] = network
        if problems:
            raise ValidationError(problems)
        return mapping

    def clean_constraints(self) -> Any:
        text = self.cleaned_data["constraints"].strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"not valid JSON: {exc}") from exc

    def settings(self) -> dict[str, Any]:
        """The cleaned settings as the services take them."""
        return {key: self.cleaned_data[key] for key in self.SETTINGS if key in self.cleaned_data}

    def changed_settings(self) -> dict[str, Any]:
        """Only the settings that differ from the platform's (all of them for a new one)."""
        values = self.settings()
        if self.platform is None:
            return values
        return {k: v for k, v in values.items() if getattr(self.platform, k) != v}

    # --- errors from the services -----------------------------------------------------

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put each error next to the field its path names, with the rest of the path
        (``constraints/disk_buses/0`` shows as ``disk_buses/0: ...`` under Constraints)."""
        for item in error_list(exc):
            path = item["path"] or ""
            field, _, rest = path.partition("/")
            if field in self.fields:
                self.add_error(field, f"{rest}: {item['message']}" if rest else item["message"])
            else:
                self.add_error(None, labelled_error(self, path, item["message"]))

    @property
    def error_count(self) -> int:
        return sum(len(errors) for errors in self.errors.values())
