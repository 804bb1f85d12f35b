"""Anonymization and table/column extraction on real-world queries, one data file per dialect.

Each entry of ``queries/<dialect>.sql`` starts with ``-- tables: a, b`` (the tables it reads, CTE names and
table functions excluded) and entries are separated by ``-- @@`` lines. For every query: it parses, the
tables are exactly the expected ones, no literal survives, and the same query with other literal values
gives the same pattern.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telltale.usage.sql import analyze, dialect_name, regex_anonymize, strip_templates

QUERIES = Path(__file__).parent / "queries"
DIALECTS = ("postgres", "snowflake", "bigquery")


def load(dialect: str) -> list[tuple[str, set[str]]]:
    out = []
    for chunk in (QUERIES / f"{dialect}.sql").read_text().split("-- @@\n"):
        header, _, sql = chunk.strip().partition("\n")
        assert header.startswith("-- tables:"), chunk
        tables = {t.strip() for t in header.removeprefix("-- tables:").split(",") if t.strip()}
        out.append((sql.strip().rstrip(";"), tables))
    return out


CASES = [(d, i, sql, tables) for d in DIALECTS for i, (sql, tables) in enumerate(load(d))]


def test_corpus_size() -> None:
    for d in DIALECTS:
        assert len(load(d)) >= 50, d


def _literal_tokens(sql: str, dialect: str) -> list[object]:
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType as T

    kinds = {T.STRING, T.NUMBER, T.NATIONAL_STRING, T.RAW_STRING, T.HEREDOC_STRING, T.BIT_STRING, T.HEX_STRING,
             T.BYTE_STRING}
    return [t for t in Dialect.get_or_raise(dialect).tokenize(sql) if t.token_type in kinds]


def _vary(sql: str, dialect: str) -> str:
    """The same query with every literal value changed (numbers + 7, strings replaced)."""
    from sqlglot.tokens import TokenType as T

    out, pos = [], 0
    for tok in _literal_tokens(sql, dialect):
        out.append(sql[pos:tok.start])  # type: ignore[attr-defined]
        if tok.token_type == T.NUMBER:  # type: ignore[attr-defined]
            out.append(str(int(float(tok.text)) + 7))  # type: ignore[attr-defined]
        else:
            out.append("'other-value'")
        pos = tok.end + 1  # type: ignore[attr-defined]
    out.append(sql[pos:])
    return "".join(out)


@pytest.mark.parametrize(("dialect", "index", "sql", "tables"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_real_world_query(dialect: str, index: int, sql: str, tables: set[str]) -> None:
    a = analyze(sql, dialect)
    assert not a.parse_failed, a
    assert set(a.tables) == tables
    assert len(a.tables) == len(set(a.tables))
    # No literal survives: the anonymized text has no string or number token left, and no quote character.
    assert _literal_tokens(a.sql_text, dialect) == [], a.sql_text
    assert "'" not in a.sql_text
    if _literal_tokens(sql, dialect):
        assert "?" in a.sql_text
    # The same query with other values is the same pattern.
    b = analyze(_vary(sql, dialect), dialect)
    assert b.pattern_hash == a.pattern_hash, (a.sql_text, b.sql_text)


def test_spec_examples() -> None:
    a = analyze("SELECT * FROM t WHERE code = 'C-1234' AND amount > 1000 AND ratio = 3.14", "postgres")
    assert a.sql_text == "SELECT * FROM t WHERE code = ? AND amount > ? AND ratio = ?"


def test_patterns_group_and_normalize() -> None:
    one = analyze("select a from t where id in (1, 2, 3) -- first", "postgres")
    two = analyze("SELECT   A FROM t\nWHERE id IN (9)", "postgres")
    assert one.sql_text == two.sql_text == "SELECT a FROM t WHERE id IN (?)"
    assert one.pattern_hash == two.pattern_hash
    # pg_stat_statements' $n parameters are values too.
    assert analyze("SELECT * FROM t WHERE a = $1 AND b = $2", "postgres").sql_text == \
        "SELECT * FROM t WHERE a = ? AND b = ?"


def test_ctes_table_functions_and_system_schemas_are_not_tables() -> None:
    a = analyze("WITH x AS (SELECT * FROM s.real) SELECT * FROM x, generate_series(1, 3) g, "
                "information_schema.tables it", "postgres")
    assert a.tables == ["s.real"]


def test_default_schema_qualifies_bare_tables() -> None:
    assert analyze("SELECT * FROM orders JOIN crm.c ON 1 = 1", "postgres", default_schema="sales").tables == \
        ["sales.orders", "crm.c"]


@pytest.mark.parametrize("bad", [
    "SELEC oops FROM WHERE 'secret-value' AND 42 (((",
    "SELECT * FROM t WHERE x = 'unterminated secret",
    "SELECT * FROM t WHERE x = $$dollar secret$$ AND y = 'a''b secret'",
    "this is not sql at all 'secret' 123456",
])
def test_unparsable_sql_is_flagged_and_still_hidden(bad: str) -> None:
    a = analyze(bad, "postgres")
    if "$$" not in bad:
        assert a.parse_failed
    assert "secret" not in a.sql_text and "42" not in a.sql_text.replace("?", "") and "123456" not in a.sql_text


def test_regex_fallback_hides_literals() -> None:
    out = regex_anonymize("SELECT x FROM t1 WHERE a = 'it''s' AND b = 12.5e3 AND c = -4 /* note 'x' */ AND d = $q$v$q$")
    assert out == "SELECT x FROM t1 WHERE a = ? AND b = ? AND c = ? AND d = ?"


def test_unparsable_sql_keeps_best_effort_tables() -> None:
    a = analyze("SELECT FROM sales.orders o JOIN crm.customers c ON ((( 'x'", "postgres")
    assert a.parse_failed and set(a.tables) == {"sales.orders", "crm.customers"}


def test_bi_templates_are_stripped() -> None:
    assert strip_templates("a [[AND b = {{x}}]] {% if y %}c{% endif %} <[Parameters].[R]>") == \
        "a  AND b = 1   c  1"
    a = analyze("SELECT * FROM t WHERE d > {{ since }} [[AND r = {{region}}]]", "postgres")
    assert not a.parse_failed and a.sql_text == "SELECT * FROM t WHERE d > ? AND r = ?"


def test_dialect_names() -> None:
    assert dialect_name("postgresql") == "postgres" and dialect_name("bigquery-cloud-sdk") == "bigquery"
    assert dialect_name("unknown-db") is None and dialect_name(None) is None
    # An unknown dialect name still anonymizes with the generic dialect.
    assert analyze("SELECT 1 FROM t", "postgresql").tables == ["t"]


def test_huge_and_odd_inputs() -> None:
    big = "SELECT a FROM t WHERE a IN (" + ", ".join(str(i) for i in range(5000)) + ")"
    assert analyze(big, "postgres").sql_text == "SELECT a FROM t WHERE a IN (?)"
    assert analyze("", "postgres").tables == []
    assert not re.search(r"\d", analyze("SELECT 1; SELECT 2 FROM u", "postgres").sql_text)
