from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from profiles_app.models import PolicyKind
from profiles_app.urls import kind_urls
from vmpersona import views

# The interactive docs need a login (a browser is sent to the login page) unless
# VMPERSONA_PUBLIC_API_DOCS=1; the schema itself answers 401/403 (SPECTACULAR_SETTINGS
# SERVE_PERMISSIONS). Its inline script carries the CSP nonce
# (templates/drf_spectacular/swagger_ui.html).
api_docs = SpectacularSwaggerView.as_view(url_name="api-schema")
if not settings.VMPERSONA_PUBLIC_API_DOCS:
    api_docs = login_required(api_docs)

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/me/", include("vmpersona.accounts.urls")),
    path("admin/", admin.site.urls),
    kind_urls(PolicyKind.VPPD),  # /profiles/
    kind_urls(PolicyKind.SCHEDULING),  # /policies/
    path("ops/", include("operations_app.urls")),
    path("api/v1/", include("vmpersona.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
]

handler404 = "vmpersona.views.not_found"
handler500 = "vmpersona.views.server_error"
