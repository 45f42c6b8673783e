"""Forms for linking upstream credentials. The token field never renders its value back."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Team
from integrations.models import Credential, Service

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
        cleaned = super().clean() or {}
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
