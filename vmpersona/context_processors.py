from django.conf import settings
from django.utils.functional import SimpleLazyObject

NOTIFICATIONS_IN_MENU = 10


def navigation(request):
    user = getattr(request, "user", None)
    roles: list[str] = []
    if user is not None and user.is_authenticated:
        roles = sorted(user.groups.values_list("name", flat=True))
    return {
        "user_roles": roles,
        "product_name": "VM Persona",
        "debug": settings.DEBUG,
        **notifications(request),
    }


def notifications(request):
    """The bell menu: unread count and the newest notifications.

    Lazy, so a page that does not show the menu costs nothing; one that does costs two
    queries however many notifications there are.
    """
    user = getattr(request, "user", None)

    def inbox():
        from operations_app.selectors.notifications import notification_inbox

        return notification_inbox(user=user, limit=NOTIFICATIONS_IN_MENU)

    return {"notification_inbox": SimpleLazyObject(inbox)}
