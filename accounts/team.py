"""Running a team: invitations, roles, removal and leaving, each written to the activity log."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import activity
from accounts.models import Invitation, Membership, Role, Team, User
from portal.logging import scrub_exact

logger = logging.getLogger(__name__)


class TeamRuleBroken(Exception):
    """An action that would leave the team without an owner, or similar; `message` says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Invited(NamedTuple):
    """A new invitation, its link (shown once), and whether the mail with the link went out."""

    invitation: Invitation
    link: str
    mailed: bool


def invite(
    team: Team, by: User, email: str, role: str, link_for: Callable[[str], str]
) -> tuple[Invitation, str]:
    """Create an invitation and return it with its link (shown once; mailed when configured)."""
    invited = send_invitation(team, by, email, role, link_for)
    return invited.invitation, invited.link


def send_invitation(
    team: Team, by: User, email: str, role: str, link_for: Callable[[str], str]
) -> Invited:
    """Create an invitation and mail its link. A mail that cannot be sent stops nothing: the
    link works all the same (the owner can pass it on), the failure is logged and noted in the
    activity log, and `mailed` says so for the page to tell the owner."""
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        email=email.strip().lower(),
        role=role,
        token_hash=_hash(secret),
        created_by=by,
        expires_at=timezone.now() + timedelta(days=settings.PORTAL_INVITATION_DAYS),
    )
    link = link_for(secret)
    mailed = _mail_invitation(invitation, by, link, secret)
    detail = f"as {invitation.role}" + ("" if mailed else "; the mail could not be sent")
    activity.record(team, by, "invitation sent", target=invitation.email, detail=detail)
    return Invited(invitation, link, mailed)


def _mail_invitation(invitation: Invitation, by: User, link: str, secret: str) -> bool:
    """Mail the link to the invitee; False (and an error in the log) when the mail backend
    fails. The log line names the invitation, never its link: the link is the key to the team."""
    team = invitation.team
    try:
        send_mail(
            subject=f"You are invited to {team.name} on the Pulse team portal",
            message=(
                f"{by} invited you to join “{team.name}” as {invitation.get_role_display()}.\n\n"
                f"Open this link to join (it works once, until {invitation.expires_at:%d %b %Y}):\n"
                f"{link}\n"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception as exc:  # any backend failure: SMTP, a file path, a refused address
        # A backend's error may quote what it was sending: the link is cut out of the reason.
        reason = scrub_exact(f"{type(exc).__name__}: {exc}", [link, secret])
        logger.error(
            "Invitation %s (team %s, to %s) was not mailed: %s. The owner was shown the link.",
            invitation.pk,
            team.pk,
            invitation.email,
            reason,
        )
        return False
    return True


def find_invitation(secret: str) -> Invitation | None:
    return Invitation.objects.select_related("team").filter(token_hash=_hash(secret)).first()


# An invitation link opened while signed out is remembered in the session, so that sign-up (even
# when closed to the public) can bring its invitee in.
SESSION_INVITATION = "pending_invitation"


def pending_invitation(request: HttpRequest) -> Invitation | None:
    """The still-pending invitation this browser opened, if any."""
    secret = request.session.get(SESSION_INVITATION)
    found = find_invitation(secret) if secret else None
    return found if found is not None and found.state == "pending" else None


def invitation_for_email(email: str) -> Invitation | None:
    """The newest pending invitation (not accepted, revoked or expired) sent to this address.

    Only for an address someone has proven is theirs (a provider's verified email at single
    sign-on): holding the address then stands in for holding the link."""
    return (
        Invitation.objects.select_related("team")
        .filter(
            email__iexact=email.strip(),
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def with_article(role: str) -> str:
    """ "a member", "an owner"."""
    role = role.lower()
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def join_by_invitation(request: HttpRequest, invitation: Invitation, user: User) -> bool:
    """Accept the invitation for the person now signed in and make its team the active one;
    says why not (as a message) when the rules refuse. True when they joined."""
    from django.contrib import messages

    try:
        membership = accept(invitation, user)
    except TeamRuleBroken as exc:
        messages.warning(request, exc.message)
        return False
    request.session.pop(SESSION_INVITATION, None)
    request.session["active_team_id"] = membership.team_id
    messages.success(
        request,
        f"Welcome to {membership.team}! You are {with_article(membership.get_role_display())}.",
    )
    return True


def revoke_invitation(invitation: Invitation, by: User) -> None:
    if invitation.state != "pending":
        raise TeamRuleBroken(f"This invitation is already {invitation.state}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    activity.record(invitation.team, by, "invitation revoked", target=invitation.email)


def accept(invitation: Invitation, user: User) -> Membership:
    """Join the team with the invited role; the invitation is used up."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.state != "pending":
            raise TeamRuleBroken(f"This invitation is {invitation.state}; ask for a new one.")
        if invitation.email != user.email.lower():
            raise TeamRuleBroken(
                f"This invitation was sent to {invitation.email}, but you are logged in as "
                f"{user.email}. Log out and open the link again with the invited account."
            )
        if settings.PORTAL_REQUIRE_VERIFIED_EMAIL and not email_verified(user):
            raise TeamRuleBroken(
                f"Verify your address {user.email} first (the portal sent you a link), then open "
                "this invitation again."
            )
        if Membership.objects.filter(team=invitation.team, user=user).exists():
            raise TeamRuleBroken(f"You are already in {invitation.team}.")
        membership = Membership.objects.create(
            team=invitation.team, user=user, role=invitation.role
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        activity.record(
            invitation.team,
            user,
            "member joined",
            target=user.email,
            detail=f"as {membership.role}",
        )
    return membership


def email_verified(user: User) -> bool:
    """Whether the person has confirmed their address (allauth's verification link)."""
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def _owners(team: Team) -> int:
    return Membership.objects.filter(team=team, role=Role.OWNER).count()


def change_role(membership: Membership, role: str, by: User) -> None:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("team", "user")
            .get(pk=membership.pk)
        )
        if membership.role == Role.OWNER and role != Role.OWNER and _owners(membership.team) == 1:
            raise TeamRuleBroken("The last owner cannot be demoted: make someone else owner first.")
        old = membership.role
        if old == role:
            return
        membership.role = role
        membership.save(update_fields=["role"])
        activity.record(
            membership.team,
            by,
            "role changed",
            target=membership.user.email,
            detail=f"{old} → {role}",
        )


def remove(membership: Membership, by: User) -> None:
    """Take someone out of the team; it takes effect on their very next request."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("team", "user")
            .get(pk=membership.pk)
        )
        if membership.role == Role.OWNER and _owners(membership.team) == 1:
            raise TeamRuleBroken("The last owner cannot be removed.")
        membership.delete()
        action = "member left" if membership.user_id == by.pk else "member removed"
        activity.record(membership.team, by, action, target=membership.user.email)


def require_two_factor(team: Team, required: bool, by: User) -> None:
    """Set whether the team's pages need a second factor; the change goes to the log."""
    if team.require_two_factor == required:
        return
    from allauth.mfa.utils import is_mfa_enabled

    if required and not is_mfa_enabled(by):
        raise TeamRuleBroken(
            "Set up your own second factor first (your email address, then Two-factor "
            "authentication), so the policy does not lock you out."
        )
    team.require_two_factor = required
    team.save(update_fields=["require_two_factor"])
    activity.record(
        team,
        by,
        "sign-in policy changed",
        detail="two factors required" if required else "two factors no longer required",
    )


def sign_out_everywhere(team: Team, person: User, by: User) -> int:
    """End every session of `person` (each browser is logged out at its next request)."""
    from allauth.usersessions.models import UserSession

    sessions = list(UserSession.objects.filter(user=person))
    for session in sessions:
        session.end()
    activity.record(
        team, by, "member signed out", target=person.email, detail=f"{len(sessions)} session(s)"
    )
    return len(sessions)


FACTOR_NAMES = {"totp": "authenticator app", "webauthn": "security key or passkey"}


def second_factors(team: Team) -> dict[int, list[str]]:
    """Per person of the team (user id), the second factors they have set up, by name."""
    from allauth.mfa.models import Authenticator

    found: dict[int, list[str]] = {}
    rows = Authenticator.objects.filter(user__memberships__team=team).values_list("user_id", "type")
    for user_id, kind in rows.order_by("type").distinct():
        if kind in FACTOR_NAMES:
            found.setdefault(user_id, []).append(FACTOR_NAMES[kind])
    return found
