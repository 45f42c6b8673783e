from django.urls import path

from accounts import views, views_activity, views_team, views_tokens

app_name = "accounts"

urlpatterns = [
    # Sign-up and log-in are allauth's views fitted to invitations; they stand before
    # `allauth.urls` (portal/urls.py) at the same paths. The other account pages are allauth's.
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
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
    path("team/policy/", views_team.team_policy, name="team-policy"),
    path("sessions/<int:pk>/end/", views.session_end, name="session-end"),
    path("invitations/<str:secret>/", views_team.invitation, name="invitation"),
    path("tokens/", views_tokens.tokens, name="tokens"),
    path("tokens/new/", views_tokens.token_create, name="token-create"),
    path("tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="token-revoke"),
    path("activity/", views_activity.activity_list, name="activity"),
    path("activity.csv", views_activity.activity_csv, name="activity-csv"),
]
