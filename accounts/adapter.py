"""How django-allauth fits the portal: who may sign up."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from accounts.team import pending_invitation


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Open sign-up is a setting; an invitation opened in this browser always lets its
        invitee in."""
        return settings.PORTAL_OPEN_SIGNUP or pending_invitation(request) is not None
