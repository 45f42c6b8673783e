"""Fast date filters for the two formats every table uses.

Django's `date` filter re-reads its format string and looks up the localized formats on every
call: about 40 µs each, which was half the time of rendering a page of twelve apps. These two
give the same text (tested against `date`) for the portal's formats.

    {{ value|iso }}     same as {{ value|date:"c" }}, for `<time datetime>`
    {{ value|minute }}  same as {{ value|date:"j M Y, H:i" }}
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3

register = template.Library()


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def iso(value: datetime | None) -> str:
    if not isinstance(value, datetime):
        return ""
    return _local(value).isoformat()


@register.filter
def minute(value: datetime | None) -> str:
    if not isinstance(value, datetime):
        return ""
    local = _local(value)
    month = str(MONTHS_3[local.month]).title()
    return f"{local.day} {month} {local.year}, {local.hour:02d}:{local.minute:02d}"
