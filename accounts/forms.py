"""Forms for people and teams."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.contrib import messages
from django.http import HttpRequest

from accounts.access import SESSION_TEAM_KEY, create_team
from accounts.models import Invitation, User
from accounts.team import join_by_invitation


class SignupForm(AllauthSignupForm):
    """allauth's sign-up (email and password) plus a name and, unless joining by invitation, the
    person's first team, which they will own."""

    name = forms.CharField(max_length=150, required=False, help_text="How teammates see you.")
    team_name = forms.CharField(
        max_length=100, required=False, help_text="Your first team; you can rename it later."
    )

    def __init__(self, *args: Any, invitation: Invitation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email address"
        self.invitation = invitation
        if invitation is not None:
            # Joining through an invitation: the invited address, and the inviting team.
            self.fields["email"].initial = invitation.email
            self.fields["email"].help_text = f"The address {invitation.team} invited."
            del self.fields["team_name"]

    def clean_email(self) -> str:
        email: str = super().clean_email()
        if self.invitation is not None and email != self.invitation.email:
            raise forms.ValidationError(
                f"This invitation is for {self.invitation.email}; sign up with that address."
            )
        return email

    def save(self, request: HttpRequest) -> User:
        user: User = super().save(request)
        user.name = self.cleaned_data.get("name", "").strip()
        user.save(update_fields=["name"])
        if self.invitation is not None:
            join_by_invitation(request, self.invitation, user)
        else:
            team_name = self.cleaned_data.get("team_name", "").strip() or f"{user}'s team"
            membership = create_team(user, team_name)
            request.session[SESSION_TEAM_KEY] = membership.team_id
            messages.success(request, f"Welcome! You own the team “{team_name}”.")
        return user


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A team needs a name.")
        return name
