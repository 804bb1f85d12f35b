"""The product-analytics statements (telltale.events.product): what they bind and how they bound requests.
Their results are checked against an oracle end to end (tests/e2e/events/test_product_analytics.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from telltale.events import dsl, product
from telltale.platform.errors import ValidationError

EVIL = "x' OR 1=1 --"


@pytest.mark.parametrize("dialect", ["postgres", "clickhouse"])
def test_client_values_are_bound_and_the_tenant_comes_first(dialect: dsl.Dialect) -> None:
    s = product.parse_stickiness({"eventType": "a.b", "timeRange": {"from": "2026-01-01", "to": "2026-01-31"},
                                  "period": "WEEK", "filters": [{"field": "attributes.plan", "op": "EQ",
                                                                 "value": EVIL}]})
    rolling = product.compile_rolling(EVIL, date(2026, 1, 1), date(2026, 1, 31), dialect=dialect, table="db.events",
                                      filters=[dsl.Filter(field="actorId", op="EQ", value=EVIL)])
    for c in (product.compile_stickiness(s, EVIL, dialect=dialect, table="db.events"), rolling):
        assert EVIL not in c.sql and "OR 1=1" not in c.sql
        assert c.params["p0"] == EVIL  # the tenant, the first condition
        assert ("tenant_id = {p0: String}" if dialect == "clickhouse" else "tenant_id = CAST(:p0 AS TEXT)") in c.sql
        assert (" FINAL " in c.sql) == (dialect == "clickhouse")


def test_rolling_windows_look_back_29_days() -> None:
    c = product.compile_rolling("t", date(2026, 3, 1), date(2026, 3, 2), dialect="postgres", table="events.events",
                                filters=[])
    assert c.params["p1"] == "2026-01-31 00:00:00.000" and c.params["p2"] == "2026-03-02 23:59:59.999"
    assert [c.params["p3"], c.params["p4"]] == ["2026-03-01", "2026-03-02"]


def test_period_count_touches_partial_days_and_iso_weeks() -> None:
    sat, sun_next = datetime(2031, 2, 1, 12, tzinfo=UTC), datetime(2031, 2, 9, 0, 0, tzinfo=UTC)
    assert product.period_count(sat, sun_next, "DAY") == 9
    assert product.period_count(sat, sun_next, "WEEK") == 2  # Mon 27 Jan week, then Mon 3 Feb week
    assert product.period_count(sat, sat, "WEEK") == 1


def test_rolling_rows_fill_every_day_and_divide_by_mau30() -> None:
    rows = product.rolling_rows([[date(2026, 1, 2), 1, 2, 3, 4]], date(2026, 1, 1), date(2026, 1, 3))
    assert [r["values"] for r in rows] == [["2026-01-01T00:00:00Z", 0, 0, 0, 0, 0],
                                           ["2026-01-02T00:00:00Z", 1, 2, 3, 4, 0.25],
                                           ["2026-01-03T00:00:00Z", 0, 0, 0, 0, 0]]


def test_stickiness_refuses_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        product.parse_stickiness({"eventType": "bad", "timeRange": {"from": "2020-01-01", "to": "2026-01-01"},
                                  "period": "DAY", "filters": [{"field": "entityId", "op": "LT", "value": "a"}]})
    assert set(info.value.errors or {}) == {"eventType", "timeRange", "filters[0].op"}
    assert "timeRange: spans 2193 periods of DAY; at most 366" in info.value.message


@pytest.mark.parametrize("dialect", ["postgres", "clickhouse"])
def test_rolling_days_outside_clickhouses_dates_are_clamped(dialect: dsl.Dialect) -> None:
    c = product.compile_rolling("t", date(1970, 1, 1), date(9998, 12, 31), dialect=dialect, table="db.events",
                                filters=[])
    assert c.params["p1"] == "1970-01-01 00:00:00.000" and c.params["p2"] == "2149-06-06 23:59:59.999"
    assert [c.params["p3"], c.params["p4"]] == ["1970-01-01", "2149-06-06"]
