"""Forms of the Pulsetracker pages."""

from __future__ import annotations

from django import forms

from integrations.pulsetracker.client import NAME_MAX_LENGTH


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
