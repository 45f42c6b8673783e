from django.urls import path

from integrations.pulsoid import views

urlpatterns = [
    path("widgets/", views.widgets_home, name="widgets"),
    path("widgets/<int:cid>/", views.widget_list, name="widget-list"),
    path("widgets/<int:cid>/new/", views.widget_create, name="widget-create"),
    path("widgets/<int:cid>/heart-rate/", views.heart_rate, name="heart-rate"),
    path("widgets/<int:cid>/<slug:wid>/", views.widget_edit, name="widget-edit"),
    path("pulsoid/connect/", views.pulsoid_connect, name="pulsoid-connect"),
    path("pulsoid/callback/", views.pulsoid_callback, name="pulsoid-callback"),
]
