"""Forms of the Pulsetracker pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from integrations.pulsetracker.client import NAME_MAX_LENGTH, DeviceType


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


class DeviceNameForm(forms.Form):
    """A device's name: 1 to 255 characters, not only spaces (upstream only requires one)."""

    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=False,
        error_messages={
            "required": "Give the device a name.",
            "max_length": "Keep the name to %(limit_value)d characters (it has %(show_value)d).",
        },
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not name.strip():
            raise forms.ValidationError("Give the device a name (spaces alone do not count).")
        return name.strip()


class DeviceForm(DeviceNameForm):
    """A new device: its name and one of the upstream's device types (read from it, since the
    ids differ between installations)."""

    type_id = forms.TypedChoiceField(
        label="Type",
        coerce=int,
        error_messages={
            "required": "Choose the device's type.",
            "invalid_choice": "Choose one of Pulsetracker's device types.",
        },
    )
    submission = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, types: Sequence[DeviceType] = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "new-device-%s")  # apart from the page's other forms
        super().__init__(*args, **kwargs)
        field = self.fields["type_id"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Choose a type…"), *((t.id, t.name) for t in types)]
