"""Top-level URL map of the portal."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from integrations.api import api
from portal import observability, views

# Operators log in to the admin through the portal's log-in (allauth's throttling and second
# factor) instead of the admin's own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("integrations.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", observability.metrics, name="metrics"),
]
