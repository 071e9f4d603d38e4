"""DRF's ``authtoken_token`` table kept API tokens in clear; tokens are now knox's
(hashed, expiring). An installation upgraded from before keeps that table, with every
old token readable, unless it is dropped: this drops it when it exists."""

from django.db import migrations

OLD_TABLE = "authtoken_token"


def drop_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if OLD_TABLE in tables:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(OLD_TABLE)}")
        # Forget DRF's migrations, so adding the app back one day starts clean.
        cursor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunPython(drop_drf_tokens, migrations.RunPython.noop)]
