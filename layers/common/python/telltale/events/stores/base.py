"""The event store port: what the ingest worker, the DSL and the SaaS metrics need of a store.

Every adapter is append-only and idempotent on (tenant, eventId): writing the same event twice stores it
once, which is what makes queue redelivery, worker crashes and client replays safe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event

# Reads stop before API Gateway's 29 s, so that the client gets a reason, not a timeout.
QUERY_TIMEOUT_S = 25


def too_slow() -> Exception:
    from telltale.platform.errors import ServiceUnavailable

    return ServiceUnavailable(f"the query ran longer than {QUERY_TIMEOUT_S} s; narrow the time range or add filters")


class EventStore(Protocol):
    dialect: Dialect

    @property
    def table(self) -> str:
        """The schema-qualified table the DSL reads."""

    def write(self, events: list[Event]) -> int:
        """Store the events (idempotently); returns how many were new."""

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        """Run a compiled DSL query; rows as tuples in column order."""

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        """A user's events since ``since``, newest first (the SaaS user history)."""
