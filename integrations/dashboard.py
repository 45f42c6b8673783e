"""The team's dashboard: every credential by condition, each with its card from upstream.

Credentials that need attention come first, then those expiring or due for rotation, then the
rest. Each card's upstream reads (`Upstream.summarize`) run at once for all credentials
(`fanout.settle`), so the dashboard waits about one round trip (two for an account with more
than one page of apps), and through the upstream cache (`cache.read`), so a repeat view paints
at once; one credential failing gets its own message.
A credential whose token cannot work (rejected, expired, needs re-linking) is not asked at all:
its card says what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from accounts.models import Team, User
from integrations import alerts, cache, fanout
from integrations.errors import UpstreamError
from integrations.models import Condition, Credential, Health
from integrations.registry import upstream
from integrations.tokens import CredentialUnusable
from integrations.upstreams import Summary

#: How the dashboard orders conditions: trouble first, then warnings, then the healthy.
TROUBLE = {
    Condition.REJECTED,
    Condition.EXPIRED,
    Condition.MISSING_SCOPE,
    Condition.UNREACHABLE,
    Condition.NEEDS_RELINKING,
}
WARNINGS = {Condition.EXPIRING, Condition.ROTATE}

#: Tokens that cannot work until someone replaces them: nothing is asked upstream with them.
NOT_ASKED = {Health.REJECTED, Health.EXPIRED, Health.NEEDS_RELINKING}


@dataclass(frozen=True)
class Card:
    """One credential on the dashboard."""

    credential: Credential
    condition: Condition
    summary: Summary | None = None
    error: str = ""  # why the card's facts could not be read

    @property
    def rank(self) -> int:
        return 0 if self.condition in TROUBLE else 1 if self.condition in WARNINGS else 2

    @property
    def attention(self) -> bool:
        return self.condition in TROUBLE

    @property
    def warning(self) -> bool:
        return self.condition in WARNINGS


@dataclass(frozen=True)
class Dashboard:
    cards: list[Card]
    freshness: cache.Read[None]


def dashboard(team: Team, user: User, *, fresh: bool = False) -> Dashboard:
    """The team's credentials with their cards, trouble first; `fresh` asks upstream again."""
    conditions = alerts.conditions(team)
    credentials = list(Credential.objects.filter(team=team))
    calls: dict[int, Callable[[], cache.Read[Summary]]] = {}
    for credential in credentials:
        summarize = upstream(credential.service).summarize
        if summarize is not None and credential.health not in NOT_ASKED:
            calls[credential.pk] = partial(summarize, credential, user, fresh)
    found = dict(zip(calls, fanout.settle(list(calls.values())), strict=True))
    cards = []
    reads: list[cache.Read[Summary]] = []
    for credential in credentials:
        condition = conditions.get(credential.pk, Condition.OK)
        outcome = found.get(credential.pk)
        if isinstance(outcome, UpstreamError | CredentialUnusable):
            cards.append(Card(credential, condition, error=outcome.message))
        elif isinstance(outcome, Exception):
            raise outcome  # the portal's own fault: a server error, reported as one
        elif outcome is not None:
            reads.append(outcome)
            cards.append(Card(credential, condition, summary=outcome.value))
        else:
            cards.append(Card(credential, condition, error=credential.health_detail))
    cards.sort(key=lambda card: (card.rank, card.credential.service, card.credential.label))
    return Dashboard(cards, cache.oldest(reads))
