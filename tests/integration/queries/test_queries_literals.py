"""What the guard generates is read back by each real server as exactly the value the client sent.

The guard puts every parameter into the tree as a literal and sqlglot writes it for the dialect; these
tests prove, per engine, that the server's reading of that literal is the value (quotes, backslashes,
comment openers, no-break spaces and the rest), quoted or bare, and that secrets bound by name arrive
intact. Redshift's literal rules are exercised through PostgreSQL, which proves the round trip of the
connector, not Redshift's parser (see test_queries_guard.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from queries_servers import CH_DB

from telltale import sources
from telltale.connectors import load
from telltale.connectors.base import Limits, Prepared
from telltale.queries import guard, render

pytestmark = pytest.mark.integration

VALUES = ["\\' OR 1=1 --", "a\\", "\\\\'", "' OR '1'='1", "\"; DROP TABLE sales; --", "x' # y", "é'ü\\n",
          "--\u00a0x", "/* x */", "*/ y", "$$ z $$", "`q`", "{x:String}", ":name", "%s %(x)s", "\t\r\n",
          "\u2028\u00a0\ufeff", "😀", "\\x00", "''", "\\\\\\'", " "]
LIMITS = Limits(max_rows=10, statement_timeout_s=5, connect_timeout_s=5)


def _config(driver: str, external_pg: Any, mariadb: Any, clickhouse: Any) -> dict[str, Any]:
    if driver in ("postgres", "redshift"):
        return external_pg.secret(ssl=False)
    if driver == "mysql":
        return mariadb.secret()
    return {"host": clickhouse.host, "port": clickhouse.port, "database": CH_DB, "username": "default",
            "password": "", "secure": False}


def _run(driver: str, config: dict[str, Any], text: str, params: dict[str, Any],
         secrets: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    language = sources.get(driver).language
    rendered = render.render(text, render.check_params(params), language=language, user_profile={},
                             resolve_secret=(lambda k: secrets[k]) if secrets else None)
    st = guard.prepare(rendered, sources.get(driver).sql)
    return load(driver).execute(Prepared(text=st.sql, config=config, params=st.params), LIMITS).rows


@pytest.mark.parametrize("driver", ["postgres", "redshift", "mysql", "clickhouse"])
def test_values_round_trip_quoted_and_bare(driver, external_pg, mariadb, clickhouse):
    config = _config(driver, external_pg, mariadb, clickhouse)
    # Redshift reads a backslash in '...' as an escape and sqlglot writes Redshift's literals with them
    # (\' and \n); the stand-in PostgreSQL (standard strings) does not, so such values cannot be checked there.
    values = [v for v in VALUES if driver != "redshift" or not any(c in v for c in "\\'\t\r\n")]
    for value in values:
        rows = _run(driver, config, "SELECT '{{ v }}' AS q, {{ v }} AS b, '<{{ v }}>' AS w", {"v": value})
        assert rows == [{"q": value, "b": value, "w": f"<{value}>"}], repr(value)
    rows = _run(driver, config, "SELECT {{ n }} AS n, {{ m }} AS m, {{ f }} AS f", {"n": -5, "m": 2**62, "f": -2.5})
    assert [int(rows[0]["n"]), int(rows[0]["m"]), float(rows[0]["f"])] == [-5, 2**62, -2.5]


@pytest.mark.parametrize("driver", ["postgres", "redshift", "mysql", "clickhouse"])
def test_bound_secrets_arrive_intact(driver, external_pg, mariadb, clickhouse):
    config = _config(driver, external_pg, mariadb, clickhouse)
    table, column, known = ("events", "event_type", "click") if driver == "clickhouse" else \
        ("sales", "region", "North America")
    for value in (known, *VALUES[:8]):
        rows = _run(driver, config, f"SELECT count(*) AS n FROM {table} WHERE {column} = '{{{{ secret.s.value }}}}'",
                    {}, secrets={"s": {"value": value}})
        assert (int(rows[0]["n"]) > 0) == (value == known), repr(value)


def test_internal_values_round_trip(platform_db):
    from telltale.platform.tenancy import schema_for

    for value in VALUES:
        rendered = render.render("SELECT '{{ v }}' AS q, {{ v }} AS b", {"v": value}, language="postgres",
                                 user_profile={}, resolve_secret=None)
        st = guard.prepare(rendered, sources.get("internal").sql, internal=guard.Internal(schema_for("demo"), "shop"))
        rows = load("internal").execute(Prepared(text=st.sql, config={}, tenant_id="demo",
                                                 tenant_schema=schema_for("demo")), LIMITS).rows
        assert rows == [{"q": value, "b": value}], repr(value)
