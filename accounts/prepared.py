"""Queries that run on every page, compiled to SQL once per process.

Building a queryset's SQL costs more than running it: on the benchmark machine a one-table
query takes about 0.7 ms through the ORM, of which about 0.45 ms is Django turning the queryset
into SQL. The layout's membership list and the apps page's credential list run on every page
view, so their SQL is built once (per database vendor) from an ordinary queryset and re-run
through `Model.objects.raw()`, which still applies every field's converters, so the objects are
the same as the ORM's.

Parameters are found by value: the queryset is built with a unique sentinel for each argument
and each sentinel in the compiled parameters is replaced by the caller's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

#: Integers no primary key or filter value in the portal ever takes.
_SENTINEL_BASE = -7_340_000_000


class Prepared(Generic[M]):
    """`Prepared(lambda team_id: Credential.objects.filter(team_id=team_id))(team_id=3)`.

    Every argument must be an integer (ids); constants inside the lambda stay constants.
    """

    def __init__(self, build: Callable[..., QuerySet[M]], *names: str, using: str = "default"):
        self.build = build
        self.names = names
        self.using = using
        self._compiled: dict[str, tuple[type[M], str, list[tuple[str | None, Any]]]] = {}

    def _compile(self) -> tuple[type[M], str, list[tuple[str | None, Any]]]:
        vendor = connections[self.using].vendor
        if vendor not in self._compiled:
            sentinels = {name: _SENTINEL_BASE - index for index, name in enumerate(self.names)}
            queryset = self.build(**sentinels)
            sql, params = queryset.query.sql_with_params()
            by_value = {value: name for name, value in sentinels.items()}
            slots = [
                (by_value[p], None) if isinstance(p, int) and p in by_value else (None, p)
                for p in params
            ]
            missing = set(self.names) - {name for name, _ in slots if name}
            if missing:
                raise ValueError(f"arguments not found in the compiled query: {missing}")
            self._compiled[vendor] = (queryset.model, sql, slots)
        return self._compiled[vendor]

    def __call__(self, **values: int) -> list[M]:
        model, sql, slots = self._compile()
        params = [values[name] if name else constant for name, constant in slots]
        return list(model._default_manager.db_manager(self.using).raw(sql, params))
