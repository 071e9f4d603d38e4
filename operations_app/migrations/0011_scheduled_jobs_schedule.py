from django.db import migrations

NAME = "Start scheduled jobs whose window or time has come"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "operations_app.tasks.start_scheduled_jobs",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("operations_app", "0010_scheduled_jobs")]

    operations = [migrations.RunPython(create, remove)]
