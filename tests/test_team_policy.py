"""A team's sign-in policy and its people's sessions: owners require a second factor, see who has
one, and sign a removed member out everywhere; everyone sees and ends their own sessions."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from accounts.models import Activity, Membership, Role
from tests.conftest import PASSWORD


def with_authenticator_app(person) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(person, "JBSWY3DPEHPK3PXP")


def require(client, on: bool = True):
    data = {"require_two_factor": "on"} if on else {}
    return client.post(reverse("accounts:team-policy"), data, follow=True)


def test_an_owner_without_a_second_factor_cannot_lock_themselves_out(as_user, alice, acme):
    page = require(as_user(alice)).content.decode()
    assert "Set up your own second factor first" in page
    acme.refresh_from_db()
    assert not acme.require_two_factor


def test_a_required_second_factor_stops_members_without_one_at_the_set_up_page(
    as_user, alice, bob, acme, other_team
):
    with_authenticator_app(alice)
    owner = as_user(alice)
    assert "now requires two-factor authentication" in require(owner).content.decode()
    entry = Activity.objects.get(team=acme, action="sign-in policy changed")
    assert (entry.actor, entry.detail) == (alice, "two factors required")
    assert owner.get(reverse("credentials")).status_code == 200  # alice has one

    Membership.objects.create(user=bob, team=other_team, role=Role.MEMBER)
    member = Client()
    member.force_login(bob)
    blocked = member.get(reverse("credentials"), follow=True)
    assert blocked.redirect_chain[-1][0] == reverse("mfa_index")
    assert "Acme Fleet requires two-factor authentication" in blocked.content.decode()
    assert member.get(reverse("apps")).status_code == 302
    # His other team does not require it: switching there, he works as before.
    member.post(reverse("accounts:team-switch"), {"team": other_team.pk})
    assert member.get(reverse("credentials")).status_code == 200

    # Once he has a second factor, Acme's pages open.
    member.post(reverse("accounts:team-switch"), {"team": acme.pk})
    with_authenticator_app(bob)
    assert member.get(reverse("credentials")).status_code == 200


def test_the_members_page_shows_who_has_which_second_factor(as_user, alice, bob, carol):
    with_authenticator_app(alice)
    page = as_user(alice).get(reverse("accounts:members")).content.decode()
    rows = dict(
        (re.search(r">([^<>]+@[^<>]+)</td>", row).group(1), row)
        for row in page.split('data-testid="member-row"')[1:]
    )
    assert "authenticator app" in rows["alice@acme.test"]
    assert ">none<" in rows["bob@acme.test"]


def test_an_owner_removes_a_member_and_signs_them_out_everywhere(as_user, alice, bob, acme):
    browsers = []
    for _ in range(2):
        browser = Client()
        browser.post(reverse("accounts:login"), {"login": bob.email, "password": PASSWORD})
        assert browser.get(reverse("accounts:members")).status_code == 200
        browsers.append(browser)
    owner = as_user(alice)
    owner.post(
        reverse("accounts:member-remove", args=[Membership.objects.get(user=bob).pk]),
        {"sign_out": "on"},
    )
    for browser in browsers:
        response = browser.get(reverse("accounts:members"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    entry = Activity.objects.get(team=acme, action="member signed out")
    assert (entry.target, entry.detail) == ("bob@acme.test", "2 session(s)")


def test_people_see_their_sessions_and_sign_one_out(alice):
    here, elsewhere = Client(HTTP_USER_AGENT="Here/1.0"), Client(HTTP_USER_AGENT="Elsewhere/2.0")
    for browser in (here, elsewhere):
        browser.post(reverse("accounts:login"), {"login": alice.email, "password": PASSWORD})
    page = here.get(reverse("usersessions_list")).content.decode()
    assert page.count('data-testid="session-row"') == 2
    assert "Elsewhere/2.0" in page
    assert 'data-testid="current-session"' in page
    from allauth.usersessions.models import UserSession

    other = UserSession.objects.get(user=alice, user_agent="Elsewhere/2.0")
    here.post(reverse("accounts:session-end", args=[other.pk]))
    assert elsewhere.get(reverse("credentials")).status_code == 302
    assert here.get(reverse("credentials")).status_code == 200
    # Nobody ends someone else's session.
    mine = UserSession.objects.get(user=alice, user_agent="Here/1.0")
    assert Client().post(reverse("accounts:session-end", args=[mine.pk])).status_code == 302


def test_nobody_signs_out_another_persons_session(alice, mallory):
    from allauth.usersessions.models import UserSession

    hers = Client()
    hers.post(reverse("accounts:login"), {"login": alice.email, "password": PASSWORD})
    hers.get(reverse("credentials"))
    session = UserSession.objects.get(user=alice)
    intruder = Client()
    intruder.force_login(mallory)
    assert intruder.post(reverse("accounts:session-end", args=[session.pk])).status_code == 404
    assert hers.get(reverse("credentials")).status_code == 200
