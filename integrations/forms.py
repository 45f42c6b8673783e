"""Forms for linking upstream credentials. The token field never renders its value back."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Credential, Service, Team
from integrations.pulsetracker import NAME_MAX_LENGTH

TOKEN_WIDGET = forms.PasswordInput(
    render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
)


class LinkCredentialForm(forms.Form):
    service = forms.ChoiceField(choices=Service.choices)
    label = forms.CharField(
        max_length=80, help_text="How the team will recognise it, e.g. “Production”."
    )
    token = forms.CharField(
        widget=TOKEN_WIDGET,
        max_length=500,
        strip=True,
        help_text="Checked with the upstream before saving, then never shown again.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if not label:
            raise forms.ValidationError("Give the credential a label.")
        return label

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        label, service = cleaned.get("label"), cleaned.get("service")
        if label and service:
            taken = Credential.objects.filter(
                team=self.team, service=service, label__iexact=label
            ).exists()
            if taken:
                kind = Service(service).label
                self.add_error("label", f"This team already has a {kind} credential “{label}”.")
        return cleaned


class ReplaceTokenForm(forms.Form):
    token = forms.CharField(
        widget=TOKEN_WIDGET,
        max_length=500,
        strip=True,
        help_text="The new token is checked first; the old one stays if the new one fails.",
    )


class AppNameForm(forms.Form):
    """An app's name as the portal accepts it: 1 to 255 characters, not only spaces.

    Upstream only requires a name (its column holds 255), so the portal checks both itself
    rather than letting an over-long name reach the database upstream.
    """

    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=False,
        error_messages={
            "required": "Give the app a name.",
            "max_length": "Keep the name to %(limit_value)d characters (it has %(show_value)d).",
        },
    )
    submission = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not name.strip():
            raise forms.ValidationError("Give the app a name (spaces alone do not count).")
        return name.strip()
