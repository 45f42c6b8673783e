"""What every Pulsetracker screen shares: the credential it works through, the page asked for,
how a failed read is shown (the kinds the templates' state sections name), and where a refused
change's reasons go in its form."""

from __future__ import annotations

from django import forms

from accounts.access import team_object_or_404
from integrations.errors import (
    NotFound,
    RateLimited,
    TokenRejected,
    UpstreamError,
    ValidationFailed,
)
from integrations.models import Credential, Service
from integrations.tokens import CredentialUnusable
from portal.htmx import PortalRequest


def credential_or_404(request: PortalRequest, cid: int) -> Credential:
    """One of the team's Pulsetracker credentials; another team's (or none) is a 404."""
    return team_object_or_404(Credential, request, pk=cid, service=Service.PULSETRACKER)


def page_number(request: PortalRequest) -> int:
    """`?page=` as a page number (1 when missing or not a number)."""
    value = request.GET.get("page", "1")
    return max(1, int(value)) if value.isdigit() else 1


def failure(exc: CredentialUnusable | UpstreamError) -> dict[str, str]:
    """How a screen shows a failed read, by what went wrong: the token (rejected, or no longer
    decrypting), too many requests, not found, another refusal (a 4xx), or the upstream being
    away (5xx, no answer, an unreadable one)."""
    if isinstance(exc, CredentialUnusable):
        return {"kind": "relink", "message": exc.message}
    if isinstance(exc, TokenRejected):
        return {"kind": "rejected", "message": exc.message}
    if isinstance(exc, RateLimited):
        return {"kind": "rate-limited", "message": exc.message}
    if isinstance(exc, NotFound):
        return {"kind": "not-found", "message": exc.message}
    if exc.status is not None and 400 <= exc.status < 500:
        return {"kind": "refused", "message": exc.message}
    return {"kind": "unavailable", "message": exc.message}


def upstream_errors(
    form: forms.Form, exc: CredentialUnusable | UpstreamError, *, field: str | None = None
) -> None:
    """Put an upstream's refusal beside the fields it names; what names no field of the form
    goes above it (or beside `field`, for a one-field editor)."""
    if isinstance(exc, ValidationFailed) and exc.errors:
        for name, messages in exc.errors.items():
            for message in messages:
                form.add_error(name if name in form.fields else field, message)
    else:
        form.add_error(field, exc.message)
