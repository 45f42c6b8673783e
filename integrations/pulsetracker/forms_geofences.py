"""Forms of the geofence pages (views_geofences.py)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import forms

from integrations.pulsetracker.client import NAME_MAX_LENGTH, Polygon, polygon_from


class GeofenceForm(forms.Form):
    """A geofence as the portal sends it: a name, a polygon (GeoJSON, drawn on the map or
    pasted) and where Pulsetracker should post its events."""

    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=True,
        error_messages={
            "required": "Give the geofence a name.",
            "max_length": "Keep the name to %(limit_value)d characters (it has %(show_value)d).",
        },
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=2000,
        help_text="Where Pulsetracker posts “inside” and “outside” events; empty for none.",
    )
    geometry = forms.CharField(
        label="Polygon (GeoJSON)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Click the map to add corners, or paste a GeoJSON Polygon "
        "(coordinates as [longitude, latitude]).",
        error_messages={"required": "Draw the geofence on the map or paste its GeoJSON."},
    )
    submission = forms.CharField(required=False, widget=forms.HiddenInput)
    # The create form's receiving address for this geofence (views_geofences.NEW_SLOT).
    slot = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def clean_webhook_url(self) -> str:
        """An http(s) address with a host. Not Django's URLValidator: it refuses host names
        without a dot, which a portal on an internal network may well have."""
        url = self.cleaned_data["webhook_url"].strip()
        if not url:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise forms.ValidationError("Enter a whole web address, starting with https://.")
        return url

    def clean_geometry(self) -> Polygon:
        text = self.cleaned_data["geometry"]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"That is not valid JSON ({exc.msg}).") from None
        try:
            return polygon_from(data)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class AppIdForm(forms.Form):
    """The app's numeric id, as the vendor's dashboard shows it."""

    app_id = forms.IntegerField(
        label="Pulsetracker app id",
        min_value=1,
        error_messages={
            "required": "Enter the app's numeric id.",
            "invalid": "The app id is a whole number.",
            "min_value": "The app id is a whole number from 1.",
        },
    )


class WebhookSecretForm(forms.Form):
    """The account's webhook secret: taken once, never shown again (the input is never filled)."""

    secret = forms.CharField(
        label="Webhook secret",
        min_length=8,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        error_messages={
            "required": "Paste the webhook secret.",
            "min_length": "That is too short for a webhook secret.",
        },
    )
