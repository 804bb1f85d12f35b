"""Without a dialect (Superset's list APIs and a Looker connector without ``config.dialect`` give none) the
generic reading of quotes is a guess: a double-quoted value is a string in MySQL and BigQuery, a backslash
escapes a quote in some databases and not in others. No literal may survive under any of those readings,
in the stored text or in the extracted columns and tables, and the same query with other values still
groups together."""

from __future__ import annotations

import pytest

from telltale.usage.sql import analyze

SECRET_WORDS = ("john", "smith", "secret", "hunter2", "ada@example.com", "4111")

LITERALS = [
    """SELECT * FROM people WHERE name = "John Smith\"""",
    """SELECT * FROM people WHERE name = "John Smith" AND city = 'Paris'""",
    """SELECT * FROM people WHERE a = 'a\\'b SECRET'""",
    """SELECT * FROM people WHERE a = 'a\\'b SECRET' AND c = 'it\\'s'""",
    """SELECT * FROM people WHERE a = 'a''b SECRET' AND c = 'it\\'s'""",
    """SELECT * FROM people WHERE x = "a\\"b SECRET" AND y = "c\\"d\"""",
    """SELECT * FROM people WHERE email IN ("ada@example.com", "hunter2")""",
    """SELECT lower("John Smith") AS n FROM people""",
    """SELECT * FROM people WHERE note = 'say "hi" SECRET' AND "people"."name" = "hunter2\"""",
    """SELECT * FROM people WHERE note = '5" SECRET' AND "people"."name" = 'hunter2'""",
    """SELECT * FROM people WHERE p = E'it\\'s hunter2' AND q = $$dollar SECRET$$""",
    """SELECT * FROM people WHERE card = 4111 OR card = -4111""",
    """SELECT "John Smith" FROM people GROUP BY "hunter2\"""",
]


@pytest.mark.parametrize("text", LITERALS)
def test_no_literal_survives_without_a_dialect(text: str) -> None:
    a = analyze(text, None)
    extracted = " ".join(a.columns + a.column_keys).lower()
    stored = a.sql_text.lower()
    for word in SECRET_WORDS:
        assert word not in stored, (text, a.sql_text)
        assert word not in extracted, (text, a.columns)


def test_double_quoted_names_where_only_names_stand_are_kept() -> None:
    a = analyze('SELECT "o"."Amount" AS "Total" FROM "Sales"."Orders" AS "o" JOIN "b" ON "o".id = "b".id'
                ' WHERE "o"."Status" = "shipped"', None)
    assert a.sql_text == ('SELECT "o"."Amount" AS "Total" FROM "Sales"."Orders" AS "o" JOIN "b"'
                          ' ON "o".id = "b".id WHERE "o"."Status" = ?')
    assert set(a.tables) == {"Sales.Orders", "b"}
    assert {"Amount", "Status", "id"} <= set(a.columns)
    assert "shipped" not in a.columns
    assert not a.parse_failed


def test_same_query_with_other_values_groups_together() -> None:
    first = analyze("""SELECT * FROM t WHERE name = "John Smith" AND a = 'x\\'y' AND n = 1""", None)
    second = analyze("""SELECT * FROM t WHERE name = "Jane" AND a = 'other\\'value here' AND n = 22""", None)
    assert first.sql_text == second.sql_text
    assert first.pattern_hash == second.pattern_hash
    assert first.tables == second.tables == ["t"]


def test_a_known_dialect_keeps_its_own_reading() -> None:
    # In PostgreSQL "x" is a column: nothing to hide there.
    a = analyze('SELECT * FROM t WHERE "name" = 1', "postgres")
    assert a.sql_text == 'SELECT * FROM t WHERE "name" = ?'
    assert a.columns == ["name"]


def test_nul_characters_are_dropped() -> None:
    a = analyze("SELECT a\x00b FROM t\x00 WHERE x = 'se\x00cret'", None)
    assert "\x00" not in a.sql_text
    assert all("\x00" not in c for c in a.columns + a.tables)
