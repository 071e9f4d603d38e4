from django.urls import path

from vmpersona.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("notifications/", views.notification_preferences, name="notification_preferences"),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/revoke/", views.token_revoke, name="token_revoke"),
    path("tokens/revoke-all/", views.token_revoke_all, name="token_revoke_all"),
]
