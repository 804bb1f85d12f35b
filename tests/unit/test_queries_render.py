"""Rendering and parameters: whatever a template does with a value, the value reaches the database as one
literal, the statement's shape is the template author's, secrets stay opaque, and work is bounded.

The central property: for every hostile value in every place a template can put it, the SQL generated is
the same statement (same tree, literals aside) as for a harmless value; a value can change a literal and
nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlglot import exp

from telltale import sources
from telltale.platform.errors import QueryValidationError, SecretResolutionError
from telltale.queries import guard, render
from telltale.secrets.lookup import SecretNotFound

PROFILE = {"id": "u-1", "username": "ada", "email": "ada@example.com", "first_name": "Ada", "last_name": "L",
           "is_staff": False, "is_superuser": False}
HOSTILE = ["' OR 1=1 --", "x'; DROP TABLE t; --", "\\' OR 1=1 #", "a\\", "'; SELECT pg_sleep(1); --", "*/ DROP /*",
           "\n-- x\n", "$$; DROP TABLE t; $$", '" OR ""="', "`; DROP TABLE t; `", "*/ UNION SELECT password FROM u /*",
           "1 UNION SELECT password FROM users", "\u00a0UNION SELECT 1", "\\\\'; SELECT 1; --", "ttq0n0q",
           "}}{{ 7*7 }}", "{% raw %}", "' || pg_sleep(1) || '", "\r\nDELETE FROM t", "\u2028SELECT 1"]
SQL = ("postgres", "redshift", "mysql", "clickhouse")
SECRETS = {"db": {"password": "hunter2-pass", "user": "svc"}, "api_credentials": {"value": "k-123456"},
           "tenant_config": {"id": "t-9000", "region": "eu"}}


def rendered(text: str, params: dict | None = None, language: str = "postgres", secrets: dict | None = None,
             ) -> render.Rendered:
    resolve = (lambda key: secrets[key]) if secrets is not None else None
    return render.render(text, params or {}, language=language, user_profile=PROFILE, resolve_secret=resolve)


def statement(text: str, params: dict | None = None, language: str = "postgres", secrets: dict | None = None,
              ) -> guard.Statement:
    return guard.prepare(rendered(text, params, language, secrets), sources.get(language).sql)


def shape(sql: str, language: str) -> str:
    """The statement with every literal blanked: what a value must never change."""
    tree = guard.parse(sql, language)
    for lit in list(tree.find_all(exp.Literal, exp.Boolean, exp.Null)):
        lit.replace(exp.Literal.string("?"))
    for neg in list(tree.find_all(exp.Paren)):
        if isinstance(neg.this, exp.Neg) and isinstance(neg.this.this, exp.Literal):
            neg.replace(exp.Literal.string("?"))
    return tree.sql(language)


# Every place a template can put a value, including ones where the guard and a database could lex the text
# differently: a nested comment, MySQL's "--" followed by a no-break space, ClickHouse's "#" comment.
PLACES = [
    "SELECT * FROM t WHERE s = '{{ v }}' AND y = 1",
    "SELECT * FROM t WHERE s = {{ v }} AND y = 1",
    "SELECT * FROM t WHERE s LIKE '%{{ v }}%' AND y = 1",
    "SELECT * FROM t WHERE s IN {{ [v, v] }} AND y = 1",
    "SELECT * FROM t WHERE s = '{{ v }}' /* /* {{ v }} */ */ AND y = 1",
    "SELECT * FROM t WHERE s = {{ v }} --\u00a0{{ v }}\n AND y = 1",
    "SELECT * FROM t WHERE s = {{ v }} # {{ v }}\n AND y = 1",
    "SELECT * FROM t WHERE s = {{ v|replace('a', 'b') }} AND y = 1",
    "SELECT * FROM t WHERE s = {{ 'pre' ~ v ~ 'post' }} AND y = 1",
    "SELECT * FROM t WHERE s = {{ [v, 'x']|join(',') }} AND y = 1",
    "{% set w = v %}SELECT * FROM t WHERE s = {{ w }} AND y = 1",
    "SELECT * FROM t WHERE {% for x in [v] %}s = {{ x }} AND {% endfor %}y = 1",
    "SELECT * FROM t WHERE s = '{{ v|upper }}' AND y = 1 -- {{ v }}\n",
]


@pytest.mark.parametrize("language", SQL)
@pytest.mark.parametrize("place", PLACES)
def test_a_value_changes_a_literal_and_nothing_else(language, place):
    try:
        reference = shape(statement(place, {"v": "harmless"}, language).sql, language)
    except QueryValidationError:
        reference = None  # a template this dialect cannot read: no value may make it readable
    for value in HOSTILE:
        try:
            sql = statement(place, {"v": value}, language).sql
        except QueryValidationError:
            assert reference is None, value
            continue
        assert reference is not None and shape(sql, language) == reference, (value, sql)


@pytest.mark.parametrize("language", SQL)
@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_parameter_keeps_its_exact_value(language, value):
    tree = guard.parse(statement("SELECT * FROM t WHERE s = '{{ v }}'", {"v": value}, language).sql, language)
    assert [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string] == [value]


@pytest.mark.parametrize("language", ("mysql", "clickhouse"))
def test_a_comment_the_database_might_read_as_code_never_reaches_it(language):
    # MySQL reads "--\xa0" as code, not a comment; ClickHouse reads "#" as a comment. Whatever either of
    # them would make of it, the database gets the generated SQL, which has no comments at all.
    for text in ("SELECT 1 --\u00a0{{ v }}\n", "SELECT 1 # {{ v }}\n", "SELECT 1 /* {{ v }} */"):
        try:
            sql = statement(text, {"v": "1 UNION SELECT password FROM users"}, language).sql
        except QueryValidationError:
            continue  # refused outright is as good
        assert "UNION" not in sql.upper() and "--" not in sql and "#" not in sql and "/*" not in sql, sql


def test_literal_shapes():
    sql = statement("SELECT {{ a }}, {{ b }}, {{ c }}, {{ d }}, {{ f }} FROM t WHERE x IN {{ e }}",
                    {"a": 1, "b": -2, "c": None, "d": True, "e": [1, "x"], "f": "it's"}).sql
    assert sql == "SELECT 1, (-2), NULL, TRUE, 'it''s' FROM t WHERE x IN (1, 'x')"
    assert statement("SELECT x -{{ n }} FROM t", {"n": -5}).sql == "SELECT x - (-5) FROM t"  # never "--5"
    assert statement("SELECT '{{ s }}'", {"s": "a\\b'c"}, "mysql").sql == "SELECT 'a\\\\b''c'"
    assert statement("SELECT '{{ s }}'", {"s": "a\\b'c"}).sql == "SELECT 'a\\b''c'"  # standard strings
    assert statement("SELECT * FROM t WHERE x IN {{ e }}", {"e": []}).sql == "SELECT * FROM t WHERE x IN (NULL)"


@pytest.mark.parametrize("text", [
    'SELECT * FROM "{{ t }}"', "SELECT * FROM {{ t }}", "SELECT {{ t }}(1)", "SELECT 1 AS {{ t }}",
    "SELECT x{{ t }} FROM t", "SELECT {{ t }}{{ t }}", "SELECT * FROM t ORDER BY 1 {{ t }}",
    "SELECT CAST(1 AS {{ t }})", "SELECT t.{{ t }} FROM t",
])
def test_a_parameter_cannot_be_a_name_or_a_keyword(text):
    with pytest.raises(QueryValidationError, match=r"only where a value goes|could not be parsed|not allowed"):
        statement(text, {"t": "x"})


@pytest.mark.parametrize("text", [
    "{% filter replace('XX', v) %}SELECT XX{% endfilter %}",
    "{% macro m() %}SELECT {{ v }}{% endmacro %}{{ m() }}",
    "{% call range(1) %}x{% endcall %}SELECT 1",
    "{% set q %}SELECT 1{% endset %}{{ q }}",
    "{% include 'x' %}", "{% extends 'x' %}", "{% import 'x' as y %}",
    "{% autoescape false %}SELECT {{ v }}{% endautoescape %}",
    "SELECT {{ v.upper() }}", "SELECT {{ v.ljust(100000000) }}", "SELECT {{ lipsum(1000) }}",
    "SELECT {{ v|format(1) }}", "SELECT {{ v|center(1000000000) }}", "SELECT {{ v|map('format', 1)|list }}",
    "SELECT {{ '%09999999d' % 1 }}", "SELECT {{ cycler(1) }}", "SELECT {{ namespace() }}",
])
def test_constructs_that_could_splice_text_are_refused(text):
    with pytest.raises(QueryValidationError):
        statement(text, {"v": "1 UNION SELECT 1"})


def test_elasticsearch_values_are_json_escaped():
    r = rendered('{"query": {"match": {"s": "{{ s }}"}}, "size": {{ n }}, "terms": {{ l }}}',
                 {"s": 'a" , "script": "x', "n": 5, "l": ["a", 1]}, "elasticsearch")
    assert json.loads(render.to_json_text(r)) == {"query": {"match": {"s": 'a" , "script": "x'}}, "size": 5,
                                                  "terms": ["a", 1]}


def test_undefined_and_bad_params_are_named():
    with pytest.raises(QueryValidationError, match="'date' is undefined"):
        rendered("SELECT '{{ date }}'")
    for params, name in (({"secret": {"x": 1}}, "params.secret"), ({"secret.x": 1}, "params.secret.x"),
                         ({"1bad": 1}, "params.1bad"), ({"x": "a\x00b"}, "params.x"), ({"x": "\ud800"}, "params.x"),
                         ({"x": 10**40}, "params.x"), ({"x": [float("inf")]}, "params.x"),
                         ({"x": {"k": "\udfff"}}, "params.x"), ({"_tt_loop": 1}, "params._tt_loop")):
        with pytest.raises(QueryValidationError) as info:
            render.check_params(params)
        assert name in (info.value.errors or {}), params
    with pytest.raises(QueryValidationError):
        render.check_params(["not", "a", "dict"])


@pytest.mark.parametrize("text", [
    "{{ 'x' * 1000000000 }}", "{{ 'x' * 10000 * 3000 }}", "{{ 2 ** 100000 }}", "{{ [1] * 100000000 }}",
    "{% for i in range(100000) %}{{ i }}{% endfor %}",
    "{% for a in range(5000) %}{% for b in range(5000) %}{% endfor %}{% endfor %}",
    "{% set s = 'x' * 1000 %}{% for i in range(20) %}{% set s = s ~ s %}{% endfor %}{{ s }}",
    "{{ ('x' * 100000)|replace('', 'yyyyyyyyyy') }}",
    "{% if 1 %}" * 300 + "SELECT 1" + "{% endif %}" * 300,
    "SELECT {{ " + "(" * 1000 + "1" + ")" * 1000 + " }}",
    "{{ ''.__class__.__mro__ }}", "{{ x.__class__ }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
])
def test_work_is_bounded_and_bad_templates_are_4xx(text):
    with pytest.raises(QueryValidationError):
        statement(text, {"x": "y"})


@pytest.mark.parametrize("text", [
    "SELECT " + "(" * 500 + "1" + ")" * 500,
    "SELECT " + " + ".join(["1"] * 30000),
    "SELECT CASE " + "WHEN 1 = 1 THEN CASE " * 200 + "1" + " END" * 200 + " END",
])
def test_deep_or_huge_statements_are_4xx(text):
    with pytest.raises(QueryValidationError):
        statement(text)


def test_the_length_is_checked_after_substitution():
    big = "x" * 90_000
    with pytest.raises(QueryValidationError, match="longer than"):
        statement("SELECT " + ", ".join(["'{{ v }}'"] * 20), {"v": big})


# ------------------------------------------------------------------------------------------- secrets
def test_a_secret_compared_with_a_column_is_bound_not_inlined():
    st = statement("SELECT * FROM users WHERE api_key = '{{ secret.api_credentials }}'"
                   " AND tenant_id = '{{ secret.tenant_config.id }}'", secrets=SECRETS)
    assert "k-123456" not in st.sql and "t-9000" not in st.sql
    assert sorted(st.params.values()) == ["k-123456", "t-9000"]
    ch = statement("SELECT * FROM users WHERE api_key = '{{ secret.api_credentials }}'", language="clickhouse",
                   secrets=SECRETS)
    assert "{tt_secret_0: String}" in ch.sql and ch.params == {"tt_secret_0": "k-123456"}
    joined = statement("SELECT * FROM a JOIN b ON b.k = {{ secret.db.password }} WHERE a.x = 1", secrets=SECRETS)
    assert list(joined.params.values()) == ["hunter2-pass"]


@pytest.mark.parametrize("text", [
    "SELECT '{{ secret.db.password }}'",
    "SELECT {{ secret.db.password }} AS p FROM t",
    "SELECT * FROM t WHERE x = 1 ORDER BY '{{ secret.db.password }}'",
    "SELECT * FROM t GROUP BY '{{ secret.db.password }}'",
    "SELECT * FROM t WHERE lower(x) = lower('{{ secret.db.password }}')",
    "SELECT * FROM t WHERE x = ('{{ secret.db.password }}')",
    "SELECT * FROM t WHERE '{{ secret.db.password }}' = '{{ secret.db.password }}'",
    "SELECT * FROM t WHERE x = 'a{{ secret.db.password }}'",
    "SELECT * FROM t WHERE x LIKE '{{ secret.db.password }}'",
    "SELECT * FROM t HAVING x = '{{ secret.db.password }}'",
    "SELECT CASE WHEN x = '{{ secret.db.password }}' THEN 1 END FROM t",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|upper }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|reverse }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password ~ \"\" }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|replace(\"a\", \"b\") }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|length }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|list|join }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password[0] }}'",
    "{% if secret.db.password == 'hunter2-pass' %}SELECT 1{% endif %}",
    "{% if secret.db.password %}SELECT 1{% endif %}",
    "SELECT '{{ secret[\"db\"] }}'",
    "{% for c in secret.db.password %}SELECT '{{ c }}'{% endfor %}",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|tojson }}'",
    "SELECT * FROM t WHERE x = '{{ secret.db.password|string }}'",
])
@pytest.mark.parametrize("probe", [False, True])
def test_a_secret_cannot_reach_the_output(text, probe):
    with pytest.raises(QueryValidationError) as info:
        r = render.render(text, {}, language="postgres", user_profile=PROFILE,
                          resolve_secret=(lambda k: {}) if probe else SECRETS.__getitem__, probe=probe)
        guard.prepare(r, sources.get("postgres").sql)
    assert "hunter2-pass" not in str(info.value.message) and "hunter2-pass" not in json.dumps(info.value.errors)


def test_a_secret_with_several_fields_must_name_one():
    with pytest.raises(QueryValidationError, match="name one"):
        statement("SELECT * FROM t WHERE x = '{{ secret.db }}'", secrets=SECRETS)
    assert statement("SELECT * FROM t WHERE x = '{{ secret.api_credentials }}'", secrets=SECRETS).params


def test_secret_strings_are_collected_for_redaction_and_user_profile_is_plain():
    r = rendered("SELECT * FROM t WHERE x = '{{ secret.tenant_config.id }}' AND u = '{{ secret.user_profile.id }}'",
                 secrets=SECRETS)
    assert "t-9000" in r.secret_strings and "eu" not in r.secret_strings  # short strings are not redacted
    st = guard.prepare(r, sources.get("postgres").sql)
    assert "'u-1'" in st.sql  # the caller's own profile is a value, not a secret
    with pytest.raises(QueryValidationError, match="only available to external"):
        rendered("SELECT '{{ secret.api_credentials }}'")  # internal: no resolver

    def missing(key: str) -> dict:
        raise SecretNotFound(f"Secret not found: '{key}'")

    with pytest.raises(SecretResolutionError):
        render.render("SELECT '{{ secret.nope.x }}'", {}, language="postgres", user_profile=PROFILE,
                      resolve_secret=missing)


def test_elasticsearch_secrets_only_inside_query():
    body = '{"query": {"term": {"api_key": "{{ secret.api_credentials }}"}}, "size": 1}'
    r = rendered(body, language="elasticsearch", secrets=SECRETS)
    placed = render.place_json_secrets(json.loads(render.to_json_text(r)), r)
    assert placed == {"query": {"term": {"api_key": "k-123456"}}, "size": 1}
    for text in ('{"_source": ["{{ secret.api_credentials }}"]}', '{"aggs": {"{{ secret.api_credentials }}": {}}}',
                 '{"query": {"term": {"k": "x{{ secret.api_credentials }}"}}}',
                 '{"query": {"match_all": {}}, "highlight": {"fields": {"{{ secret.api_credentials }}": {}}}}'):
        r = rendered(text, language="elasticsearch", secrets=SECRETS)
        with pytest.raises(QueryValidationError):
            render.place_json_secrets(json.loads(render.to_json_text(r)), r)


def test_probe_render_checks_every_variable_without_values():
    text = "SELECT * FROM t WHERE a = '{{ a }}' {% if b %}AND b IN {{ b }}{% endif %} LIMIT {{ n }}"
    out = render.render(text, {}, language="postgres", user_profile=PROFILE, resolve_secret=None, probe=True)
    guard.prepare(out, sources.get("postgres").sql)
    assert render.variables(text) == {"a", "b", "n"}
    with pytest.raises(QueryValidationError, match="Jinja syntax error"):
        render.variables("SELECT {% if %}")


def test_execute_handler_imports_no_driver_until_used():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; sys.path[:0] = ['layers/common/python', 'functions/execute_query']\n"
        "import app\n"
        "from telltale.connectors import load\n"
        "heavy = ('pg8000', 'pymysql', 'clickhouse_connect', 'elasticsearch', 'elastic_transport', 'pydantic')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "load('mysql')\n"
        "assert not [m for m in heavy if m in sys.modules]\n"  # loading the module does not load the client
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
