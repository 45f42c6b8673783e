"""The alerts page: how often the team's credentials are checked, where alerts go (channels
with a "Send test" button), and what was sent."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts import activity
from accounts.access import Action, team_object_or_404, team_view
from accounts.models import User
from integrations import alerts
from integrations.models import Channel, Delivery, Watch
from portal.htmx import PortalRequest, render_screen

PAGE = "alerts.html"


class WatchForm(forms.ModelForm):
    class Meta:
        model = Watch
        fields = ["check_minutes", "rotation_days"]
        labels = {
            "check_minutes": "Check each credential every (minutes)",
            "rotation_days": "Remind to replace tokens that never expire after (days)",
        }
        help_texts = {"rotation_days": "Empty: no reminder. Pulsetracker tokens never expire."}

    def clean_check_minutes(self) -> int:
        minutes: int = self.cleaned_data["check_minutes"]
        if not 5 <= minutes <= 24 * 60:
            raise forms.ValidationError("Between 5 minutes and a day (1440).")
        return minutes


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=Channel.Kind.choices)
    name = forms.CharField(max_length=80)
    url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        label="Webhook URL",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Slack, Discord or your own endpoint; kept encrypted, never shown again.",
    )
    recipients = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="For email: who receives the alerts.",
    )

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = User.objects.filter(memberships__team=team)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind == Channel.Kind.EMAIL and not cleaned.get("recipients"):
            self.add_error("recipients", "Choose who receives the alerts.")
        if kind and kind != Channel.Kind.EMAIL:
            url = cleaned.get("url") or ""
            if not url:
                self.add_error("url", "A webhook needs its URL.")
            elif not url.startswith(("https://", "http://")):
                self.add_error("url", "Use an http(s) URL.")
        return cleaned


def background_jobs() -> list[dict[str, Any]]:
    """The portal's background jobs: when each last ran, how it ended, when it runs next."""
    from django_q.models import Schedule, Task

    from integrations.watch import SCHEDULES

    names = [name for name, _, _ in SCHEDULES]
    schedules = {s.name: s for s in Schedule.objects.filter(name__in=names)}
    last = {t.id: t for t in Task.objects.filter(id__in=[s.task for s in schedules.values()])}
    jobs = []
    for name in names:
        found = schedules.get(name)
        task = last.get(found.task) if found is not None and found.task else None
        jobs.append(
            {
                "name": name,
                "last_run": task.stopped if task else None,
                "succeeded": task.success if task else None,
                "next_run": found.next_run if found else None,
            }
        )
    return jobs


def _context(request: PortalRequest, **extra: Any) -> dict[str, Any]:
    return {
        "jobs": background_jobs(),
        "watch_form": extra.pop("watch_form", None)
        or WatchForm(instance=alerts.watch_of(request.team)),
        "channel_form": extra.pop("channel_form", None) or ChannelForm(team=request.team),
        "channels": Channel.objects.filter(team=request.team).prefetch_related("recipients"),
        "deliveries": Delivery.objects.filter(channel__team=request.team).select_related("channel")[
            :30
        ],
        **extra,
    }


@never_cache
@require_GET
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def alerts_page(request: PortalRequest) -> HttpResponse:
    return render(request, PAGE, _context(request))


@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def watch_settings(request: PortalRequest) -> HttpResponse:
    form = WatchForm(request.POST, instance=alerts.watch_of(request.team))
    if not form.is_valid():
        return render_screen(request, PAGE, "watch-form", _context(request, watch_form=form))
    form.save()
    activity.record(
        request.team,
        request.user,
        "alert settings changed",
        detail=f"checks every {form.instance.check_minutes} min; rotation reminder "
        + (f"after {form.instance.rotation_days} days" if form.instance.rotation_days else "off"),
    )
    context = _context(request, watch_form=form, watch_notice="Saved.")
    return render_screen(request, PAGE, "watch-form", context)


@never_cache
@sensitive_post_parameters("url")
@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def channel_add(request: PortalRequest) -> HttpResponse:
    """A new channel. A webhook's signing secret is shown once, here, and never again."""
    form = ChannelForm(request.POST, team=request.team)
    if not form.is_valid():
        return render(request, PAGE, _context(request, channel_form=form))
    data = form.cleaned_data
    channel = Channel(team=request.team, kind=data["kind"], name=data["name"])
    channel.created_by = request.user
    new_secret = ""
    if channel.kind != Channel.Kind.EMAIL:
        alerts.set_url(channel, data["url"])
    if channel.kind == Channel.Kind.WEBHOOK:
        new_secret = alerts.new_webhook_secret()
        alerts.set_secret(channel, new_secret)
    channel.save()
    if channel.kind == Channel.Kind.EMAIL:
        channel.recipients.set(data["recipients"])
    activity.record(request.team, request.user, "alert channel added", target=str(channel))
    notice = f"Added the channel “{channel.name}”. Send a test to see it work."
    context = _context(request, notice=notice, new_secret=new_secret, secret_for=channel)
    return render(request, PAGE, context)


@never_cache
@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def channel_test(request: PortalRequest, pk: int) -> HttpResponse:
    """Send a test alert now; the channel's row answers with the result."""
    channel = team_object_or_404(Channel, request, pk=pk)
    delivery = alerts.send_test(channel)
    context = _context(request, tested=channel.pk, test_result=delivery)
    if request.htmx:
        return render(request, f"{PAGE}#channel-row", {**context, "channel": channel})
    return render(request, PAGE, context)


@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def channel_remove(request: PortalRequest, pk: int) -> HttpResponse:
    channel = team_object_or_404(Channel, request, pk=pk)
    name = str(channel)
    channel.delete()
    activity.record(request.team, request.user, "alert channel removed", target=name)
    return render(request, PAGE, _context(request, notice=f"Removed the channel “{name}”."))
