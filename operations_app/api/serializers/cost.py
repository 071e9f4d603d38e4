"""How the fleet's cost and utilisation read in the API (``presentation.cost``'s
figures): totals per currency, by platform and by profile, with what the open cost
plans would save; every platform's cost and utilisation. Amounts are per month, in the
currency of their group or platform; a platform without rates has ``monthly_cost``
null, never 0."""

from __future__ import annotations

from rest_framework import serializers


class CostQuerySerializer(serializers.Serializer):
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="only the platforms pricing in this ISO 4217 currency",
    )
    label = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="only the platforms whose labels match this selector (`rack=r12,gpu`)",
    )


class _PlatformTotalSerializer(serializers.Serializer):
    name = serializers.CharField()
    vm_count = serializers.IntegerField()
    monthly_cost = serializers.FloatField()


class _ProfileTotalSerializer(serializers.Serializer):
    profile = serializers.CharField(help_text="empty for VMs without a profile")
    vm_count = serializers.IntegerField()
    monthly_cost = serializers.FloatField()


class _PlanRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    policy = serializers.CharField()
    status = serializers.CharField()


class _SavingsSerializer(serializers.Serializer):
    monthly_saving = serializers.FloatField(
        help_text="what the open cost plans' moves not run yet would save a month"
    )
    move_cost = serializers.FloatField(help_text="what those moves cost once")
    payback_days = serializers.FloatField(
        allow_null=True, help_text="days the saving takes to pay for the moves"
    )
    actions = serializers.IntegerField()
    plans = _PlanRefSerializer(many=True)


class CurrencyTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    monthly_cost = serializers.FloatField(help_text="the platforms with rates in this currency")
    vm_count = serializers.IntegerField()
    platforms = _PlatformTotalSerializer(many=True)
    profiles = _ProfileTotalSerializer(many=True)
    savings = _SavingsSerializer()


class _CapacitySerializer(serializers.Serializer):
    committed = serializers.FloatField()
    capacity = serializers.FloatField(help_text="0 until the platform's capabilities are read")
    overcommit = serializers.FloatField()
    limit = serializers.FloatField(help_text="capacity × overcommit")
    percent = serializers.FloatField(allow_null=True, help_text="committed of the capacity")
    limit_percent = serializers.FloatField(allow_null=True, help_text="committed of the limit")


class _InUseSerializer(serializers.Serializer):
    used = serializers.FloatField()
    capacity = serializers.FloatField()
    percent = serializers.FloatField(allow_null=True)


class _UtilisationSerializer(serializers.Serializer):
    probed = serializers.BooleanField()
    vcpus = _CapacitySerializer()
    memory_mib = _CapacitySerializer()
    storage_bytes = _CapacitySerializer()
    cpu_in_use_cores = _InUseSerializer(help_text="the recent samples' average")
    memory_in_use_mib = _InUseSerializer()
    sampled_vms = serializers.IntegerField()


class PlatformCostSerializer(serializers.Serializer):
    name = serializers.CharField()
    currency = serializers.CharField()
    rates_set = serializers.BooleanField()
    rates = serializers.DictField(child=serializers.FloatField())
    monthly_cost = serializers.FloatField(allow_null=True, help_text="null without rates")
    vm_count = serializers.IntegerField()
    running_count = serializers.IntegerField()
    utilisation = _UtilisationSerializer()


class _NotCountedSerializer(serializers.Serializer):
    plan = serializers.IntegerField()
    vm = serializers.CharField()
    source = serializers.CharField()
    target = serializers.CharField()
    reason = serializers.CharField()


class _FiltersSerializer(serializers.Serializer):
    currency = serializers.CharField()
    label = serializers.CharField()


class CostSerializer(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    filters = _FiltersSerializer()
    currencies = serializers.ListField(child=serializers.CharField())
    sample_minutes = serializers.IntegerField()
    vm_count = serializers.IntegerField()
    running_count = serializers.IntegerField()
    totals = CurrencyTotalSerializer(many=True, help_text="one entry per currency, never added")
    platforms = PlatformCostSerializer(many=True)
    unrated_platforms = serializers.ListField(
        child=serializers.CharField(), help_text="platforms without rates: not in the totals"
    )
    not_counted = _NotCountedSerializer(
        many=True, help_text="open plan moves between currencies, whose saving is not counted"
    )
