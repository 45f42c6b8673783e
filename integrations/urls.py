"""The credentials pages, then each upstream's own pages (one `urls.py` per service package)."""

from django.urls import include, path

from integrations import views

urlpatterns = [
    path("credentials/", views.credential_list, name="credentials"),
    path("credentials/link/", views.credential_link, name="credential-link"),
    path("credentials/<int:pk>/check/", views.credential_check, name="credential-check"),
    path("credentials/<int:pk>/replace/", views.credential_replace, name="credential-replace"),
    path("credentials/<int:pk>/unlink/", views.credential_unlink, name="credential-unlink"),
    path("", include("integrations.pulsetracker.urls")),
    path("", include("integrations.pulsoid.urls")),
]
