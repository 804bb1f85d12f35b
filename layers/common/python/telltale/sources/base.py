"""What a data source declares: everything true of it, in one place.

A :class:`Source` is plain data (no driver, no pydantic), so reading the registry costs an execution
nothing: the secret type's model is built from :attr:`Source.secret_fields` only by the secrets API, the
connector's module is imported only when a query runs, and the allow-lists are turned into sqlglot's
vocabulary once per dialect, on first use (:mod:`telltale.queries.allowlist`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FieldKind = Literal["string", "integer", "boolean", "object"]


def words(text: str) -> frozenset[str]:
    """A set of names written as a block of text, one or more a line: long allow-lists stay readable."""
    return frozenset(text.split())


@dataclass(frozen=True)
class SecretField:
    """One field of a source's connection secret (spec 000's "Secret Configuration" tables)."""

    name: str
    kind: FieldKind
    description: str
    required: bool = True
    default: Any = None
    # Never shown, logged or returned; redacted from every error and reply of a run that used it.
    secret: bool = False
    minimum: int | None = None
    maximum: int | None = None
    # A host the service connects to: checked by the outbound-address policy.
    host: bool = False
    # Strings must not be empty unless this says so (a passwordless account's password).
    allow_empty: bool = False


@dataclass(frozen=True)
class SqlRules:
    """How the statement guard and the renderer treat one SQL dialect.

    ``functions`` are the scalar, aggregate and window functions a query may call, in the database's own
    spelling; ``table_functions`` the ones allowed in FROM. Both are allow-lists: a function that is not
    named here is refused with its name, whatever it does. ``constructs`` are sqlglot expression classes
    that the dialect's syntax produces without a function call (CAST, EXTRACT, CASE, ...).
    """

    dialect: str
    functions: frozenset[str]
    table_functions: frozenset[str] = frozenset()
    constructs: frozenset[str] = frozenset()
    # Schemas (databases, in MySQL and ClickHouse) that hold the server's catalog: never readable.
    system_schemas: frozenset[str] = frozenset()
    # Relation-name prefixes that resolve to the catalog even unqualified (PostgreSQL's pg_*).
    system_prefixes: tuple[str, ...] = ()
    # How a secret value reaches the database: "named" (a bound :name parameter, pg8000), "typed"
    # (ClickHouse's server-side {name:Type} parameters) or "literal" (a literal sqlglot generates: pymysql
    # has no server-side binding, it would only quote the value client-side the same way).
    secret_binding: Literal["named", "typed", "literal"] = "named"


@dataclass(frozen=True)
class Source:
    """A data source: what a saved query can run against."""

    slug: str
    name: str
    description: str
    # The secret type that selects this source ("analytics-postgres"); None for the internal source.
    secret_type: str | None
    # The language templates render to: a sqlglot dialect, or "elasticsearch" (a JSON search body).
    language: str
    connector: str
    test_query: str
    secret_fields: tuple[SecretField, ...] = ()
    sql: SqlRules | None = None

    @property
    def secret_field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.secret_fields if f.secret)

    def secret_strings(self, config: dict[str, Any]) -> list[str]:
        """The values of this source's secret fields in ``config``: redacted from everything a run says."""
        out: list[str] = []
        for f in self.secret_fields:
            value = config.get(f.name)
            if not f.secret or value is None or value == "":
                continue
            out.extend(str(v) for v in value.values()) if isinstance(value, dict) else out.append(str(value))
        return out
