"""API tokens: a person's own (made, listed, revoked), and an owner's view of the team's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import api_tokens
from accounts.access import Action, active_membership, may
from accounts.models import AccessToken
from portal.htmx import PortalRequest

PAGE = "accounts/tokens.html"


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What it is for, e.g. “Event set-up script”.")
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    days = forms.IntegerField(
        min_value=1,
        max_value=api_tokens.MAX_DAYS,
        initial=90,
        label="Expires after (days)",
        help_text="At most a year.",
    )

    def __init__(self, *args: Any, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(s, s) for s in allowed]  # type: ignore[attr-defined]


def _context(request: PortalRequest, **extra: Any) -> dict[str, Any]:
    membership = active_membership(request)
    allowed = api_tokens.assignable(membership)
    team_tokens = None
    if may(membership, Action.MANAGE_MEMBERS) and membership is not None:
        team_tokens = AccessToken.objects.filter(team=membership.team).select_related("user")
    return {
        "form": extra.pop("form", None) or TokenForm(allowed=allowed),
        "tokens": AccessToken.objects.filter(user=request.user).select_related("team"),
        "team_tokens": team_tokens,
        "team": membership.team if membership else None,
        **extra,
    }


@never_cache
@require_GET
@login_required
def tokens(request: PortalRequest) -> HttpResponse:
    return render(request, PAGE, _context(request))


@never_cache
@require_POST
@login_required
def token_create(request: PortalRequest) -> HttpResponse:
    """A token for the active team; its value is shown on this answer only."""
    membership = active_membership(request)
    form = TokenForm(request.POST, allowed=api_tokens.assignable(membership))
    if membership is None or not form.is_valid():
        return render(request, PAGE, _context(request, form=form))
    data = form.cleaned_data
    token, value = api_tokens.create(
        request.user, membership.team, data["name"], data["scopes"], data["days"]
    )
    context = _context(request, new_value=value, new_token=token)
    return render(request, PAGE, context)


@require_POST
@login_required
def token_revoke(request: PortalRequest, pk: int) -> HttpResponse:
    """Revoke one of your tokens, or, as an owner, any token of your active team."""
    token = get_object_or_404(AccessToken, pk=pk)
    membership = active_membership(request)
    own = token.user_id == request.user.pk
    owner_of_team = (
        membership is not None
        and membership.team_id == token.team_id
        and may(membership, Action.MANAGE_MEMBERS)
    )
    if not (own or owner_of_team):
        raise Http404("No such token.")
    api_tokens.revoke(token, request.user)
    return render(request, PAGE, _context(request, notice=f"Revoked the token “{token.name}”."))
