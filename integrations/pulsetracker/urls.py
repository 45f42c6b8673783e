from django.urls import path

from integrations.pulsetracker import views, views_devices, views_geofences, webhooks

urlpatterns = [
    path("apps/", views.apps_home, name="apps"),
    path("apps/<int:cid>/", views.app_list, name="app-list"),
    path("apps/<int:cid>/create/", views.app_create, name="app-create"),
    path("apps/<int:cid>/<slug:key>/", views.app_detail, name="app-detail"),
    path("apps/<int:cid>/<slug:key>/rename/", views.app_rename, name="app-rename"),
    path("apps/<int:cid>/<slug:key>/devices/", views_devices.device_list, name="device-list"),
    path(
        "apps/<int:cid>/<slug:key>/devices/new/",
        views_devices.device_create,
        name="device-create",
    ),
    path(
        "apps/<int:cid>/<slug:key>/positions/",
        views_devices.device_positions,
        name="device-positions",
    ),
    path(
        "apps/<int:cid>/<slug:key>/devices/<slug:device>/",
        views_devices.device_detail,
        name="device-detail",
    ),
    path(
        "apps/<int:cid>/<slug:key>/devices/<slug:device>/rename/",
        views_devices.device_rename,
        name="device-rename",
    ),
    path("apps/<int:cid>/<slug:key>/geofences/", views_geofences.geofence_list, name="geofences"),
    path(
        "apps/<int:cid>/<slug:key>/geofences/new/",
        views_geofences.geofence_create,
        name="geofence-create",
    ),
    path(
        "apps/<int:cid>/<slug:key>/geofences/<int:gid>/",
        views_geofences.geofence_edit,
        name="geofence-edit",
    ),
    path(
        "apps/<int:cid>/<slug:key>/geofences/app-id/",
        views_geofences.geofence_app_id,
        name="geofence-app-id",
    ),
    path(
        "apps/<int:cid>/<slug:key>/geofences/secret/",
        views_geofences.geofence_secret,
        name="geofence-secret",
    ),
    # Pulsetracker posts geofence events here, signed (the one view without CSRF protection).
    # Each geofence's own address (its id, or a slot the create form handed out); the app-wide
    # address above it still takes the events of geofences that were given it.
    path("hooks/pulsetracker/<slug:hook>/", webhooks.receive, name="geofence-webhook"),
    path(
        "hooks/pulsetracker/<slug:hook>/<slug:slot>/",
        webhooks.receive,
        name="geofence-webhook-slot",
    ),
]
