"""How django-allauth fits the portal: who may sign up and log in, and where a person lands.

Two ways in: a password (allauth's account adapter) and single sign-on with an OpenID Connect
provider (allauth's social account adapter; configured in settings from PORTAL_OIDC_*). With
PORTAL_SSO_ONLY only the second remains.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts import crypto
from accounts.access import SESSION_TEAM_KEY, create_team
from accounts.models import Invitation, Membership, User
from accounts.team import invitation_for_email, join_by_invitation, pending_invitation

log = logging.getLogger(__name__)

SSO_ONLY_MESSAGE = "This portal signs people in with single sign-on only."


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Sign-up with a password. Open sign-up is a setting; an invitation opened in this
        browser always lets its invitee in; with single sign-on only, nobody signs up here
        (invitees come in through the provider, see PortalSocialAccountAdapter)."""
        if settings.PORTAL_SSO_ONLY:
            return False
        return settings.PORTAL_OPEN_SIGNUP or pending_invitation(request) is not None

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        """A password check. With single sign-on only, a password log-in is refused before the
        password is looked at, so the answer says nothing about whether it was right. Someone
        signed in already who confirms it is them (re-authentication) still may."""
        signed_in = getattr(getattr(request, "user", None), "is_authenticated", False)
        if settings.PORTAL_SSO_ONLY and not signed_in:
            raise PermissionDenied(SSO_ONLY_MESSAGE)
        return super().authenticate(request, **credentials)

    def pre_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> Any:
        """Every log-in passes here (password, passkey, single sign-on); with single sign-on
        only, all but the provider's are refused."""
        if settings.PORTAL_SSO_ONLY and _sociallogin(kwargs) is None:
            raise PermissionDenied(SSO_ONLY_MESSAGE)
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> Any:
        """After a single sign-on (sign-up or log-in, once any second factor is done): the
        person joins the team that invited them, or owns a new one when they just signed up
        without an invitation. Password sign-up does the same in `SignupForm.save`."""
        response = super().post_login(request, user, **kwargs)
        sociallogin = _sociallogin(kwargs)
        if sociallogin is not None and isinstance(user, User):
            _place_after_sso(request, user, sociallogin, signup=bool(kwargs.get("signup")))
        return response


class PortalSocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on through the OpenID Connect provider (SOCIALACCOUNT_ADAPTER)."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """Whether a first log-in through the provider may make an account: open sign-up, or an
        invitation for this person (opened in this browser for one of the provider's addresses,
        or sent to an address the provider says is verified). Not PORTAL_SSO_ONLY: that closes
        password sign-up only."""
        return settings.PORTAL_OPEN_SIGNUP or _invitation_for(request, sociallogin) is not None

    def populate_user(
        self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]
    ) -> AbstractBaseUser:
        """The provider's `name` claim becomes how teammates see the person."""
        user = super().populate_user(request, sociallogin, data)
        if isinstance(user, User):
            user.name = (data.get("name") or "").strip()[: User._meta.get_field("name").max_length]
        return user

    def get_requests_session(self) -> requests.Session:
        """allauth's HTTP session to the provider (timeout: SOCIALACCOUNT_REQUESTS_TIMEOUT), with
        a provider that is down answered by the portal's error page (see `_provider_request`)."""
        session: requests.Session = super().get_requests_session()
        session.request = functools.partial(_provider_request, session.request)  # type: ignore[method-assign]
        return session

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: BaseException | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        """One line for the operator; the person sees the portal's error page. The line names
        what went wrong, never the request to the provider (which carries the client secret)."""
        name = getattr(provider, "name", provider)
        if error == "cancelled":
            log.info("Single sign-on with %s cancelled at the provider", name)
        else:
            reason = f"{type(exception).__name__}: {exception}" if exception else error
            log.warning("Single sign-on with %s failed: %s", name, reason)
        super().on_authentication_error(request, provider, error, exception, extra_context)


def single_sign_on(request: HttpRequest) -> dict[str, bool]:
    """Template context (a context processor): whether single sign-on is configured, for the
    account menu, and whether it is the only way in, for the log-in page."""
    return {
        "sso_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect")),
        "sso_only": settings.PORTAL_SSO_ONLY,
    }


def _provider_request(
    send: Callable[..., requests.Response], method: str, url: str, **kwargs: Any
) -> requests.Response:
    """One call to the provider. When it cannot be reached or answers 5xx, the person gets the
    single sign-on error page at once (logged by `on_authentication_error`): allauth fetches the
    discovery document, when the button is pressed, outside its own error handling, so it would
    be a server error otherwise. Other answers are allauth's to judge."""
    try:
        response = send(method, url, **kwargs)
        if response.status_code >= 500:
            response.raise_for_status()
    except requests.RequestException as exc:
        request = context.request
        match = getattr(request, "resolver_match", None)
        provider_id = match.kwargs.get("provider_id") if match else None
        if request is None or not provider_id:
            raise
        provider = get_social_adapter(request).get_provider(request, provider_id)
        # Only the exception's class and the endpoint: never what was sent (the token request's
        # body carries the client secret).
        failure = OAuth2Error(f"{method} {url}: {type(exc).__name__}")
        raise ImmediateHttpResponse(
            render_authentication_error(request, provider, exception=failure)
        ) from exc
    return response


def _sociallogin(login_kwargs: dict[str, Any]) -> SocialLogin | None:
    """The single sign-on behind an allauth log-in, if that is how the person came in."""
    found = (login_kwargs.get("signal_kwargs") or {}).get("sociallogin")
    return found if isinstance(found, SocialLogin) else None


def _invitation_for(
    request: HttpRequest, sociallogin: SocialLogin, user: User | None = None
) -> Invitation | None:
    """The pending invitation a single sign-on brings in: the one opened in this browser when
    it was sent to one of the provider's addresses, else the newest one sent to an address the
    provider verified. Skips a team the person is already in."""
    addresses = {a.email.lower(): a.verified for a in sociallogin.email_addresses if a.email}
    opened = pending_invitation(request)
    candidates: list[Invitation | None] = []
    if opened is not None and opened.email.lower() in addresses:
        candidates.append(opened)
    candidates += [invitation_for_email(email) for email, ok in addresses.items() if ok]
    for invitation in candidates:
        if invitation is None:
            continue
        if user is not None and Membership.objects.filter(team=invitation.team, user=user).exists():
            continue
        return invitation
    return None


def _place_after_sso(
    request: HttpRequest, user: User, sociallogin: SocialLogin, *, signup: bool
) -> None:
    # The provider has just vouched for these addresses, and the person got in on its word:
    # they count as verified here too (an invitation may wait for a verified address).
    for address in sociallogin.email_addresses:
        if address.verified and address.email:
            EmailAddress.objects.filter(
                user=user, email__iexact=address.email, verified=False
            ).update(verified=True)
    invitation = _invitation_for(request, sociallogin, user)
    if invitation is not None:
        join_by_invitation(request, invitation, user)
    elif signup:
        membership = create_team(user, f"{user}'s team")
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(request, f"Welcome! You own the team “{membership.team}”.")


class PortalMFAAdapter(DefaultMFAAdapter):
    """Second-factor secrets (the authenticator app's key, the recovery codes' seed) are stored
    encrypted like tokens: with the portal's keys, rotated by `rotate_encryption_keys`."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(crypto.Secret(text))

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text).reveal()
