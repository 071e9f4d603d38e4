"""The project as an app: cross-cutting signal handlers that belong to no feature."""

from __future__ import annotations

from django.apps import AppConfig


class VmPersonaConfig(AppConfig):
    name = "vmpersona"
    verbose_name = "VM Persona"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from vmpersona.dbfiles import restrict_new_sqlite_connection

        connection_created.connect(
            restrict_new_sqlite_connection, dispatch_uid="vmpersona-sqlite-modes"
        )
