"""Record everyone who wrote a version's content (``PolicyVersion.authors``); existing
versions start with their author."""

from django.conf import settings
from django.db import migrations, models


def authors_from_author(apps, schema_editor):
    PolicyVersion = apps.get_model("profiles_app", "PolicyVersion")
    Through = PolicyVersion.authors.through
    Through.objects.bulk_create(
        [
            Through(policyversion_id=pk, user_id=author_id)
            for pk, author_id in PolicyVersion.objects.values_list("pk", "author_id")
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles_app", "0002_role_groups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="policyversion",
            name="authors",
            field=models.ManyToManyField(
                blank=True,
                help_text="Who wrote its content.",
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(authors_from_author, migrations.RunPython.noop),
    ]
