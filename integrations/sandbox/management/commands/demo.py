"""`manage.py demo`: the sandbox and the portal wired to it, with a ready demo team.

Starts the stand-ins for both upstream APIs in this process, points the portal at them, makes
sure a demo user owns a team with one linked credential of each kind (linked through the same
checks a person's link goes through), then serves the portal until Ctrl-C. With
`--sandbox-state` (`make demo` gives `demo-sandbox.json`) the stand-ins keep their apps and
widgets in that file, so a restart shows what the portal's activity log speaks of.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from accounts.access import create_team
from accounts.crypto import Secret
from accounts.models import Membership, User
from integrations import credentials
from integrations.models import Credential, Service
from integrations.sandbox import Sandbox
from integrations.sandbox.management.ports import check_free, refusal

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-portal-password"
DEMO_TEAM = "Demo team"


class Command(BaseCommand):
    help = "Serve the portal against the API sandbox, with a demo user and team ready to use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8100)
        parser.add_argument(
            "--sandbox-state",
            default=None,
            help="JSON file keeping the sandbox's apps and widgets across restarts",
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="set up the demo team, then stop"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_serve"]:
            # Said now, in one line, rather than by runserver once everything else is ready.
            check_free(options["host"], options["port"], "PORT", "`make run` or another demo")
        sandbox = Sandbox(state_file=options["sandbox_state"])
        if sandbox.state_problem:
            self.stderr.write(sandbox.state_problem)
        try:
            sandbox.start("127.0.0.1", options["sandbox_port"])
        except OSError as exc:
            raise refusal(
                exc,
                "127.0.0.1",
                options["sandbox_port"],
                "SANDBOX_PORT",
                "`make sandbox` or another demo",
            ) from None
        for name, value in sandbox.env().items():
            setattr(settings, name, value)
        # The sandbox's OAuth client, so "Connect with Pulsoid" works in the demo too.
        settings.PULSOID_CLIENT_ID = sandbox.seed.pulsoid_client_id
        settings.PULSOID_CLIENT_SECRET = sandbox.seed.pulsoid_client_secret
        try:
            self._prepare(sandbox)
            self.stdout.write(self.style.SUCCESS("Demo ready."))
            self.stdout.write(f"  Portal:    http://{options['host']}:{options['port']}/")
            self.stdout.write(f"  Log in as: {DEMO_EMAIL} / {DEMO_PASSWORD}")
            other = options["sandbox_port"] + 1
            self.stdout.write(
                f"  Sandbox:   {sandbox.url} (`make sandbox SANDBOX_PORT={other}` lists its tokens)"
            )
            if options["sandbox_state"]:
                self.stdout.write(
                    f"  Its state: {options['sandbox_state']} (delete it to start over)"
                )
            if not options["no_serve"]:
                call_command(
                    "runserver", f"{options['host']}:{options['port']}", use_reloader=False
                )
        finally:
            sandbox.stop()

    def _prepare(self, sandbox: Sandbox) -> None:
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, name="Demo Owner")
        membership = Membership.objects.filter(user=user).select_related("team").first()
        team = membership.team if membership else create_team(user, DEMO_TEAM).team
        wanted = [
            (Service.PULSETRACKER, "Demo fleet", sandbox.seed.pulsetracker_paid_token),
            (Service.PULSOID, "Demo streamer", sandbox.seed.pulsoid_full_token),
        ]
        for service, label, token in wanted:
            existing = Credential.objects.filter(team=team, service=service, label=label).first()
            if existing is not None:
                credentials.recheck(existing, user)
                continue
            credential, result = credentials.link(team, user, service, label, Secret(token))
            if credential is None:
                self.stderr.write(f"Could not link {label}: {result.detail}")
