from django.urls import path

from integrations import views_apps, views_credentials, views_widgets

urlpatterns = [
    path("credentials/", views_credentials.credential_list, name="credentials"),
    path("credentials/link/", views_credentials.credential_link, name="credential-link"),
    path(
        "credentials/<int:pk>/check/", views_credentials.credential_check, name="credential-check"
    ),
    path(
        "credentials/<int:pk>/replace/",
        views_credentials.credential_replace,
        name="credential-replace",
    ),
    path(
        "credentials/<int:pk>/unlink/",
        views_credentials.credential_unlink,
        name="credential-unlink",
    ),
    path("apps/", views_apps.apps_home, name="apps"),
    path("apps/<int:cid>/", views_apps.app_list, name="app-list"),
    path("apps/<int:cid>/create/", views_apps.app_create, name="app-create"),
    path("apps/<int:cid>/<slug:key>/", views_apps.app_detail, name="app-detail"),
    path("apps/<int:cid>/<slug:key>/name/", views_apps.app_name, name="app-name"),
    path("apps/<int:cid>/<slug:key>/rename/", views_apps.app_rename_form, name="app-rename-form"),
    path("apps/<int:cid>/<slug:key>/rename/save/", views_apps.app_rename, name="app-rename"),
]

urlpatterns += [
    path("widgets/", views_widgets.widgets_home, name="widgets"),
    path("widgets/<int:cid>/", views_widgets.widget_list, name="widget-list"),
    path("widgets/<int:cid>/new/", views_widgets.widget_create, name="widget-create"),
    path("widgets/<int:cid>/editor/", views_widgets.widget_editor_sync, name="widget-editor"),
    path("widgets/<int:cid>/heart-rate/", views_widgets.heart_rate, name="heart-rate"),
    path("widgets/<int:cid>/<slug:wid>/", views_widgets.widget_edit, name="widget-edit"),
    path("pulsoid/connect/", views_widgets.pulsoid_connect, name="pulsoid-connect"),
    path("pulsoid/callback/", views_widgets.pulsoid_callback, name="pulsoid-callback"),
]
