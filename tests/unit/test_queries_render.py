"""Template rendering: parameters land as escaped text or whole literals, never as SQL; the sandbox holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from telltale.errors import QueryValidationError, SecretResolutionError
from telltale.queries import guard, render

PROFILE = {"id": "u-1", "username": "ada", "email": "ada@example.com", "first_name": "Ada", "last_name": "L",
           "is_staff": False, "is_superuser": False}
HOSTILE = ["' OR 1=1 --", "x'; DROP TABLE t; --", "\\' OR 1=1 #", "a\\", "'; SELECT pg_sleep(1); --", "*/ DROP /*",
           "\n-- x\n", "$$; DROP TABLE t; $$", '" OR ""="', "`; DROP TABLE t; `"]


def r(text: str, params: dict | None = None, language: str = "postgres", secrets: dict | None = None) -> str:
    resolve = (lambda key: secrets[key]) if secrets is not None else None
    return render.render(text, params or {}, language=language, user_profile=PROFILE, resolve_secret=resolve).text


@pytest.mark.parametrize("language", ["postgres", "redshift", "mysql", "clickhouse"])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_parameter_stays_one_string_literal(language, value):
    sql = r("SELECT * FROM t WHERE s = '{{ v }}'", {"v": value}, language)
    tree = guard.check(sql, language)  # still exactly one SELECT
    from sqlglot import exp

    literals = [lit for lit in tree.find_all(exp.Literal) if lit.is_string]
    assert [lit.this for lit in literals] == [value]


@pytest.mark.parametrize("language", ["postgres", "mysql", "clickhouse"])
@pytest.mark.parametrize("value", [*HOSTILE, 5, -5, 2.5, True, None, ["a'", 2]])
def test_a_bare_parameter_becomes_a_whole_literal(language, value):
    sql = r("SELECT * FROM t WHERE x = {{ v }} AND y = 1", {"v": value}, language)
    tree = guard.check(sql, language)
    assert tree.args["where"] is not None
    assert "y = 1" in tree.sql(language)  # nothing after the parameter was commented out or cut off


def test_literal_shapes():
    assert r("SELECT {{ a }}, {{ b }}, {{ c }}, {{ d }}, {{ e }}, {{ f }}",
             {"a": 1, "b": -2, "c": None, "d": True, "e": [1, "x"], "f": "it's"}) == \
        "SELECT 1, (-2), NULL, TRUE, (1, 'x'), 'it''s'"
    assert r("SELECT x -{{ n }}", {"n": -5}) == "SELECT x -(-5)"  # not the comment "--5"
    assert r("SELECT '{{ s }}'", {"s": "a\\b'c"}, "mysql") == "SELECT 'a\\\\b''c'"
    assert r("SELECT E'{{ s }}'", {"s": "a\\b'c"}) == "SELECT E'a\\\\b''c'"
    assert r("SELECT '{{ s }}'", {"s": "a\\b'c"}) == "SELECT 'a\\b''c'"  # standard strings: backslash is literal


def test_comments_keep_only_harmless_characters():
    assert r("SELECT 1 -- {{ v }}\n", {"v": "x\nDROP TABLE t"}) == "SELECT 1 -- xDROP TABLE t\n"
    assert r("SELECT 1 /* {{ v }} */", {"v": "*/ DELETE /*"}) == "SELECT 1 /*  DELETE  */"


def test_parameters_cannot_name_identifiers_or_enter_dollar_quotes():
    with pytest.raises(QueryValidationError, match="quoted identifier"):
        r('SELECT * FROM "{{ t }}"', {"t": "x"})
    with pytest.raises(QueryValidationError, match="quoted identifier"):
        r("SELECT * FROM `{{ t }}`", {"t": "x"}, "mysql")
    with pytest.raises(QueryValidationError, match="dollar-quoted"):
        r("SELECT $$ {{ t }} $$", {"t": "x"})


def test_elasticsearch_values_are_json_escaped():
    body = json.loads(r('{"query": {"match": {"s": "{{ s }}"}}, "size": {{ n }}, "terms": {{ l }}}',
                        {"s": 'a" , "script": "x', "n": 5, "l": ["a", 1]}, "elasticsearch"))
    assert body == {"query": {"match": {"s": 'a" , "script": "x'}}, "size": 5, "terms": ["a", 1]}


def test_undefined_and_bad_params_are_named():
    with pytest.raises(QueryValidationError, match="'date' is undefined"):
        r("SELECT '{{ date }}'")
    for params, field in (({"secret": {"x": 1}}, "params.secret"), ({"secret.x": 1}, "params.secret.x"),
                          ({"1bad": 1}, "params.1bad")):
        with pytest.raises(QueryValidationError) as info:
            render.check_params(params)
        assert field in (info.value.errors or {})
    with pytest.raises(QueryValidationError):
        render.check_params(["not", "a", "dict"])
    with pytest.raises(QueryValidationError, match="finite"):
        r("SELECT {{ x }}", {"x": float("nan")})
    with pytest.raises(QueryValidationError, match="NUL"):
        r("SELECT '{{ x }}'", {"x": "a\x00b"})


def test_the_sandbox_blocks_python_internals():
    for text in ("{{ 'x' * 1000000000 }}", "{{ 2 ** 100000 }}", "{{ [1] * 100000000 }}",
                 "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
                 "{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}", "{{ x.__class__ }}",
                 "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}"):
        with pytest.raises(QueryValidationError):
            r(text, {"x": "y"})


def test_secrets_and_user_profile():
    secrets = {"api_credentials": {"value": "k-123"}, "tenant_config": {"id": "t-9", "region": "eu"}}
    sql = r("SELECT '{{ secret.api_credentials }}', '{{ secret.tenant_config.id }}', '{{ secret.user_profile.id }}'",
            secrets=secrets)
    assert sql == "SELECT 'k-123', 't-9', 'u-1'"
    rendered = render.render("SELECT '{{ secret.tenant_config.region }}x'", {}, language="postgres",
                             user_profile=PROFILE, resolve_secret=lambda key: secrets[key])
    assert "t-9" in rendered.secret_strings or "eu" not in rendered.secret_strings  # short strings are not redacted
    with pytest.raises(QueryValidationError, match="only available to external"):
        r("SELECT '{{ secret.api_credentials }}'")  # internal: no resolver
    assert r("SELECT '{{ secret.user_profile.email }}'") == "SELECT 'ada@example.com'"

    def missing(key: str) -> dict:
        raise SecretResolutionError(f"Secret not found: '{key}'", status_code=404)

    with pytest.raises(SecretResolutionError):
        render.render("SELECT '{{ secret.nope.x }}'", {}, language="postgres", user_profile=PROFILE,
                      resolve_secret=missing)


def test_probe_render_checks_every_variable_without_values():
    text = "SELECT * FROM t WHERE a = '{{ a }}' {% if b %}AND b IN {{ b }}{% endif %} LIMIT {{ n }}"
    out = render.render(text, {}, language="postgres", user_profile=PROFILE, resolve_secret=None, probe=True).text
    guard.check(out, "postgres")
    assert render.variables(text) == {"a", "b", "n"}
    with pytest.raises(QueryValidationError, match="Jinja syntax error"):
        render.variables("SELECT {% if %}")


def test_execute_handler_imports_no_driver_until_used():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; sys.path[:0] = ['layers/common/python', 'functions/execute_query']\n"
        "import app\n"
        "from telltale.connectors import load\n"
        "heavy = ('pg8000', 'pymysql', 'clickhouse_connect', 'elasticsearch', 'elastic_transport')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "load('mysql')\n"
        "assert not [m for m in heavy if m in sys.modules]\n"  # loading the module does not load the client
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
