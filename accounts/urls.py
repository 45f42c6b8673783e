from django.urls import path

from accounts import views, views_activity, views_team

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password-changed"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("team/members/", views_team.members, name="members"),
    path("team/invite/", views_team.invite, name="invite"),
    path(
        "team/invitations/<int:pk>/revoke/", views_team.invitation_revoke, name="invitation-revoke"
    ),
    path("team/members/<int:pk>/role/", views_team.member_role, name="member-role"),
    path("team/members/<int:pk>/remove/", views_team.member_remove, name="member-remove"),
    path("team/leave/", views_team.leave, name="leave"),
    path("invitations/<str:secret>/", views_team.invitation, name="invitation"),
    path("activity/", views_activity.activity_list, name="activity"),
    path("activity.csv", views_activity.activity_csv, name="activity-csv"),
]
