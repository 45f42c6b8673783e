"""The team's activity log: filter by person, credential, action and dates; page; export CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import Action, team_view
from accounts.activity import ACTIONS
from accounts.models import Activity, Membership, Team
from portal.htmx import PortalRequest, render_screen

PAGE_SIZE = 50
# How many recent entries the credential filter's suggestions are drawn from.
SUGGESTIONS_FROM = 2000


class ActivityFilter(forms.Form):
    person = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    # Free text (with the current labels suggested): unlinked credentials keep their entries.
    credential = forms.CharField(
        required=False,
        max_length=80,
        widget=forms.TextInput(
            attrs={"list": "credential-labels", "placeholder": "Any credential"}
        ),
    )
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action")] + [(a, a) for a in ACTIONS]
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = Membership.objects.filter(team=team).select_related("user").order_by("user__email")
        cast(forms.TypedChoiceField, self.fields["person"]).choices = [("", "Anyone")] + [
            (m.user_id, m.user.email) for m in people
        ]
        # Suggestions for the credential box: the labels in the team's recent entries (read
        # newest first along an index, so a long log costs no more than a short one).
        recent = (
            Activity.objects.filter(team=team)
            .order_by("-id")
            .values_list("credential_label", flat=True)[:SUGGESTIONS_FROM]
        )
        self.labels = sorted({label for label in recent if label})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "“To” must not be before “From”.")
        return cleaned

    def apply(self, entries: QuerySet[Activity]) -> QuerySet[Activity]:
        data = self.cleaned_data
        if data.get("person"):
            entries = entries.filter(actor_id=data["person"])
        if data.get("credential", "").strip():
            # Any part of the label, in any case: "live" finds "Acme Live" and "Live backup".
            entries = entries.filter(credential_label__icontains=data["credential"].strip())
        if data.get("action"):
            entries = entries.filter(action=data["action"])
        zone = timezone.get_current_timezone()
        if data.get("since"):
            entries = entries.filter(
                created_at__gte=datetime.combine(data["since"], time.min, zone)
            )
        if data.get("until"):
            entries = entries.filter(
                created_at__lte=datetime.combine(data["until"], time.max, zone)
            )
        return entries


def _filtered(request: PortalRequest) -> tuple[ActivityFilter, QuerySet[Activity]]:
    form = ActivityFilter(request.GET or None, team=request.team)
    entries = Activity.objects.filter(team=request.team).order_by("-id")
    if form.is_bound and form.is_valid():
        entries = form.apply(entries)
    elif form.is_bound:
        entries = entries.none()
    return form, entries


@require_GET
@login_required
@team_view(Action.MANAGE_CREDENTIALS, page="Activity")
def activity_list(request: PortalRequest) -> HttpResponse:
    """Newest first, paged by id (keyset on an index), so page 1,000 is as quick as page 1."""
    form, entries = _filtered(request)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(id__lt=int(before))
    page = list(entries[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "entries": page,
        "next_before": page[-1].id if more and page else None,
        "first_page": not before,
        "query": query.urlencode(),
    }
    return render_screen(request, "activity.html", "activity-table", context)


@require_GET
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def activity_csv(request: PortalRequest) -> StreamingHttpResponse:
    """Every entry the filters select, as CSV, streamed so a long log does not sit in memory."""
    _, entries = _filtered(request)

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    columns = [
        "when",
        "who",
        "action",
        "credential",
        "target",
        "outcome",
        "error",
        "status",
        "detail",
        "via",
    ]

    def rows() -> Iterator[str]:
        yield writer.writerow(columns)
        for e in entries.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    e.created_at.isoformat(),
                    e.actor_email,
                    e.action,
                    e.credential_label,
                    _cell(e.target),
                    e.outcome,
                    e.error_kind,
                    e.upstream_status or "",
                    _cell(e.detail),
                    e.via,
                ]
            )

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="activity-{stamp}.csv"'
    return response


def _cell(value: str) -> str:
    """Keep spreadsheet programs from running upstream-supplied text as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
