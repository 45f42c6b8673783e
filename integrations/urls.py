from django.urls import path

from integrations import views_credentials

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
    path("activity/", views_credentials.activity_list, name="activity"),
]
