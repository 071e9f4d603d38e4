from django.db import migrations

SCHEDULES = [
    # func, minutes, name
    ("operations_app.tasks.sync_all_platforms", 1, "Sync inventory and metrics of every platform"),
    ("operations_app.tasks.refresh_all_capabilities", 60, "Refresh platform capabilities"),
    ("operations_app.tasks.prune_metrics", 1440, "Prune old metric samples"),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for func, minutes, name in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1}
        )


def remove(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[s[2] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations_app", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
