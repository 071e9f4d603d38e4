from django.conf import settings


def navigation(request):
    user = getattr(request, "user", None)
    roles: list[str] = []
    if user is not None and user.is_authenticated:
        roles = sorted(user.groups.values_list("name", flat=True))
    return {"user_roles": roles, "product_name": "VM Persona", "debug": settings.DEBUG}
