"""Running a team: invitations, roles, the last-owner rule, removal, sudo mode, the activity log."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Activity, Invitation, Membership, Role, User
from tests.conftest import PASSWORD


def invite(client, email: str, role: str = "member") -> str:
    response = client.post(reverse("accounts:invite"), {"email": email, "role": role}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain == [(reverse("accounts:members"), 302)]
    return body.split('data-testid="invitation-url">')[1].split("<")[0]


def path_of(link: str) -> str:
    return link.replace("http://testserver", "")


def drop_sudo(client) -> None:
    """As if the person logged in long ago: no recent log-in or confirmation in the session."""
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    session = client.session
    session.pop(AUTHENTICATION_METHODS_SESSION_KEY, None)
    session.save()


def confirm_it_is_me(client, back: str, password: str = PASSWORD):
    """allauth's re-authentication page, as the link on a sensitive form leads there."""
    return client.post(
        reverse("account_reauthenticate") + "?" + urlencode({"next": back}),
        {"password": password, "next": back},
    )


# Invitations


def test_an_owner_invites_and_the_person_signs_up_through_the_link(as_user, alice, acme, settings):
    settings.PORTAL_OPEN_SIGNUP = False  # a private install: the link is the only way in
    link = invite(as_user(alice), "newbie@acme.test", "member")
    assert len(mail.outbox) == 1
    assert link in mail.outbox[0].body
    guest = Client()
    page = guest.get(path_of(link)).content.decode()
    assert "Join Acme Fleet" in page
    assert "Sign up as newbie@acme.test" in page
    response = guest.post(
        reverse("accounts:signup"),
        {
            "email": "newbie@acme.test",
            "name": "Newbie",
            "password1": "Fresh-pass-8812",
            "password2": "Fresh-pass-8812",
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(email="newbie@acme.test")
    assert Membership.objects.get(user=newbie).team == acme
    assert Membership.objects.get(user=newbie).role == Role.MEMBER
    assert "Credentials of Acme Fleet" in guest.get(reverse("credentials")).content.decode()
    actions = list(Activity.objects.filter(team=acme).values_list("action", flat=True))
    assert actions[:2] == ["member joined", "invitation sent"]


def test_an_operator_can_make_joining_wait_for_a_verified_address(as_user, alice, acme, settings):
    settings.PORTAL_REQUIRE_VERIFIED_EMAIL = True
    link = invite(as_user(alice), "careful@acme.test", "viewer")
    guest = Client()
    guest.get(path_of(link))
    signed_up = guest.post(
        reverse("accounts:signup"),
        {
            "email": "careful@acme.test",
            "password1": "Fresh-pass-8812",
            "password2": "Fresh-pass-8812",
        },
        follow=True,
    ).content.decode()
    careful = User.objects.get(email="careful@acme.test")
    assert not Membership.objects.filter(user=careful, team=acme).exists()
    assert "Verify your address careful@acme.test first" in signed_up
    [verification] = [m for m in mail.outbox if "confirm-email" in m.body]
    guest.post(re.search(r"https?://testserver(/\S+)", verification.body).group(1))
    guest.post(path_of(link))  # the invitation again, now accepted
    assert Membership.objects.get(user=careful, team=acme).role == Role.VIEWER


def test_an_existing_account_logs_in_then_joins(as_user, alice, mallory, acme):
    link = invite(as_user(alice), mallory.email, "viewer")
    visitor = Client()
    page = visitor.get(path_of(link)).content.decode()
    assert "Log in" in page
    visitor.force_login(mallory)
    response = visitor.post(path_of(link))
    assert response.status_code == 302
    assert Membership.objects.get(user=mallory, team=acme).role == Role.VIEWER


def test_a_used_link_says_so(as_user, alice, mallory):
    link = invite(as_user(alice), mallory.email)
    visitor = Client()
    visitor.force_login(mallory)
    visitor.post(path_of(link))
    again = visitor.get(path_of(link))
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_an_expired_link_says_so(as_user, alice, mallory):
    link = invite(as_user(alice), mallory.email)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    visitor = Client()
    visitor.force_login(mallory)
    response = visitor.post(path_of(link))
    assert response.status_code == 410
    assert "has expired" in response.content.decode()
    assert not Membership.objects.filter(user=mallory, team__name="Acme Fleet").exists()


def test_a_revoked_link_says_so(as_user, alice, mallory):
    client = as_user(alice)
    link = invite(client, mallory.email)
    invitation = Invitation.objects.get()
    assert "Waiting for an answer" in client.get(reverse("accounts:members")).content.decode()
    client.post(reverse("accounts:invitation-revoke", args=[invitation.pk]))
    visitor = Client()
    visitor.force_login(mallory)
    response = visitor.get(path_of(link))
    assert "was revoked" in response.content.decode()
    assert Activity.objects.filter(action="invitation revoked").exists()


def test_the_wrong_account_cannot_use_someone_elses_invitation(as_user, alice, mallory):
    link = invite(as_user(alice), "someone@else.test")
    visitor = Client()
    visitor.force_login(mallory)
    page = visitor.post(path_of(link)).content.decode()
    assert "was sent to someone@else.test" in page
    assert Invitation.objects.get().state == "pending"


def test_sign_up_through_a_link_must_use_the_invited_address(as_user, alice, settings):
    settings.PORTAL_OPEN_SIGNUP = False
    link = invite(as_user(alice), "invited@acme.test")
    guest = Client()
    guest.get(path_of(link))
    page = guest.post(
        reverse("accounts:signup"),
        {
            "email": "other@acme.test",
            "password1": "Fresh-pass-8812",
            "password2": "Fresh-pass-8812",
        },
    ).content.decode()
    assert "This invitation is for invited@acme.test" in page
    assert not User.objects.filter(email="other@acme.test").exists()


def test_an_unknown_link_is_404(client, db):
    assert client.get(reverse("accounts:invitation", args=["nope"])).status_code == 404


def test_only_owners_invite(as_user, ada, bob):
    for person in (ada, bob):
        assert (
            as_user(person).post(reverse("accounts:invite"), {"email": "x@y.test"}).status_code
            == 403
        )


# Roles, removal, leaving


def test_owners_change_roles_and_it_is_logged(as_user, alice, bob, acme):
    client = as_user(alice)
    membership = Membership.objects.get(user=bob)
    client.post(reverse("accounts:member-role", args=[membership.pk]), {"role": "admin"})
    assert Membership.objects.get(user=bob).role == Role.ADMIN
    entry = Activity.objects.get(action="role changed")
    assert (entry.target, entry.detail) == ("bob@acme.test", "member → admin")


def test_the_last_owner_can_neither_be_demoted_nor_leave(as_user, alice, bob):
    client = as_user(alice)
    own = Membership.objects.get(user=alice)
    response = client.post(
        reverse("accounts:member-role", args=[own.pk]), {"role": "admin"}, follow=True
    )
    assert "last owner cannot be demoted" in response.content.decode()
    assert Membership.objects.get(user=alice).role == Role.OWNER
    response = client.post(reverse("accounts:leave"), follow=True)
    assert "You are the last owner" in response.content.decode()
    assert Membership.objects.filter(user=alice).exists()


def test_with_two_owners_one_may_step_down(as_user, alice, bob):
    Membership.objects.filter(user=bob).update(role=Role.OWNER)
    client = as_user(alice)
    client.post(
        reverse("accounts:member-role", args=[Membership.objects.get(user=alice).pk]),
        {"role": "member"},
    )
    assert Membership.objects.get(user=alice).role == Role.MEMBER


def test_anyone_can_leave(as_user, carol, acme):
    client = as_user(carol)
    client.post(reverse("accounts:leave"))
    assert not Membership.objects.filter(user=carol).exists()
    assert Activity.objects.get(team=acme, action="member left").target == "carol@acme.test"


def test_removal_cuts_off_a_live_session_at_its_next_request(
    as_user, alice, bob, pulsetracker_credential
):
    bobs_browser = Client()
    bobs_browser.force_login(bob)
    assert bobs_browser.get(reverse("credentials")).status_code == 200
    as_user(alice).post(
        reverse("accounts:member-remove", args=[Membership.objects.get(user=bob).pk])
    )
    response = bobs_browser.get(reverse("app-list", args=[pulsetracker_credential.pk]))
    assert response.status_code == 302  # no team any more: sent to create one
    assert (
        bobs_browser.post(
            reverse("app-create", args=[pulsetracker_credential.pk]), {"name": "x"}
        ).status_code
        == 302
    )
    assert Activity.objects.get(action="member removed").target == "bob@acme.test"


def remove_from_acme(as_user, alice, person) -> None:
    as_user(alice).post(
        reverse(
            "accounts:member-remove",
            args=[Membership.objects.get(user=person, team__name="Acme Fleet").pk],
        )
    )


def test_someone_removed_is_told_once_and_lands_on_their_other_team(
    as_user, alice, bob, other_team
):
    Membership.objects.create(user=bob, team=other_team, role=Role.MEMBER)
    bobs_browser = Client()
    bobs_browser.force_login(bob)
    assert "Acme Fleet (Member)" in bobs_browser.get(reverse("accounts:members")).content.decode()
    remove_from_acme(as_user, alice, bob)

    response = bobs_browser.get(reverse("accounts:members"), follow=True)
    assert response.redirect_chain == [(reverse("home"), 302)]
    page = response.content.decode()
    assert "You were removed from Acme Fleet." in page
    assert "Mallory Inc (Member)" in page
    assert "Acme Fleet (Member)" not in page
    again = bobs_browser.get(reverse("accounts:members")).content.decode()
    assert "Members of Mallory Inc" in again
    assert "You were removed" not in again


def test_someone_removed_from_their_only_team_is_told_on_the_way_to_making_one(as_user, alice, bob):
    bobs_browser = Client()
    bobs_browser.force_login(bob)
    bobs_browser.get(reverse("accounts:members"))
    remove_from_acme(as_user, alice, bob)
    response = bobs_browser.get(reverse("accounts:members"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("accounts:team-create")
    assert "You were removed from Acme Fleet." in response.content.decode()


def test_an_action_sent_after_removal_goes_to_the_dashboard_not_to_the_new_team(
    as_user, alice, bob, other_team
):
    Membership.objects.create(user=bob, team=other_team, role=Role.MEMBER)
    bobs_browser = Client()
    bobs_browser.force_login(bob)
    bobs_browser.get(reverse("accounts:members"))
    remove_from_acme(as_user, alice, bob)
    response = bobs_browser.post(reverse("accounts:leave"), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("home")
    assert Membership.objects.filter(user=bob, team=other_team).exists()
    assert "You were removed from Acme Fleet." in bobs_browser.get("/").content.decode()


def test_leaving_in_another_browser_is_told_as_leaving(as_user, carol):
    elsewhere = Client()
    elsewhere.force_login(carol)
    elsewhere.get(reverse("accounts:members"))
    as_user(carol).post(reverse("accounts:leave"))
    page = elsewhere.get(reverse("accounts:members"), follow=True).content.decode()
    assert "You left Acme Fleet." in page


def test_members_page_lists_people_with_roles_and_last_activity(as_user, alice, bob, carol):
    as_user(bob).get(reverse("credentials"))  # bob was active just now; carol never was
    page = as_user(alice).get(reverse("accounts:members")).content.decode()
    rows = {
        re.search(r"<td>([^<]+@[^<]+)</td>", row).group(1): row.split("</tr>")[0]
        for row in page.split('data-testid="member-row">')[1:]
    }
    assert set(rows) == {"alice@acme.test", "bob@acme.test", "carol@acme.test"}
    assert ">Member<" in rows["bob@acme.test"]
    assert ">Viewer<" in rows["carol@acme.test"]
    assert "minutes ago" in rows["bob@acme.test"]
    assert "never" in rows["carol@acme.test"]


def test_the_team_switcher_on_the_members_page_shows_the_persons_own_role(
    as_user, alice, bob, carol, acme
):
    page = as_user(alice).get(reverse("accounts:members")).content.decode()
    switcher = page.split('data-testid="active-team"')[1].split("</select>")[0]
    options = re.findall(r"<option[^>]*>([^<]+)</option>", switcher)
    assert options == ["Acme Fleet (Owner)"]


def chosen_role(page: str, email: str) -> str:
    """The role selected in that person's row of the members page."""
    row = page.split(f">{email}</td>")[1].split("</tr>")[0]
    return re.search(r'<option value="(\w+)" selected>', row).group(1)


def test_a_role_change_answers_with_a_redirect_so_reloading_sends_nothing_again(
    as_user, alice, bob
):
    client = as_user(alice)
    change = reverse("accounts:member-role", args=[Membership.objects.get(user=bob).pk])
    response = client.post(change, {"role": "admin"})
    assert (response.status_code, response["Location"]) == (302, reverse("accounts:members"))
    page = client.get(response["Location"]).content.decode()
    assert "bob@acme.test is now admin." in page
    assert chosen_role(page, "bob@acme.test") == "admin"
    assert "is now admin" not in client.get(reverse("accounts:members")).content.decode()
    assert Activity.objects.filter(action="role changed").count() == 1


def test_creating_an_invitation_redirects_and_shows_its_link_once(as_user, alice, acme):
    client = as_user(alice)
    response = client.post(
        reverse("accounts:invite"), {"email": "newbie@acme.test", "role": "member"}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("accounts:members"))
    assert (
        'data-testid="invitation-url"' in client.get(reverse("accounts:members")).content.decode()
    )
    again = client.get(reverse("accounts:members")).content.decode()
    assert 'data-testid="invitation-url"' not in again
    assert again.count('data-testid="invitation-row"') == 1


def test_a_team_change_sent_by_htmx_also_ends_on_a_fresh_get_of_the_page(as_user, alice, bob):
    client = as_user(alice)
    change = reverse("accounts:member-role", args=[Membership.objects.get(user=bob).pk])
    response = client.post(change, {"role": "viewer"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("accounts:members")
    assert (
        "bob@acme.test is now viewer." in client.get(reverse("accounts:members")).content.decode()
    )


def test_an_invitation_refused_is_shown_again_with_what_was_typed(as_user, alice, bob):
    response = as_user(alice).post(
        reverse("accounts:invite"), {"email": "BOB@acme.test", "role": "member"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "bob@acme.test is already in the team." in page
    assert 'value="BOB@acme.test"' in page
    assert not Invitation.objects.exists()


# Sudo mode


def test_sensitive_actions_ask_to_confirm_it_is_you_when_you_have_not_lately(as_user, alice, bob):
    client = as_user(alice)
    drop_sudo(client)
    membership = Membership.objects.get(user=bob)
    members = reverse("accounts:members")
    page = client.post(
        reverse("accounts:member-role", args=[membership.pk]), {"role": "admin"}
    ).content.decode()
    assert "confirm it is you first" in page
    confirm = reverse("account_reauthenticate") + "?" + urlencode({"next": members})
    assert f'href="{confirm.replace("&", "&amp;")}"' in page
    assert Membership.objects.get(user=bob).role == Role.MEMBER
    wrong = confirm_it_is_me(client, members, password="nope")
    assert "Incorrect password" in wrong.content.decode()
    back = confirm_it_is_me(client, members)
    assert back.status_code == 302
    assert back["Location"] == members
    client.post(reverse("accounts:member-role", args=[membership.pk]), {"role": "admin"})
    assert Membership.objects.get(user=bob).role == Role.ADMIN
    # Within the window, no second question.
    client.post(reverse("accounts:member-role", args=[membership.pk]), {"role": "viewer"})
    assert Membership.objects.get(user=bob).role == Role.VIEWER


def test_a_role_change_waiting_for_confirmation_keeps_the_role_chosen_and_says_why_beside_it(
    as_user, alice, bob
):
    client = as_user(alice)
    drop_sudo(client)
    members = reverse("accounts:members")
    change = reverse("accounts:member-role", args=[Membership.objects.get(user=bob).pk])
    page = client.post(change, {"member": Membership.objects.get(user=bob).pk, "role": "admin"})
    page = page.content.decode()
    assert chosen_role(page, "bob@acme.test") == "admin"
    assert chosen_role(page, "alice@acme.test") == "owner"
    row = page.split(">bob@acme.test</td>")[1].split("</tr>")[0]
    assert 'data-testid="role-errors"' in row
    assert "confirm it is you first" in row
    # A wrong password, then the right one: back on the page, the choice is still there.
    assert "Incorrect password" in confirm_it_is_me(client, members, "nope").content.decode()
    assert confirm_it_is_me(client, members)["Location"] == members
    page = client.get(members).content.decode()
    assert chosen_role(page, "bob@acme.test") == "admin"
    assert 'data-testid="role-errors"' not in page
    assert Membership.objects.get(user=bob).role == Role.MEMBER
    client.post(change, {"member": Membership.objects.get(user=bob).pk, "role": "admin"})
    assert Membership.objects.get(user=bob).role == Role.ADMIN


def test_linking_a_token_asks_to_confirm_and_keeps_what_was_typed_but_the_token(
    as_user, alice, acme, sandbox_settings
):
    client = as_user(alice)
    drop_sudo(client)
    assert 'data-testid="sudo-confirm"' in client.get(reverse("credentials")).content.decode()
    token = sandbox_settings.seed.pulsetracker_paid_token
    response = client.post(
        reverse("credential-link"),
        {"service": "pulsetracker", "label": "Needs sudo", "token": token},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "confirm it is you first" in body
    assert 'value="Needs sudo"' in body
    assert token not in body
    assert sandbox_settings.requests == []
    assert token not in str(dict(client.session))  # the detour keeps no token
    confirm_it_is_me(client, reverse("credentials"))
    again = client.get(reverse("credentials")).content.decode()
    assert 'value="Needs sudo"' in again  # back from confirming: the label is still there
    assert 'data-testid="sudo-confirm"' not in again
    client.post(
        reverse("credential-link"),
        {"service": "pulsetracker", "label": "Needs sudo", "token": token},
    )
    assert acme.credentials.filter(label="Needs sudo").exists()


def test_unlink_asks_to_confirm_too(as_user, alice, pulsetracker_credential):
    client = as_user(alice)
    drop_sudo(client)
    url = reverse("credential-unlink", args=[pulsetracker_credential.pk])
    assert "confirm it is you first" in client.post(url).content.decode()
    confirm_it_is_me(client, url)
    assert client.post(url).status_code == 302


def test_logging_in_counts_as_confirming(client, alice, bob):
    client.post(reverse("accounts:login"), {"login": alice.email, "password": PASSWORD})
    client.post(
        reverse("accounts:member-role", args=[Membership.objects.get(user=bob).pk]),
        {"role": "admin"},
    )
    assert Membership.objects.get(user=bob).role == Role.ADMIN


def test_a_credential_linked_by_someone_who_left_is_flagged(
    as_user, alice, ada, acme, sandbox_settings
):
    from accounts.crypto import Secret
    from integrations import credentials

    credentials.link(
        acme,
        ada,
        "pulsetracker",
        "Ada's key",
        Secret(sandbox_settings.seed.pulsetracker_paid_token),
    )
    client = as_user(alice)
    assert 'data-testid="departed"' not in client.get(reverse("credentials")).content.decode()
    Membership.objects.filter(user=ada).delete()
    assert 'data-testid="departed"' in client.get(reverse("credentials")).content.decode()


# The activity log


@pytest.fixture
def history(acme, alice, bob):
    rows = []
    for i in range(30):
        rows.append(
            Activity(
                team=acme,
                actor=alice if i % 2 else bob,
                actor_email=(alice if i % 2 else bob).email,
                action="app renamed" if i % 3 == 0 else "app created",
                credential_label="Live" if i % 5 else "Spare",
                target=f"app {i}",
                created_at=timezone.now() - timedelta(days=30 - i),
            )
        )
    Activity.objects.bulk_create(rows)
    return rows


def test_filters_combine(as_user, alice, bob, history):
    client = as_user(alice)
    page = client.get(
        reverse("accounts:activity"), {"person": bob.pk, "action": "app renamed"}
    ).content.decode()
    expected = [r for r in history if r.actor == bob and r.action == "app renamed"]
    assert page.count('data-testid="activity-row"') == len(expected)
    since = (timezone.now() - timedelta(days=5)).date().isoformat()
    page = client.get(
        reverse("accounts:activity"), {"since": since, "credential": "Live"}
    ).content.decode()
    recent = [
        r
        for r in history
        if r.created_at.date().isoformat() >= since and r.credential_label == "Live"
    ]
    assert page.count('data-testid="activity-row"') == len(recent)
    bad = client.get(
        reverse("accounts:activity"), {"since": "2026-02-02", "until": "2026-01-01"}
    ).content.decode()
    assert "must not be before" in bad


def test_the_credential_filter_finds_any_part_of_a_label_in_any_case(as_user, alice, history):
    client = as_user(alice)
    page = client.get(reverse("accounts:activity"), {"credential": " spa "}).content.decode()
    spare = [r for r in history if r.credential_label == "Spare"]
    assert page.count('data-testid="activity-row"') == len(spare)
    page = client.get(reverse("accounts:activity"), {"credential": "IV"}).content.decode()
    assert page.count('data-testid="activity-row"') == len(history) - len(spare)


def test_the_filters_are_filled_in_from_the_address(as_user, alice, bob, history):
    query = {"person": bob.pk, "credential": "spa", "action": "app renamed", "since": "2026-01-02"}
    page = as_user(alice).get(reverse("accounts:activity"), query).content.decode()
    filters = page.split('data-testid="activity-filters"')[1].split("</form>")[0]
    assert f'<option value="{bob.pk}" selected>' in filters
    assert 'name="credential" value="spa"' in filters
    assert '<option value="app renamed" selected>' in filters
    assert 'name="since" value="2026-01-02"' in filters


def test_filtering_with_htmx_swaps_only_the_table(as_user, alice, history):
    response = as_user(alice).get(
        reverse("accounts:activity"), {"action": "app renamed"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="activity-table">')


def test_keyset_pages_reach_every_entry_once(as_user, alice, acme, history):
    Activity.objects.bulk_create(
        [
            Activity(team=acme, actor_email="x@y.test", action="app created", target=str(i))
            for i in range(80)
        ]
    )
    client = as_user(alice)
    seen, url = [], reverse("accounts:activity")
    while url:
        page = client.get(url).content.decode()
        seen.extend(
            part.split("</td>")[0] for part in page.split('data-testid="activity-row">')[1:]
        )
        older = (
            page.split('rel="next"')[0].rsplit('href="', 1)[-1] if 'rel="next"' in page else None
        )
        url = older.split('"')[0].replace("&amp;", "&") if older else None
    assert len(seen) == 110


def test_csv_export_holds_exactly_the_filtered_entries(as_user, alice, bob, history):
    response = as_user(alice).get(reverse("accounts:activity-csv"), {"person": bob.pk})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["when", "who", "action"]
    assert len(rows) - 1 == len([r for r in history if r.actor == bob])
    assert {row[1] for row in rows[1:]} == {"bob@acme.test"}


def test_csv_cells_cannot_become_spreadsheet_formulas(as_user, alice, acme):
    Activity.objects.create(
        team=acme, actor_email="x@y.test", action="app created", target="=HYPERLINK(1)"
    )
    response = as_user(alice).get(reverse("accounts:activity-csv"))
    assert "'=HYPERLINK(1)" in b"".join(response.streaming_content).decode()


def test_entries_cannot_be_edited_or_deleted(acme):
    entry = Activity.objects.create(team=acme, action="app created")
    entry.target = "changed"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_the_activity_page_makes_the_same_queries_for_10_and_10000_entries(as_user, alice, acme):
    client = as_user(alice)
    client.get(reverse("accounts:activity"))  # warm the session

    def queries_with(total: int) -> int:
        missing = total - Activity.objects.filter(team=acme).count()
        Activity.objects.bulk_create(
            [
                Activity(team=acme, actor_email="x@y.test", action="app created")
                for _ in range(missing)
            ],
            batch_size=2000,
        )
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("accounts:activity"))
        assert page.content.decode().count('data-testid="activity-row"') == min(total, 50)
        return len(queries)

    with_ten = queries_with(10)
    with_ten_thousand = queries_with(10_000)
    assert with_ten == with_ten_thousand


def test_the_credential_filter_suggests_the_teams_labels(as_user, alice, pulsetracker_credential):
    page = as_user(alice).get(reverse("accounts:activity")).content.decode()
    assert '<datalist id="credential-labels"><option value="Acme Live">' in page
