from django.apps import AppConfig


class OperationsAppConfig(AppConfig):
    name = "operations_app"
    verbose_name = "Operations"

    def ready(self) -> None:
        # The runners register their rollbacks with the reaper.
        import operations_app.runners  # noqa: F401
        from operations_app.services.review_notices import version_reviewed_notify
        from profiles_app.signals import version_reviewed

        # Reviews of profile and policy versions reach the bell, email and webhook.
        version_reviewed.connect(version_reviewed_notify, dispatch_uid="operations-review-notices")
