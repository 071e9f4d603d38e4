"""The project as an app: cross-cutting signal handlers that belong to no feature."""

from __future__ import annotations

from django.apps import AppConfig


class VmPersonaConfig(AppConfig):
    name = "vmpersona"
    verbose_name = "VM Persona"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from simple_history.signals import pre_create_historical_record

        from vmpersona.dbfiles import restrict_new_sqlite_connection
        from vmpersona.history import fill_history_user

        connection_created.connect(
            restrict_new_sqlite_connection, dispatch_uid="vmpersona-sqlite-modes"
        )
        # A worker's changes are the person's it acts for (vmpersona.history.acting_for).
        pre_create_historical_record.connect(
            fill_history_user, dispatch_uid="vmpersona-history-acting-for"
        )
