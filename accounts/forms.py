"""Forms for people and teams."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import Invitation, User


class SignupForm(UserCreationForm):
    name = forms.CharField(max_length=150, required=False, help_text="How teammates see you.")
    team_name = forms.CharField(
        max_length=100, required=False, help_text="Your first team; you can rename it later."
    )

    class Meta:
        model = User
        fields = ("email", "name")

    def __init__(self, *args: Any, invitation: Invitation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        if invitation is not None:
            # Joining through an invitation: the invited address, and the inviting team.
            self.fields["email"].initial = invitation.email
            self.fields["email"].help_text = f"The address {invitation.team} invited."
            del self.fields["team_name"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "Someone already signed up with that email; log in instead."
            )
        if self.invitation is not None and email != self.invitation.email:
            raise forms.ValidationError(
                f"This invitation is for {self.invitation.email}; sign up with that address."
            )
        return email


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A team needs a name.")
        return name
