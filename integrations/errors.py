"""One hierarchy of upstream failures, shared by the Pulsetracker and Pulsoid clients.

Views catch these to show a message a person can act on; none of them ever carries a token: the
clients build them from an upstream's answer only after scrubbing it (`integrations.http`), and
`scrub` cleans every text an error carries once more as it leaves the client.
"""

from __future__ import annotations

from collections.abc import Callable


class UpstreamError(Exception):
    """Something went wrong talking to an upstream. `message` is fit to show to a user."""

    default_message = "The upstream service answered with an error."

    def __init__(self, message: str | None = None, *, service: str = "", status: int | None = None):
        self.message = message or self.default_message
        self.service = service
        self.status = status
        super().__init__(self.message)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, service={self.service!r}, status={self.status})"

    def scrub(self, clean: Callable[[str], str]) -> None:
        """Pass every text this error carries (what is shown, logged and stored) through `clean`."""
        self.message = clean(self.message)
        self.args = tuple(clean(a) if isinstance(a, str) else a for a in self.args)


class TokenRejected(UpstreamError):
    """The token is missing, wrong, revoked or expired: it must be replaced (or refreshed)."""

    default_message = "The upstream rejected the token: it is wrong, revoked or expired."

    def __init__(self, message: str | None = None, *, expired: bool = False, **kwargs) -> None:
        self.expired = expired
        super().__init__(message, **kwargs)


class GrantRejected(TokenRejected):
    """An OAuth code or refresh token was refused (used already, expired, or not ours)."""

    default_message = (
        "Pulsoid refused the authorization: the code or refresh token is no longer valid."
    )


class MissingScope(UpstreamError):
    """The token works but lacks the scope this call needs."""

    def __init__(self, scope: str, message: str | None = None, **kwargs) -> None:
        self.scope = scope
        super().__init__(message or f"The token lacks the “{scope}” permission.", **kwargs)


class QuotaExceeded(UpstreamError):
    """A plan limit or quota stops the action; `message` is the upstream's own words."""

    default_message = "The upstream plan's limit has been reached."


class ValidationFailed(UpstreamError):
    """The upstream refused the input; `errors` maps field name to messages."""

    default_message = "The upstream refused the input."

    def __init__(
        self, message: str | None = None, *, errors: dict[str, list[str]] | None = None, **kwargs
    ) -> None:
        self.errors: dict[str, list[str]] = errors or {}
        super().__init__(message, **kwargs)

    def scrub(self, clean: Callable[[str], str]) -> None:
        super().scrub(clean)
        self.errors = {
            clean(field): [clean(m) for m in messages] for field, messages in self.errors.items()
        }


class NotFound(UpstreamError):
    default_message = "The upstream has no such item (or it belongs to another account)."


class RateLimited(UpstreamError):
    """Too many requests; `retry_after` is in seconds when the upstream said."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        if message is None:
            message = "The upstream is limiting requests; try again"
            message += f" in {retry_after:g} seconds." if retry_after is not None else " shortly."
        super().__init__(message, **kwargs)


class PremiumRequired(UpstreamError):
    default_message = "This needs a paid upstream plan."


class Unavailable(UpstreamError):
    """The upstream could not be reached in time, refused the connection, or failed (5xx)."""

    default_message = "The upstream service is unavailable right now; try again in a moment."


class BadResponse(UpstreamError):
    """The upstream answered something the portal cannot use (not JSON, wrong shape, too large)."""

    default_message = "The upstream sent an answer the portal could not understand."
