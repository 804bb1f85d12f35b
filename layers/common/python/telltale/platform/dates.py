"""The one parser of dates, months and timestamps: those clients send (query parameters, event fields),
strictly; and, leniently, those a BI tool or warehouse returns (:func:`tool_time`).

Each parser raises ValueError with a message that says the expected form and range ("must be a date
YYYY-MM-DD from 1970-01-01 to 9998-12-31"), for the callers that collect errors per field; the ``*_param``
forms raise the 400 themselves, naming the field. Digits are ASCII digits only (Python's own parsers also
take other scripts' digits).

Days and months run to 9998-12-31 so that the day after any of them is still a date (ranges are half-open:
``< day + 1``); timestamps are those an event store keeps, 1970 to 2200.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

MIN_DAY, MAX_DAY = date(1970, 1, 1), date(9998, 12, 31)
MIN_YEAR, MAX_YEAR = 1970, 2200  # of a timestamp
DAY_FORM = f"a date YYYY-MM-DD from {MIN_DAY} to {MAX_DAY}"
MONTH_FORM = f"a month YYYY-MM from {MIN_DAY:%Y-%m} to {MAX_DAY:%Y-%m}"
TIMESTAMP_FORM = f"an ISO 8601 timestamp such as 2026-04-22T10:30:00Z, from {MIN_YEAR} to {MAX_YEAR}"

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def day(raw: Any) -> date:
    """A YYYY-MM-DD date within [MIN_DAY, MAX_DAY]."""
    if not isinstance(raw, str) or not _DAY.fullmatch(raw):
        raise ValueError(f"must be {DAY_FORM}")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"must be {DAY_FORM}") from None
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"must be {DAY_FORM}")
    return value


def month(raw: Any) -> date:
    """A YYYY-MM month, as its first day."""
    if not isinstance(raw, str) or not _MONTH.fullmatch(raw):
        raise ValueError(f"must be {MONTH_FORM}")
    try:
        return day(raw + "-01")
    except ValueError:
        raise ValueError(f"must be {MONTH_FORM}") from None


def truncate_ms(ts: datetime) -> datetime:
    """``ts`` to the millisecond (what both event stores keep)."""
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000) if ts.microsecond % 1000 else ts


def timestamp(raw: Any) -> datetime:
    """An ISO 8601 timestamp (any form Python 3.11's datetime.fromisoformat reads; a time without a zone is
    UTC), in UTC, to the millisecond."""
    if not isinstance(raw, str) or not raw.isascii() or len(raw) > 40:
        raise ValueError(f"must be {TIMESTAMP_FORM}")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"must be {TIMESTAMP_FORM}") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.utcoffset():
        ts = ts.astimezone(UTC)
    if not MIN_YEAR <= ts.year <= MAX_YEAR:
        raise ValueError(f"must be {TIMESTAMP_FORM}")
    return truncate_ms(ts)


def _param(parse: Any, form: str, raw: str | None, field: str, required: bool) -> Any:
    from telltale.platform.errors import ValidationError

    if raw is None or raw == "":
        if required:
            raise ValidationError(f"{field} is required ({form})", errors={field: ["is required"]})
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValidationError(f"{field} {exc}", errors={field: [str(exc)]}) from None


def day_param(raw: str | None, field: str, *, required: bool = True) -> date | None:
    """:func:`day` of a request parameter; a 400 naming ``field`` when it is missing (if required) or bad."""
    result: date | None = _param(day, DAY_FORM, raw, field, required)
    return result


def month_param(raw: str | None, field: str, *, required: bool = True) -> date | None:
    """:func:`month` of a request parameter; a 400 naming ``field`` when it is missing (if required) or bad."""
    result: date | None = _param(month, MONTH_FORM, raw, field, required)
    return result


def tool_time(value: Any) -> datetime | None:
    """A time as a BI tool or warehouse API returns it: ISO 8601 (with Z, +00:00, +0000 or no zone = UTC),
    epoch milliseconds (Superset) or seconds (BigQuery). Lenient, unlike the parsers of client input: it
    reads what another system wrote."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        n = float(value)
        return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    s = value.strip().replace("Z", "+00:00")
    if len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit() and s[-3] != ":":
        s = s[:-2] + ":" + s[-2:]
    dt = datetime.fromisoformat(s.replace(" ", "T", 1) if "T" not in s and " " in s else s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
