"""The scrapers' HTTP client and parsing helpers: retries with backoff, Retry-After, one re-login, and errors
that carry no secret."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from usage_replay import ReplayServer, Request

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import HttpClient, person
from telltale.usage.integrations.config import SupersetConfig
from telltale.usage.integrations.powerbi import m_dialect, m_native_sql, m_tables

# An effective config, as scrapers get it (defaults filled in), with fast retries.
FAST = SupersetConfig(retry_backoff_s=0.01, max_retries=2).model_dump()


def test_retries_then_gives_up(replay: ReplayServer) -> None:
    calls: list[int] = []

    @replay.route("GET", "/flaky")
    def flaky(req: Request) -> tuple:
        calls.append(1)
        return 500, {"error": "boom"}

    client = HttpClient(replay.url, FAST, tool="Tool")
    with pytest.raises(ConnectorError) as err:
        client.json("GET", "/flaky")
    assert len(calls) == 3 and client.retries == 2 and "500" in err.value.message


def test_retry_after_is_honoured(replay: ReplayServer) -> None:
    import time

    seen: list[float] = []

    @replay.route("GET", "/limited")
    def limited(req: Request) -> tuple:
        seen.append(time.monotonic())
        return (429, {}, {"Retry-After": "0.3"}) if len(seen) == 1 else (200, {"ok": True})

    assert HttpClient(replay.url, FAST).json("GET", "/limited") == {"ok": True}
    assert seen[1] - seen[0] >= 0.29


def test_relogin_once_then_fail(replay: ReplayServer) -> None:
    logins: list[int] = []

    def login(http: HttpClient) -> None:
        logins.append(1)
        http.session.headers["Authorization"] = "Bearer super-secret-token"

    replay.routes[("GET", "/always401")] = lambda req: (401, {"msg": "expired"})
    client = HttpClient(replay.url, FAST, login=login, tool="Tool")
    with pytest.raises(ConnectorError) as err:
        client.json("GET", "/always401")
    assert len(logins) == 2 and client.relogins == 1
    assert "super-secret-token" not in err.value.message and "401" in err.value.message


def test_unreachable_and_not_json(replay: ReplayServer) -> None:
    with pytest.raises(ConnectorError, match="unreachable"):
        HttpClient("http://127.0.0.1:9", {**FAST, "timeout_s": 1}).json("GET", "/x")
    replay.routes[("GET", "/html")] = lambda req: (200, "<html>login</html>", {"Content-Type": "text/html"})
    with pytest.raises(ConnectorError, match="did not answer JSON"):
        HttpClient(replay.url, FAST).json("GET", "/html")


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-02-03T08:00:00.000000+0000", datetime(2025, 2, 3, 8, tzinfo=UTC)),
    ("2025-02-05T08:31:02.000+00:00", datetime(2025, 2, 5, 8, 31, 2, tzinfo=UTC)),
    ("2025-02-01T10:00:00Z", datetime(2025, 2, 1, 10, tzinfo=UTC)),
    ("2025-01-16T08:22:49", datetime(2025, 1, 16, 8, 22, 49, tzinfo=UTC)),
    ("2025-02-05 08:17:47", datetime(2025, 2, 5, 8, 17, 47, tzinfo=UTC)),
    (1738742400123.0, datetime(2025, 2, 5, 8, 0, 0, 123000, tzinfo=UTC)),
    ("1.7387424E9", datetime(2025, 2, 5, 8, 0, tzinfo=UTC)),
    (None, None), ("", None),
])
def test_parse_time(value: Any, expected: datetime | None) -> None:
    assert tool_time(value) == expected


def test_person_and_m_parsing() -> None:
    assert person({"first_name": "Ada", "last_name": "L"}) == "Ada L"
    assert person(None, {"email": "a@x"}) == "a@x" and person(None, {}) is None
    m = ('let S = Sql.Database("srv", "db"), T = S{[Schema="dbo",Item="Orders"]}[Data] in T')
    assert m_tables(m) == ["dbo.Orders"] and m_dialect(m) == "tsql"
    native = 'Value.NativeQuery(PostgreSQL.Database("h", "d"), "select * from ""Q"".t where a = 1", null)'
    assert m_native_sql(native) == 'select * from "Q".t where a = 1' and m_dialect(native) == "postgres"
    assert m_native_sql("let x = 1 in x") is None
