"""`manage.py sandbox`: serve the local stand-ins for Pulsetracker and Pulsoid in the foreground."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.sandbox import Sandbox
from integrations.sandbox.management.ports import refusal


class Command(BaseCommand):
    """Serve the API sandbox until Ctrl-C, printing its URLs, seeded tokens and settings."""

    # The sandbox needs nothing from the portal's configuration, so skip its checks.
    requires_system_checks: list[str] = []

    help = (
        "Serve in-memory stand-ins for the Pulsetracker and Pulsoid APIs (seeded users and "
        "tokens included) until Ctrl-C, and print the settings that point the portal at them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
        parser.add_argument("--port", type=int, default=8100, help="port to bind (8100)")
        parser.add_argument("--quiet", action="store_true", help="do not print a line per request")
        parser.add_argument(
            "--state", default=None, help="JSON file keeping the state across restarts"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sandbox = Sandbox(state_file=options["state"])
        if sandbox.state_problem:
            self.stderr.write(sandbox.state_problem)
        self._log_requests(quiet=options["quiet"])
        try:
            sandbox.start(options["host"], options["port"])
        except OSError as exc:
            raise refusal(
                exc, options["host"], options["port"], "SANDBOX_PORT", "`make demo`"
            ) from None
        self._describe(sandbox)
        try:
            sandbox.wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the sandbox.")
        finally:
            sandbox.stop()

    def _describe(self, sandbox: Sandbox) -> None:
        seed = sandbox.seed
        out = self.stdout
        out.write(self.style.SUCCESS(f"API sandbox listening on {sandbox.url}  (Ctrl-C stops it)"))
        out.write("")
        out.write("Point the portal at it:")
        for name, value in sandbox.env().items():
            out.write(f"  export {name}={value}")
        out.write("")
        out.write("Pulsetracker tokens (Authorization: Bearer ...):")
        out.write(f"  free plan, 1 app, at its limit  {seed.pulsetracker_free_token}")
        out.write(f"  paid plan, 30 apps             {seed.pulsetracker_paid_token}")
        out.write(f"  email not verified, no apps    {seed.pulsetracker_unverified_token}")
        out.write("Pulsetracker webhook secrets (they sign geofence events):")
        tracker = sandbox.pulsetracker
        for label, token in (
            ("free plan", seed.pulsetracker_free_token),
            ("paid plan", seed.pulsetracker_paid_token),
        ):
            out.write(f"  {label:<30} {tracker.webhook_secret(token)}")
        free_id = tracker.app_id(seed.pulsetracker_free_app_key)
        out.write(f"  (app ids: the free plan's app is {free_id}; Fleet 01 to 30 are 2 to 31)")
        out.write("")
        out.write("Pulsoid tokens:")
        out.write(f"  all scopes, widgets and data   {seed.pulsoid_full_token}")
        out.write(f"  widgets:read + profile:read    {seed.pulsoid_readonly_token}")
        out.write(f"  all scopes, no heart rate yet  {seed.pulsoid_nodata_token}")
        out.write(f"  expired                        {seed.pulsoid_expired_token}")
        out.write(
            f"  OAuth client                   {seed.pulsoid_client_id} / "
            f"{seed.pulsoid_client_secret}"
        )
        out.write("")
        out.write("Pulsoid widget viewer (public, paste into OBS):")
        viewer = sandbox.pulsoid_viewer_url
        out.write(f"  Stream overlay                 {viewer}{seed.pulsoid_widget_ids[0]}")
        out.write(f"  Minimal                        {viewer}{seed.pulsoid_widget_ids[1]}")
        out.write("")
        # Piped output (make demo | tee) should show the tokens now, not at exit.
        out.flush()

    def _log_requests(self, *, quiet: bool) -> None:
        # The server logs one line per request at INFO; show them like runserver does.
        logger = logging.getLogger("integrations.sandbox")
        if quiet:
            logger.setLevel(logging.WARNING)
            return
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
