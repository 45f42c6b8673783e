"""The fast date filters read exactly like Django's `date` filter, in any time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import engines
from django.utils import timezone as django_timezone

MOMENTS = [
    datetime(2026, 1, 5, 0, 4, tzinfo=UTC),
    datetime(2026, 11, 25, 23, 59, 59, 123456, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 0, tzinfo=timezone(timedelta(hours=-7))),
    datetime(2025, 9, 30, 9, 7),  # naive
]


def render(source: str, value) -> str:
    return engines["django"].from_string("{% load moments %}" + source).render({"v": value})


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
@pytest.mark.parametrize("value", MOMENTS)
def test_fast_filters_match_djangos_date_filter(settings, zone, value):
    settings.TIME_ZONE = zone
    with django_timezone.override(zone):
        assert render("{{ v|minute }}", value) == render('{{ v|date:"j M Y, H:i" }}', value)
        assert render("{{ v|iso }}", value) == render('{{ v|date:"c" }}', value)


@pytest.mark.parametrize("value", [None, "", "2026-01-01"])
def test_fast_filters_leave_non_dates_empty(value):
    assert render("{{ v|minute }}|{{ v|iso }}", value) == "|"
