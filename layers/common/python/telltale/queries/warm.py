"""What ``execute_query`` does once, before a SnapStart snapshot, so that no restored environment pays it.

Each source's connector, its client library, the Jinja sandbox and the source's sqlglot dialect are
imported, and one representative query per source is rendered and guarded (sqlglot builds its tokenizer
and parser tables on first use; the guard's allow-lists are compiled then). The Secrets Manager client
is created (reading botocore's service model is most of an external query's set-up). Nothing here opens
a connection or reads a secret, so the snapshot holds neither.
"""

from __future__ import annotations

import importlib

from telltale import sources
from telltale.platform import aws, snapstart
from telltale.queries import es_guard, guard, render

__all__ = ["prepare", "register", "restored"]

# A template with a parameter, a filter, a grouping and an order: the paths a saved query takes.
_SQL = ("SELECT category, count(*) AS n, sum(amount) AS total FROM orders WHERE status = {{ status }}"
        " AND created_at >= '{{ since }}' GROUP BY category ORDER BY n DESC LIMIT 10")
_PARAMS = {"status": "paid", "since": "2026-01-01"}


def prepare() -> None:
    for source in (*sources.external(), sources.get(sources.INTERNAL)):
        connector = sources.connector(source)
        for library in connector.libraries:
            importlib.import_module(library)
        if source.sql is None:
            rendered = render.render(source.test_query, {}, language=source.language, user_profile={},
                                     resolve_secret=None)
            es_guard.check(render.to_json_text(rendered), "*")
            continue
        rendered = render.render(_SQL, _PARAMS, language=source.language, user_profile={}, resolve_secret=None)
        internal = guard.Internal("tenant_snapstart", "app") if source.slug == sources.INTERNAL else None
        guard.prepare(rendered, source.sql, internal=internal)
    aws.client("secretsmanager")


def restored() -> None:
    """Pooled tenant sessions, if a test or a hook opened any before the snapshot."""
    from telltale.connectors import internal

    internal.POOL.close_all()


def register() -> bool:
    """Register both hooks when the runtime has SnapStart (see :mod:`telltale.platform.snapstart`)."""
    return snapstart.register(prepare, restored)
