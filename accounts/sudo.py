"""Sudo mode: sensitive actions ask for the password again unless it was entered recently.

Like GitHub's: logging in or confirming the password opens a window of PORTAL_SUDO_SECONDS during
which linking, replacing or unlinking credentials, changing roles and removing members go
through without asking again. The password is asked inline, in the form of the action itself,
so nothing the person typed is lost and no token is ever echoed back.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest

SESSION_KEY = "sudo_until"
FIELD = "sudo_password"


def active(request: HttpRequest) -> bool:
    return float(request.session.get(SESSION_KEY, 0)) > time.time()


def grant(request: HttpRequest) -> None:
    request.session[SESSION_KEY] = time.time() + settings.PORTAL_SUDO_SECONDS


def confirm(request: HttpRequest) -> str:
    """'' when the action may go ahead (sudo active, or the password just given is right).

    Otherwise the message to show beside the password field.
    """
    if active(request):
        return ""
    password = request.POST.get(FIELD, "")
    if not password:
        return "Confirm your password to do this (asked again after a few minutes)."
    # Wrong passwords here are throttled like log-ins, so sudo is no back door for guessing.
    failures_key = f"sudo-failures:{request.user.pk}"
    if cache.get(failures_key, 0) >= settings.AXES_FAILURE_LIMIT:
        return "Too many wrong passwords: wait a few minutes, then try again."
    if not request.user.check_password(password):
        cache.add(failures_key, 0, timeout=int(settings.AXES_COOLOFF_TIME * 3600))
        cache.incr(failures_key)
        return "That password is not right."
    cache.delete(failures_key)
    grant(request)
    return ""


@receiver(user_logged_in)
def _grant_on_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        grant(request)
