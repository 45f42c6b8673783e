"""The credentials pages, then each upstream's own pages (one `urls.py` per service package)."""

from django.urls import include, path

from integrations import views, views_alerts

urlpatterns = [
    path("credentials/", views.credential_list, name="credentials"),
    path("credentials/link/", views.credential_link, name="credential-link"),
    path("credentials/<int:pk>/check/", views.credential_check, name="credential-check"),
    path("credentials/<int:pk>/replace/", views.credential_replace, name="credential-replace"),
    path("credentials/<int:pk>/unlink/", views.credential_unlink, name="credential-unlink"),
    path("alerts/", views_alerts.alerts_page, name="alerts"),
    path("alerts/settings/", views_alerts.watch_settings, name="alert-settings"),
    path("alerts/channels/", views_alerts.channel_add, name="alert-channel-add"),
    path("alerts/channels/<int:pk>/test/", views_alerts.channel_test, name="alert-channel-test"),
    path(
        "alerts/channels/<int:pk>/remove/", views_alerts.channel_remove, name="alert-channel-remove"
    ),
    path("", include("integrations.pulsetracker.urls")),
    path("", include("integrations.pulsoid.urls")),
]
