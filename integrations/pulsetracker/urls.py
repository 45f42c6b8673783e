from django.urls import path

from integrations.pulsetracker import views, webhooks

urlpatterns = [
    path("apps/", views.apps_home, name="apps"),
    path("apps/<int:cid>/", views.app_list, name="app-list"),
    path("apps/<int:cid>/create/", views.app_create, name="app-create"),
    path("apps/<int:cid>/<slug:key>/", views.app_detail, name="app-detail"),
    path("apps/<int:cid>/<slug:key>/rename/", views.app_rename, name="app-rename"),
    # Pulsetracker posts geofence events here, signed (the one view without CSRF protection).
    path("hooks/pulsetracker/<slug:hook>/", webhooks.receive, name="geofence-webhook"),
]
