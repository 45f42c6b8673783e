"""The BPM widget's configuration as a form, kept in step with its raw JSON.

The form edits the keys the portal knows (heartEnabled, heartColor, font, ranges); the "advanced"
JSON editor holds the whole configuration, including keys the portal does not know, which are
kept untouched. Both sides are rebuilt on the server whenever either changes, so they never
disagree; on save, whichever side the person touched last wins (see `configuration`).
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
# Hex (#rgb, #rrggbb, #rrggbbaa), a CSS colour name, or rgb()/hsl() and friends with numbers.
CSS_COLOUR = re.compile(
    r"^(#[0-9a-fA-F]{3,4}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-zA-Z]{3,30}"
    r"|(rgb|rgba|hsl|hsla)\(\s*[0-9.%\s,/]+\))$"
)


def css_colour(value: str) -> None:
    if value and not CSS_COLOUR.match(value.strip()):
        raise ValidationError("Use a CSS colour such as #ff3366, red or rgb(255, 51, 102).")


class WidgetForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Shown in Pulsoid's widget list.")
    heart_enabled = forms.BooleanField(required=False, label="Show a heart beside the number")
    heart_color = forms.CharField(
        required=False,
        max_length=40,
        label="Heart colour",
        validators=[css_colour],
        widget=forms.TextInput(attrs={"placeholder": "#ff3366"}),
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
    # The JSON as last rendered by the server: tells whether the person edited it since.
    synced = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_advanced(self) -> dict[str, Any]:
        return parse_configuration(self.cleaned_data["advanced"])


class ZoneForm(forms.Form):
    def __init__(self, *args: Any, sync_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _sync_on_change(self, sync_url)

    start = forms.IntegerField(label="From (bpm)", min_value=0, max_value=400)
    end = forms.IntegerField(label="To (bpm)", min_value=0, max_value=400)
    color = forms.CharField(label="Colour", max_length=40, validators=[css_colour])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and start >= end:
            raise ValidationError("A zone's “to” must be above its “from”.")
        return cleaned


ZoneFormSet = formset_factory(ZoneForm, extra=0, max_num=MAX_ZONES, validate_max=True)


def _sync_on_change(form: forms.Form, sync_url: str) -> None:
    """Each input posts the whole form to the sync view when it changes (htmx).

    The form carries `hx-sync="this:replace"`: a newer change (or an Add zone click) replaces a
    sync still in flight, and since every request sends the whole form nothing is lost.
    """
    if not sync_url:
        return
    for name, field in form.fields.items():
        # The name is not part of the configuration, so editing it needs no sync.
        if name != "name" and not isinstance(field.widget, forms.HiddenInput):
            field.widget.attrs.update({"hx-post": sync_url, "hx-trigger": "change"})


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


def data_for(name: str, configuration: dict[str, Any]) -> dict[str, str]:
    """Form data showing `configuration`: the fields for known keys and the whole JSON."""
    text = dump(configuration)
    data = {"name": name, "advanced": text, "synced": text}
    if configuration.get("heartEnabled"):
        data["heart_enabled"] = "on"
    for key, field in (("heartColor", "heart_color"), ("font", "font")):
        if isinstance(configuration.get(key), str):
            data[field] = configuration[key]
    zones = [z for z in configuration.get("ranges") or [] if isinstance(z, dict)]
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


class WidgetEditor:
    """The form and its colour zones, bound to the same data."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        name_editable: bool = True,
        sync_url: str = "",
    ) -> None:
        data = dict(data) if data is not None else data_for("", {"heartEnabled": True})
        data.setdefault(f"{ZONES_PREFIX}-TOTAL_FORMS", "0")
        for key, value in _management(0).items():
            data.setdefault(key, value)
        self.data = data
        self.sync_url = sync_url
        self.form = WidgetForm(data)
        _sync_on_change(self.form, sync_url)
        self.zones = ZoneFormSet(data, prefix=ZONES_PREFIX, form_kwargs={"sync_url": sync_url})
        if not name_editable:
            # Pulsoid cannot rename a widget: the name is shown, not sent.
            self.form.initial["name"] = data.get("name", "")
            self.form.fields["name"].disabled = True
            self.form.fields["name"].help_text = "Pulsoid does not let the API rename a widget."

    def is_valid(self) -> bool:
        form_ok = self.form.is_valid()
        zones_ok = self.zones.is_valid()
        return form_ok and zones_ok

    def configuration_valid(self) -> bool:
        """Whether the configuration parts parse (the name may still be missing)."""
        self.is_valid()
        return set(self.form.errors) <= {"name"} and self.zones.is_valid()

    def quiet_about_name(self) -> WidgetEditor:
        """While editing, an empty name is not an error yet: saving will say so."""
        self.is_valid()
        if not self.data.get("name", "").strip():
            self.form.errors.pop("name", None)
        return self

    def fields_configuration(self) -> dict[str, Any]:
        """The JSON's configuration with the form's known keys written over it (after is_valid)."""
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

    def json_edited(self) -> bool:
        """Whether the person changed the JSON after the server last wrote it."""
        return self.data.get("advanced", "").strip() != self.data.get("synced", "").strip()

    def configuration(self) -> dict[str, Any]:
        """What to send on save: the JSON if it was edited last, else the form over the JSON."""
        if self.json_edited():
            return dict(self.form.cleaned_data["advanced"])
        return self.fields_configuration()


def synced_editor(
    data: dict[str, Any], *, changed: str, op: str, name_editable: bool = True, sync_url: str = ""
) -> WidgetEditor:
    """Rebuild the editor after one change, so the fields and the JSON agree again.

    `changed` is the name of the input that changed (htmx's HX-Trigger-Name), `op` an action
    button ("add-zone", "remove-zone-N"). A side that does not parse is shown with its error and
    the other side is left as it was.
    """
    options: dict[str, Any] = {"name_editable": name_editable, "sync_url": sync_url}
    editor = WidgetEditor(data, **options)
    name = data.get("name", "")
    if changed == "advanced" and not op:
        try:
            configuration = parse_configuration(data.get("advanced", ""))
        except ValidationError:
            return editor.quiet_about_name()
        return WidgetEditor(data_for(name, configuration), **options).quiet_about_name()
    if not editor.configuration_valid():
        return editor.quiet_about_name()
    configuration = editor.fields_configuration()
    zones = list(configuration.get("ranges", []))
    if op == "add-zone" and len(zones) < MAX_ZONES:
        start = zones[-1]["to"] if zones else 60
        zones.append({"from": start, "to": start + 40, "color": "#ff3366"})
    elif op.startswith("remove-zone-") and op.removeprefix("remove-zone-").isdigit():
        index = int(op.removeprefix("remove-zone-"))
        if 0 <= index < len(zones):
            del zones[index]
    if zones:
        configuration["ranges"] = zones
    else:
        configuration.pop("ranges", None)
    return WidgetEditor(data_for(name, configuration), **options).quiet_about_name()
