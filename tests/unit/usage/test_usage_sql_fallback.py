"""The anonymization that needs no tokenizer (SQL sqlglot cannot read, or cut at MAX_SQL_CHARS) hides every
literal by the dialect's own quoting rules, and unparsable SQL never reaches a log."""

from __future__ import annotations

import logging

import pytest

from telltale.usage import sql as usage_sql
from telltale.usage.sql import MAX_SQL_CHARS, analyze, regex_anonymize

SECRETS = ("ada@example.com", "secret-123", "hunter2", "oops", "unterminated", "4111", "dollar secret")

# (dialect, SQL whose every literal must disappear, quoted names that must stay)
FALLBACK = [
    ("bigquery", """SELECT `p.d.t`.x FROM `p.d.t` WHERE email = "ada@example.com" AND n = 4111 AND note = 'oops""",
     ["`p.d.t`"]),
    ("bigquery", """SELECT * FROM t WHERE a = '''hunter2 ' still''' AND b = r'a\\'b hunter2' AND c = 'oops""", []),
    ("mysql", """SELECT `col` FROM t WHERE email = "ada@example.com" AND p = 'it\\'s secret-123' AND x = 'oops""",
     ["`col`"]),
    ("postgres", """SELECT "Col" FROM t WHERE p = 'C:\\' AND ssn = 'secret-123' AND x = 'unterminated""", ['"Col"']),
    ("postgres", """SELECT * FROM t WHERE a = E'it\\'s hunter2' AND b = $tag$dollar secret$tag$ AND c = 'oops""", []),
    ("snowflake", """SELECT "C" FROM t WHERE p = 'a\\'b secret-123' AND q = $$dollar secret$$ AND z = 'oops""",
     ['"C"']),
    ("tsql", """SELECT [col x] FROM t WHERE a = "hunter2" AND b = N'secret-123' AND c = 'oops""", ["[col x]"]),
    ("duckdb", """SELECT "c" FROM t WHERE a = 'secret-123' AND b = 4111 AND c = 'oops""", ['"c"']),
    ("clickhouse", """SELECT `c` FROM t WHERE a = 'it\\'s secret-123' AND b = 'oops""", ["`c`"]),
]


@pytest.mark.parametrize(("dialect", "text", "names"), FALLBACK, ids=[f[0] for f in FALLBACK])
def test_fallback_hides_every_literal_per_dialect(dialect: str, text: str, names: list[str]) -> None:
    out = regex_anonymize(text, dialect)
    assert not any(s in out for s in SECRETS), out
    assert "'" not in out, out
    for name in names:
        assert name in out, out  # quoted names are names, not values
    # Through analyze, too: the text does not tokenize, so this is the path it takes.
    a = analyze(text, dialect)
    assert a.parse_failed and not any(s in a.sql_text for s in SECRETS), a.sql_text


def test_without_a_dialect_every_quoted_span_is_hidden_under_both_backslash_readings() -> None:
    text = """SELECT * FROM t WHERE p = 'C:\\' AND ssn = 'secret-123' AND e = "ada@example.com" AND k = `hunter2`"""
    out = regex_anonymize(text)
    assert not any(s in out for s in SECRETS), out
    out = regex_anonymize("""SELECT * FROM t WHERE a = 'it\\'s secret-123' AND b = 'x' AND c = 4111""")
    assert not any(s in out for s in SECRETS), out


def test_an_unterminated_quote_hides_the_rest() -> None:
    assert regex_anonymize("SELECT a FROM t WHERE x = 'unterminated AND y = 4111", "postgres") == \
        "SELECT a FROM t WHERE x = ?"


def test_truncated_sql_hides_the_cut_literal() -> None:
    text = "SELECT * FROM t WHERE a = 'x' AND note = '" + "secret-123 " * (MAX_SQL_CHARS // 5) + "'"
    a = analyze(text, "postgres")
    assert a.parse_failed and "secret-123" not in a.sql_text and a.sql_text.endswith("= ?")


def test_names_inside_literals_are_not_taken_for_tables() -> None:
    a = analyze("SELEC x FROM sales.orders WHERE n = 'oops from hunter2' (((", "postgres")
    assert a.parse_failed and a.tables == ["sales.orders"]


def test_bind_parameters_negative_numbers_and_value_rows_normalize() -> None:
    assert analyze("SELECT * FROM t WHERE a = :name AND b = :1 AND c = $1", "snowflake").sql_text == \
        "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?"
    assert analyze("SELECT * FROM t WHERE a=:name", "postgres").sql_text == "SELECT * FROM t WHERE a = ?"
    # Snowflake's semi-structured path is not a parameter.
    assert "v : name" in analyze("SELECT v:name FROM t", "snowflake").sql_text
    assert analyze("SELECT * FROM t WHERE x = -5", "postgres").pattern_hash == \
        analyze("SELECT * FROM t WHERE x = 5", "postgres").pattern_hash
    assert "- ?" in analyze("SELECT a - 5 FROM t", "postgres").sql_text  # a subtraction stays one
    one = analyze("INSERT INTO t VALUES (1, 'a')", "postgres")
    many = analyze("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (-3, 'c')", "postgres")
    assert one.sql_text == many.sql_text == "INSERT INTO t VALUES (?)"


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "mysql", None])
def test_unparsable_sql_never_reaches_the_logs(dialect: str | None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Syntax sqlglot only half-supports (it logs "'<sql>' contains unsupported syntax" at WARNING), and text
    # that does not parse at all.
    for text in ("ALTER USER app WITH PASSWORD 'hunter2-pw' VALID UNTIL 'infinity'",
                 "GRANT hunter2-pw TO x WITH whatever 'hunter2-pw'",
                 "CREATE FOO BAR 'hunter2-pw' (((", "SELECT 'hunter2-pw"):
        analyze(text, dialect)
    assert "hunter2-pw" not in caplog.text
    assert logging.getLogger("sqlglot").getEffectiveLevel() >= logging.ERROR
    assert usage_sql  # imported for its side effect: the sqlglot logger is quiet


def test_columns_are_tied_to_their_tables_where_the_query_says() -> None:
    a = analyze("SELECT o.amount, c.id, region FROM sales.orders o JOIN crm.customers c ON o.cid = c.id",
                "postgres")
    assert set(a.column_keys) == {"sales.orders|amount", "crm.customers|id", "sales.orders|cid"}
    assert "region" in a.columns  # a bare column of a join: its table is left open
    assert analyze("SELECT amount FROM orders WHERE id = 1", "postgres", default_schema="sales").column_keys == \
        ["sales.orders|amount", "sales.orders|id"]
    assert analyze("WITH x AS (SELECT a FROM t) SELECT a FROM x", "postgres").column_keys == []
