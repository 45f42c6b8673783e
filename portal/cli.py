"""`pulse-portal`: the portal's API (/api/v1/) from a terminal or a script.

A plain HTTP client, on purpose: it imports nothing from Django or the portal's apps, so it works
against any portal it can reach, and what it can do is exactly what the API lets a token do.
Configured by the environment: PORTAL_URL (the portal's address) and PORTAL_TOKEN (a personal
access token, `ptp_…`, sent only as `Authorization: Bearer`, never printed or put in a URL).

Tables for people by default; `--json` prints the API's JSON as it came, for scripts. The exit
code says whose "no" it was (see EXIT_CODES), so a script can tell a bad token from a full quota
from a portal that is down.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

import requests

OK = 0
USAGE = 2
REFUSED = 3
UPSTREAM = 4
UNREACHABLE = 5

EXIT_CODES = """\
exit codes:
  0  done
  2  usage error: a wrong command or option, or PORTAL_URL / PORTAL_TOKEN missing or malformed
  3  refused by the portal: the token is unknown, revoked or expired (401), lacks a scope or its
     owner's role no longer allows it (403), no such credential (404), invalid input (422)
  4  refused by the upstream (Pulsetracker or Pulsoid): its quota, validation, scopes, plan or
     outage (problem kinds "upstream-…"), or the credential needs re-linking (409)
  5  the portal is unreachable: connection error, timeout, or an answer that is not the portal's
     API (a 5xx or any error without a problem body, a redirect)
"""

# (connect, read) in seconds: a create waits on the portal, which waits on the upstream.
TIMEOUT = (5.0, 60.0)
USER_AGENT = "pulse-portal (command line for the Pulse team portal)"
API_PREFIX = "/api/v1"
# Characters a token can contain; anything else is a paste gone wrong, refused before sending
# (and never echoed, unlike the error requests would raise for it).
TOKEN_CHARACTERS = frozenset(chr(c) for c in range(33, 127))
# Control characters from the portal or an upstream (an app name, an error message) would drive
# the terminal; tables and error lines show them as "?".
_CONTROLS = {c: "?" for c in [*range(0, 32), *range(127, 160)]} | {9: " ", 10: " ", 13: " "}


class Failure(Exception):
    """A command that did not get what it asked for: the exit code and what to tell the person.

    `body` is the portal's own error body (a problem), printed as is to stdout under --json.
    """

    def __init__(self, code: int, lines: list[str], body: str = "") -> None:
        super().__init__(lines[0] if lines else "")
        self.code, self.lines, self.body = code, lines, body


class BearerAuth(requests.auth.AuthBase):
    """Authorization: Bearer <token>. Passed as `auth` so a ~/.netrc entry for the portal's host
    cannot replace it, and with a repr that does not show the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<token>)"


class Portal:
    """The portal's API at `base` (no trailing slash), as one token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.auth = BearerAuth(token)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        expect: str = "application/json",
    ) -> requests.Response:
        """One request, never retried; a 2xx answer of the expected type, or a Failure."""
        url = f"{self.base}{API_PREFIX}{path}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise Failure(
                UNREACHABLE, [f"The portal at {self.base} did not answer in time."]
            ) from None
        except requests.ConnectionError:
            raise Failure(UNREACHABLE, [f"Cannot reach the portal at {self.base}."]) from None
        except requests.RequestException as exc:
            raise Failure(
                UNREACHABLE, [f"Cannot talk to the portal at {self.base} ({type(exc).__name__})."]
            ) from None
        if 200 <= response.status_code < 300:
            if _media_type(response) != expect:
                raise Failure(
                    UNREACHABLE,
                    [
                        f"{self.base} answered {response.status_code} with "
                        f"{_media_type(response) or 'no content type'}, not the portal's API: "
                        "is PORTAL_URL right?"
                    ],
                )
            return response
        raise _failure(self.base, response)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _problem(response: requests.Response) -> dict[str, Any] | None:
    """The RFC 9457 problem in an error answer, if it has one."""
    if _media_type(response) not in ("application/problem+json", "application/json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("title"), str):
        return body
    return None


def _failure(base: str, response: requests.Response) -> Failure:
    """Whose refusal an error answer is, and what to tell the person."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        return Failure(
            UNREACHABLE,
            [
                f"{base} redirects ({status}) to {clean(where)}: set PORTAL_URL to the portal's "
                "own address (redirects are not followed, so the token goes nowhere else)."
            ],
        )
    problem = _problem(response)
    if problem is None:
        said = " ".join(filter(None, [str(status), clean(response.reason or "")]))
        return Failure(
            UNREACHABLE,
            [
                f"{base} answered {said} without a problem body: the portal is failing, or "
                "PORTAL_URL is not the portal."
            ],
        )
    kind = str(problem.get("kind", ""))
    if kind.startswith("upstream-") or kind == "credential-unusable":
        code = UPSTREAM
    elif status >= 500:
        code = UNREACHABLE
    else:
        code = REFUSED
    return Failure(code, problem_lines(problem, response), body=response.text)


def problem_lines(problem: dict[str, Any], response: requests.Response) -> list[str]:
    """A problem as lines a person can act on: title, detail, errors per field, who said no."""
    lines = [clean(str(problem["title"]))]
    if problem.get("detail"):
        lines.append(clean(str(problem["detail"])))
    errors = problem.get("errors")
    if isinstance(errors, dict):
        for field, messages in errors.items():
            said = messages if isinstance(messages, list) else [messages]
            lines.append(f"{clean(str(field))}: {clean('; '.join(str(m) for m in said))}")
    if problem.get("service") and problem.get("upstream_status"):
        lines.append(
            f"({clean(str(problem['service']))} answered {clean(str(problem['upstream_status']))})"
        )
    retry = problem.get("retry_after") or response.headers.get("Retry-After")
    if retry:
        lines.append(f"Try again in {clean(str(retry))} s.")
    return lines


def clean(text: str) -> str:
    """Text from the portal or an upstream, safe to show on a terminal."""
    return text.translate(_CONTROLS)


# Output


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], out: TextIO) -> None:
    """Aligned plain-text columns; "-" for an empty value."""
    cells = [[clean(_show(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _show(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def when(value: Any) -> str:
    """An API timestamp (ISO 8601) to the minute, in the zone it was sent in."""
    if not isinstance(value, str) or not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else moment.strftime(" %z")
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def apps_table(apps: list[dict[str, Any]], out: TextIO) -> None:
    table(
        [
            [
                a.get("key"),
                a.get("name"),
                a.get("devices_count"),
                a.get("messages_this_month"),
                when(a.get("created_at")),
            ]
            for a in apps
        ],
        ["KEY", "NAME", "DEVICES", "MESSAGES THIS MONTH", "CREATED"],
        out,
    )


def widgets_table(widgets: list[dict[str, Any]], out: TextIO) -> None:
    table(
        [[w.get("id"), w.get("name"), w.get("configuration") or {}] for w in widgets],
        ["ID", "NAME", "CONFIGURATION"],
        out,
    )


# Commands: each gets the parsed arguments and the portal, and returns what to print.


def _key(args: argparse.Namespace) -> str:
    return args.idempotency_key or str(uuid.uuid4())


def _created(portal: Portal, path: str, body: dict[str, Any], key: str) -> requests.Response:
    """A create, sent with an Idempotency-Key: if the answer is lost, the same key again makes
    the portal answer with what it made the first time instead of making a second one."""
    try:
        return portal.call("POST", path, body=body, headers={"Idempotency-Key": key})
    except Failure as failure:
        if failure.code == UNREACHABLE:
            failure.lines.append(
                "It may or may not have been created. To retry without making a second one, run "
                f"the same command again with --idempotency-key {key}"
            )
        raise


def apps_list(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    response = portal.call("GET", f"/apps/{args.credential_id}", params={"page": args.page})
    if not args.json:
        page = response.json()
        apps_table(page["items"], out)
        out.write(f"Page {page['current_page']} of {page['last_page']} ({page['total']} apps).\n")
    return response


def apps_create(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    response = _created(portal, f"/apps/{args.credential_id}", {"name": args.name}, _key(args))
    if not args.json:
        apps_table([response.json()], out)
    if response.headers.get("Idempotent-Replayed") == "true":
        sys.stderr.write("(The portal had already made this with that Idempotency-Key.)\n")
    return response


def apps_rename(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    key = quote(args.app_key, safe="")
    response = portal.call("PATCH", f"/apps/{args.credential_id}/{key}", body={"name": args.name})
    if not args.json:
        apps_table([response.json()], out)
    return response


def widgets_list(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    response = portal.call("GET", f"/widgets/{args.credential_id}")
    if not args.json:
        widgets_table(response.json(), out)
    return response


def widgets_create(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    body = {"name": args.name, "configuration": args.configuration or {}}
    response = _created(portal, f"/widgets/{args.credential_id}", body, _key(args))
    if not args.json:
        widgets_table([response.json()], out)
    if response.headers.get("Idempotent-Replayed") == "true":
        sys.stderr.write("(The portal had already made this with that Idempotency-Key.)\n")
    return response


def widgets_update(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    wid = quote(args.widget_id, safe="")
    response = portal.call(
        "PUT", f"/widgets/{args.credential_id}/{wid}", body={"configuration": args.configuration}
    )
    if not args.json:
        widgets_table([response.json()], out)
    return response


def credentials(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response:
    response = portal.call("GET", "/credentials")
    if not args.json:
        table(
            [
                [
                    c.get("id"),
                    c.get("label"),
                    c.get("service"),
                    c.get("health"),
                    when(c.get("expires_at")),
                    when(c.get("checked_at")),
                    c.get("scopes"),
                ]
                for c in response.json()
            ],
            ["ID", "LABEL", "SERVICE", "HEALTH", "EXPIRES", "CHECKED", "SCOPES"],
            out,
        )
    return response


def activity(args: argparse.Namespace, portal: Portal, out: TextIO) -> requests.Response | None:
    filters = {
        "action": args.action,
        "credential": args.credential,
        "since": args.since,
        "until": args.until,
    }
    params = {k: v for k, v in filters.items() if v}
    if args.csv:
        response = portal.call("GET", "/activity.csv", params=params, expect="text/csv")
        out.write(response.text)
        return None
    response = portal.call("GET", "/activity", params=params)
    if not args.json:
        table(
            [
                [
                    when(e.get("created_at")),
                    e.get("who"),
                    e.get("via"),
                    e.get("action"),
                    e.get("credential"),
                    e.get("target"),
                    _outcome(e),
                ]
                for e in response.json()
            ],
            ["WHEN", "WHO", "VIA", "ACTION", "CREDENTIAL", "TARGET", "OUTCOME"],
            out,
        )
    return response


def _outcome(entry: dict[str, Any]) -> str:
    said = " ".join(str(v) for v in (entry.get("error"), entry.get("status")) if v)
    return f"{entry.get('outcome') or '-'}{f' ({said})' if said else ''}"


# Arguments


def _configuration(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"heart\": true}'")
    return value


def _day(text: str) -> str:
    try:
        datetime.strptime(text, "%Y-%m-%d")  # noqa: DTZ007 (a calendar date, no time zone)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None
    return text


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return number


JSON_HELP = "print the API's JSON as it came (an error's problem body too), for scripts"
IDEMPOTENCY_HELP = (
    "Sent as the Idempotency-Key header. A fresh key is made for every run unless you give one; "
    "if a run ends without an answer (exit 5), rerun it with the key it prints and the portal "
    "returns what it made the first time instead of making a second one (keys last a day)."
)


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    # --json works before the command and after it; given after, it must not reset the first.
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
    parser = argparse.ArgumentParser(
        prog="pulse-portal",
        formatter_class=raw,
        description=(
            "Work with the team portal's API: the team's Pulsetracker apps and Pulsoid widgets\n"
            "through its credentials, and its activity log.\n\n"
            "environment:\n"
            "  PORTAL_URL    the portal's address, e.g. https://portal.example.com\n"
            "  PORTAL_TOKEN  a personal access token (ptp_…) from Account > API tokens; sent only\n"
            "                as Authorization: Bearer, never printed\n\n"
            "CREDENTIAL_ID is a number from `pulse-portal credentials`."
        ),
        epilog=EXIT_CODES,
    )
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    apps = commands.add_parser("apps", help="Pulsetracker apps (scopes apps:read, apps:write)")
    apps_commands = apps.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    listing = apps_commands.add_parser(
        "list", parents=[json_flag], help="one page of apps, newest first (12 a page)"
    )
    listing.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    listing.add_argument("--page", type=_positive, default=1, metavar="N")
    listing.set_defaults(run=apps_list)
    create = apps_commands.add_parser(
        "create",
        parents=[json_flag],
        formatter_class=raw,
        help="create an app (safe to retry: sends an Idempotency-Key)",
        description=(
            "Create a Pulsetracker app through the team's credential.\n\n"
            "Safe to retry: every run sends an Idempotency-Key (a fresh one unless you give\n"
            "--idempotency-key). If the answer is lost to a network error, the command prints the\n"
            "key; run it again with --idempotency-key KEY and the portal answers with the app it\n"
            "made the first time instead of creating a second one."
        ),
        epilog=EXIT_CODES,
    )
    create.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--idempotency-key", metavar="K", help=IDEMPOTENCY_HELP)
    create.set_defaults(run=apps_create)
    rename = apps_commands.add_parser("rename", parents=[json_flag], help="rename an app")
    rename.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    rename.add_argument("app_key", metavar="APP_KEY")
    rename.add_argument("name", metavar="NAME")
    rename.set_defaults(run=apps_rename)

    widgets = commands.add_parser(
        "widgets", help="Pulsoid widgets (scopes widgets:read, widgets:write)"
    )
    widget_commands = widgets.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    listing = widget_commands.add_parser("list", parents=[json_flag], help="the widgets")
    listing.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    listing.set_defaults(run=widgets_list)
    create = widget_commands.add_parser(
        "create",
        parents=[json_flag],
        help="create a heart-rate widget (safe to retry: sends an Idempotency-Key)",
        description="Create a Pulsoid heart-rate (BPM) widget through the team's credential.",
    )
    create.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--configuration", type=_configuration, metavar="JSON", help="a JSON object"
    )
    create.add_argument("--idempotency-key", metavar="K", help=IDEMPOTENCY_HELP)
    create.set_defaults(run=widgets_create)
    update = widget_commands.add_parser(
        "update", parents=[json_flag], help="replace a widget's whole configuration"
    )
    update.add_argument("credential_id", type=int, metavar="CREDENTIAL_ID")
    update.add_argument("widget_id", metavar="WIDGET_ID")
    update.add_argument(
        "--configuration", type=_configuration, required=True, metavar="JSON", help="a JSON object"
    )
    update.set_defaults(run=widgets_update)

    creds = commands.add_parser(
        "credentials",
        parents=[json_flag],
        help="the team's credentials: id, health, scopes (scope credentials:read)",
    )
    creds.set_defaults(run=credentials)

    log = commands.add_parser(
        "activity",
        parents=[json_flag],
        help="the team's activity log, newest 50 first; --csv for every entry (activity:read)",
    )
    log.add_argument("--csv", action="store_true", help="every matching entry, as CSV")
    log.add_argument("--action", metavar="A", help='e.g. "app created"')
    log.add_argument("--credential", metavar="LABEL", help="a credential's label")
    log.add_argument("--since", type=_day, metavar="YYYY-MM-DD")
    log.add_argument("--until", type=_day, metavar="YYYY-MM-DD")
    log.set_defaults(run=activity)
    return parser


def _configured(parser: argparse.ArgumentParser) -> Portal:
    """The portal from the environment; a usage error (exit 2) when it is missing or malformed."""
    url = os.environ.get("PORTAL_URL", "").strip().rstrip("/")
    token = os.environ.get("PORTAL_TOKEN", "").strip()
    if not url:
        parser.error("set PORTAL_URL to the portal's address, e.g. https://portal.example.com")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"PORTAL_URL must be an http:// or https:// address, not {clean(url)!r}")
    if not token:
        parser.error("set PORTAL_TOKEN to a personal access token (Account > API tokens)")
    if not set(token) <= TOKEN_CHARACTERS:
        parser.error("PORTAL_TOKEN holds spaces or characters no token has; paste it again")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        sys.stderr.write(
            "pulse-portal: warning: PORTAL_URL is http://, so the token crosses the network "
            "unencrypted; use https://\n"
        )
    return Portal(url, token)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code is one of EXIT_CODES."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        portal = _configured(parser)
    except SystemExit as exit_:  # --help, or argparse's usage error (2)
        return exit_.code if isinstance(exit_.code, int) else USAGE
    run: Callable[[argparse.Namespace, Portal, TextIO], requests.Response | None] = args.run
    out = sys.stdout
    try:
        try:
            response = run(args, portal, out)
        finally:
            portal.session.close()
        if args.json and response is not None:
            out.write(response.text.rstrip("\n") + "\n")
        out.flush()
    except Failure as failure:
        if args.json and failure.body:
            out.write(failure.body.rstrip("\n") + "\n")
        sys.stderr.write("".join(f"pulse-portal: {line}\n" for line in failure.lines[:1]))
        sys.stderr.write("".join(f"  {line}\n" for line in failure.lines[1:]))
        return failure.code
    except (ValueError, KeyError, TypeError):
        # A 2xx answer of another shape: a portal of another version, or not the portal at all.
        sys.stderr.write(
            "pulse-portal: the answer is not what this client expects from the portal's API; "
            "--json shows it as it came\n"
        )
        return UNREACHABLE
    except BrokenPipeError:
        # `pulse-portal activity --csv | head`: the reader has what it wanted. Point stdout at
        # /dev/null so Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    return OK


if __name__ == "__main__":
    raise SystemExit(main())
