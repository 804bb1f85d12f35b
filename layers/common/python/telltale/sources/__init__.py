"""The data-source registry: every source a saved query can run against, declared once.

Each module here declares one :class:`~telltale.sources.base.Source`: its slug and secret type, the
fields of its connection secret (and which are secret), the language its templates render to, the
functions and table functions its SQL may use, how secret values are bound, its connector and a no-op test
query. The secret types (``GET .../secrets/types/``), the statement guard and the renderer are derived from
it. Adding a source is one module and one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from telltale.platform.errors import SecretResolutionError
from telltale.sources.base import SecretField, Source, SqlRules

__all__ = ["INTERNAL", "SecretField", "Source", "SqlRules", "by_secret_type", "connector", "external", "get"]

_MODULES = ("postgres", "mysql", "redshift", "clickhouse", "elasticsearch", "internal")


@lru_cache(maxsize=1)
def _registry() -> dict[str, Source]:
    sources = {}
    for name in _MODULES:
        source: Source = importlib.import_module(f"telltale.sources.{name}").SOURCE
        sources[source.slug] = source
    return sources


def get(slug: str) -> Source:
    return _registry()[slug]


def external() -> list[Source]:
    """The sources a secret selects, in the spec's order."""
    return [s for s in _registry().values() if s.secret_type]


INTERNAL = "internal"


def by_secret_type(type_slug: str) -> Source:
    """The source a secret type selects; spec 000's setup errors otherwise."""
    for source in external():
        if source.secret_type == type_slug:
            return source
    known = ", ".join(sorted(str(s.secret_type) for s in external()))
    if not type_slug.startswith("analytics-"):
        raise SecretResolutionError(
            f"Unsupported analytics datasource: secret type '{type_slug}' is not an analytics type; "
            f"use one of {known} (for example analytics-postgres, not postgres)")
    raise SecretResolutionError(f"Driver not supported: no driver for secret type '{type_slug}'; supported: {known}")


def connector(source: Source) -> Any:
    """The source's connector; its module (and its client library) is imported only now."""
    return importlib.import_module(source.connector).CONNECTOR
