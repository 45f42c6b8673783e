"""Confirming it is you before a sensitive action, on django-allauth's re-authentication.

Linking, replacing or unlinking a credential, changing a role and removing a member go through
when the person logged in, or confirmed it was them, within PORTAL_SUDO_SECONDS. Otherwise the
action's form comes back with a link to allauth's confirmation page (their second factor when
they have one, else their password), which returns to the same screen. What they had typed into
the form, except secrets, is kept for that screen and filled in again on return.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.account.signals import password_reset
from allauth.account.views._password_reset import INTERNAL_RESET_SESSION_KEY
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse

# Never kept across the detour: the token being linked, and the form's own CSRF token.
SECRET_FIELDS = frozenset({"token", "csrfmiddlewaretoken"})
STASH_KEY = "sudo_stash"
MESSAGE = "This is a sensitive action: confirm it is you first, then send it again."


def recent(request: HttpRequest) -> bool:
    """Whether the person logged in or confirmed it was them within PORTAL_SUDO_SECONDS."""
    records = get_authentication_records(request, request.user)
    latest = max((record.get("at", 0) for record in records), default=0)
    return time.time() - latest < settings.PORTAL_SUDO_SECONDS


def confirm_url(request: HttpRequest, back: str) -> str:
    """allauth's confirmation page (the second factor when the person has one), returning to
    `back`."""
    name = "mfa_reauthenticate" if is_mfa_enabled(request.user) else "account_reauthenticate"
    return f"{reverse(name)}?{urlencode({'next': back})}"


def confirm(request: HttpRequest, back: str) -> str:
    """'' when the action may go ahead; otherwise the message to show beside the form. The
    form's non-secret input is kept for the screen at `back`."""
    if recent(request):
        return ""
    kept = {k: v for k, v in request.POST.items() if k not in SECRET_FIELDS}
    request.session[STASH_KEY] = {"path": back, "data": kept}
    return MESSAGE


def restore(request: HttpRequest) -> dict[str, Any] | None:
    """What was typed into a form refused for lack of confirmation, once, on its screen."""
    stash = request.session.get(STASH_KEY)
    if not stash or stash.get("path") != request.path:
        return None
    del request.session[STASH_KEY]
    return dict(stash.get("data") or {})


def context(request: HttpRequest, back: str) -> dict[str, Any]:
    """What the sensitive-action templates need (`includes/sudo_field.html`)."""
    needed = not recent(request)
    return {"needs_sudo": needed, "sudo_url": confirm_url(request, back) if needed else ""}


@receiver(user_logged_in)
def _note_log_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Every log-in counts as confirming, allauth's (which records itself) and any other."""
    if (
        request is not None
        and hasattr(request, "session")
        and not get_authentication_records(request, user)
    ):
        record_authentication(request, user, method="login")


@receiver(password_reset)
def _forget_spent_reset_key(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """allauth keeps a reset link's key in the session while the new password is chosen; once
    it is set, the key is spent and goes."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(INTERNAL_RESET_SESSION_KEY, None)
