"""The BPM widget's configuration as a form, beside its raw JSON.

The form edits the keys the portal knows (heartEnabled, heartColor, font, ranges); the "advanced"
JSON editor holds the whole configuration, including keys the portal does not know, which are
kept untouched. In the browser, static/js/widget-editor.js keeps the two sides in step as the
person types; the server trusts neither and checks the fields on save. Whichever side the person
touched last wins: when the JSON was edited after it was last in step (`synced`), the fields are
read from it, so its colours and zones are checked like typed ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory

MAX_ZONES = 10
ZONES_PREFIX = "zones"
# The colours the editor accepts: `#rgb` or `#rrggbb`, which every overlay and colour picker reads.
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def hex_colour(value: str) -> None:
    if value and not HEX_COLOUR.match(value.strip()):
        raise ValidationError("Use a colour written #rgb or #rrggbb, such as #f36 or #ff3366.")


def long_hex(value: Any) -> str:
    """`value` as `#rrggbb` (what `<input type=color>` takes), or "" when it is not a colour."""
    if not isinstance(value, str) or not HEX_COLOUR.match(value.strip()):
        return ""
    digits = value.strip()[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


class ColourInput(forms.TextInput):
    """A text field for the colour with a colour picker beside it (kept in step by the editor's
    script); the text field is what is sent, so a colour can always be typed."""

    template_name = "pulsoid/colour_input.html"

    def __init__(self, picker_label: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"placeholder": "#ff3366", "spellcheck": "false", **(attrs or {})})
        self.picker_label = picker_label

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["picker_label"] = self.picker_label
        context["widget"]["hex"] = long_hex(value) or "#000000"
        return context


class WidgetForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Shown in Pulsoid's widget list.")
    heart_enabled = forms.BooleanField(required=False, label="Show a heart beside the number")
    heart_color = forms.CharField(
        required=False,
        max_length=40,
        label="Heart colour",
        validators=[hex_colour],
        widget=ColourInput("Pick the heart colour"),
    )
    font = forms.CharField(
        required=False, max_length=80, widget=forms.TextInput(attrs={"placeholder": "Roboto"})
    )
    advanced = forms.CharField(
        required=False,
        label="Configuration (JSON)",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}),
        help_text="The whole configuration Pulsoid stores; keys the form does not show are kept.",
    )
    # The JSON as it was when last in step with the fields: tells whether it was edited since.
    synced = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_advanced(self) -> dict[str, Any]:
        return parse_configuration(self.cleaned_data["advanced"])


class ZoneForm(forms.Form):
    start = forms.IntegerField(label="From (bpm)", min_value=0, max_value=400)
    end = forms.IntegerField(label="To (bpm)", min_value=0, max_value=400)
    color = forms.CharField(
        label="Colour",
        max_length=40,
        validators=[hex_colour],
        widget=ColourInput("Pick the zone's colour"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and start >= end:
            raise ValidationError("A zone's “to” must be above its “from”.")
        return cleaned


ZoneFormSet = formset_factory(ZoneForm, extra=0, max_num=MAX_ZONES, validate_max=True)


def parse_configuration(text: str) -> dict[str, Any]:
    """The JSON editor's text as a configuration object, or a clear error."""
    text = (text or "").strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(value, dict):
        raise ValidationError("The configuration must be a JSON object, written between { and }.")
    return value


def dump(configuration: dict[str, Any]) -> str:
    return json.dumps(configuration, indent=2, ensure_ascii=False)


def _zones(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    ranges = configuration.get("ranges")
    return [z for z in ranges if isinstance(z, dict)] if isinstance(ranges, list) else []


def data_for(name: str, configuration: dict[str, Any]) -> dict[str, str]:
    """Form data showing `configuration`: the fields for known keys and the whole JSON."""
    text = dump(configuration)
    data = {"name": name, "advanced": text, "synced": text}
    if configuration.get("heartEnabled"):
        data["heart_enabled"] = "on"
    for key, field in (("heartColor", "heart_color"), ("font", "font")):
        if isinstance(configuration.get(key), str):
            data[field] = configuration[key]
    zones = _zones(configuration)
    data.update(_management(len(zones)))
    for index, zone in enumerate(zones):
        data[f"{ZONES_PREFIX}-{index}-start"] = str(zone.get("from", ""))
        data[f"{ZONES_PREFIX}-{index}-end"] = str(zone.get("to", ""))
        data[f"{ZONES_PREFIX}-{index}-color"] = str(zone.get("color", ""))
    return data


def _management(total: int) -> dict[str, str]:
    return {
        f"{ZONES_PREFIX}-TOTAL_FORMS": str(total),
        f"{ZONES_PREFIX}-INITIAL_FORMS": "0",
        f"{ZONES_PREFIX}-MIN_NUM_FORMS": "0",
        f"{ZONES_PREFIX}-MAX_NUM_FORMS": str(MAX_ZONES),
    }


def _same_text(a: str, b: str) -> bool:
    """Equal but for line endings (a browser sends a textarea's with CR LF) and outer space."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


class WidgetEditor:
    """The form and its colour zones. Unbound when it shows a configuration, so a fresh form
    shows no errors before anything is typed; bound when posted."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        name: str = "",
        configuration: dict[str, Any] | None = None,
        name_editable: bool = True,
    ) -> None:
        """Bound to posted `data`, or without it unbound and showing `name` and `configuration`."""
        if data is None:
            configuration = configuration if configuration is not None else {"heartEnabled": True}
            self.data = data_for(name, configuration)
            initial: dict[str, Any] = {k: v for k, v in self.data.items() if "-" not in k}
            initial["heart_enabled"] = bool(configuration.get("heartEnabled"))
            self.form = WidgetForm(initial=initial)
            zones = [
                {"start": zone.get("from"), "end": zone.get("to"), "color": zone.get("color")}
                for zone in _zones(configuration)
            ]
            self.zones = ZoneFormSet(initial=zones, prefix=ZONES_PREFIX)
        else:
            self.data = {**_management(0), **data}
            fields = _fields_from_json(self.data) if self.json_edited() else self.data
            self.form = WidgetForm(fields)
            self.zones = ZoneFormSet(fields, prefix=ZONES_PREFIX)
            name = fields.get("name", "")
        if not name_editable:
            self._lock_name(name)

    def _lock_name(self, name: str) -> None:
        # Pulsoid cannot rename a widget: the name is shown, not sent.
        self.form.initial["name"] = name
        self.form.fields["name"].disabled = True
        self.form.fields["name"].help_text = "Pulsoid does not let the API rename a widget."

    def is_valid(self) -> bool:
        form_ok = self.form.is_valid()
        zones_ok = self.zones.is_valid()
        return form_ok and zones_ok

    def json_edited(self) -> bool:
        """Whether the person changed the JSON after it was last in step with the fields."""
        return not _same_text(self.data.get("advanced", ""), self.data.get("synced", ""))

    def configuration(self) -> dict[str, Any]:
        """What to send on save (after is_valid): the JSON with the form's known keys over it."""
        configuration = dict(self.form.cleaned_data["advanced"])
        cleaned = self.form.cleaned_data
        configuration["heartEnabled"] = bool(cleaned["heart_enabled"])
        for key, field in (("heartColor", "heart_color"), ("font", "font")):
            value = (cleaned.get(field) or "").strip()
            if value:
                configuration[key] = value
            else:
                configuration.pop(key, None)
        zones = [
            {"from": z["start"], "to": z["end"], "color": z["color"].strip()}
            for z in self.zones.cleaned_data
            if z
        ]
        if zones:
            configuration["ranges"] = sorted(zones, key=lambda zone: zone["from"])
        else:
            configuration.pop("ranges", None)
        return configuration


def _fields_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """The posted data with the fields read from the edited JSON (the JSON as typed is kept).
    JSON that does not parse leaves the fields as they were; its error shows beside it."""
    try:
        configuration = parse_configuration(data.get("advanced", ""))
    except ValidationError:
        return data
    return {
        **data_for(data.get("name", ""), configuration),
        "advanced": data.get("advanced", ""),
        "synced": data.get("synced", ""),
    }


def summary(configuration: dict[str, Any]) -> dict[str, Any]:
    """A widget's configuration as a viewer reads it: heart, font, zones and the whole JSON."""
    heart_color = configuration.get("heartColor")
    font = configuration.get("font")
    return {
        "heart_enabled": configuration.get("heartEnabled") is True,
        "heart_color": heart_color if isinstance(heart_color, str) else "",
        "font": font if isinstance(font, str) else "",
        "zones": [
            {"from": z.get("from"), "to": z.get("to"), "color": str(z.get("color", ""))}
            for z in _zones(configuration)
        ],
        "json": dump(configuration),
    }
