from django.apps import AppConfig


class OperationsAppConfig(AppConfig):
    name = "operations_app"
    verbose_name = "Operations"

    def ready(self) -> None:
        # The runners register their rollbacks with the reaper.
        import operations_app.runners  # noqa: F401
