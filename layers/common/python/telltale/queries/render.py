"""Template rendering: Jinja2 in a sandbox, with every ``{{ ... }}`` output made safe for where it lands.

Each ``{{ ... }}`` first renders as an opaque marker; the rendered text is then scanned with the target
language's lexical rules (string quotes, identifier quotes, comments) and each marker is replaced by the
value escaped for its place: inside a string literal it becomes the escaped string contents (so the
spec's ``'{{ status }}'`` works and ``' OR 1=1 --`` stays a string), outside one it becomes a complete
literal (a quoted string, a number, TRUE/FALSE, NULL, or a parenthesised list). A value can therefore
never change the statement's structure; that structure is the template author's, and the guard checks it.
"""

from __future__ import annotations

import json
import math
import secrets as _random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from telltale.errors import QueryValidationError, TelltaleError

LANGUAGES = {"postgres", "redshift", "mysql", "clickhouse", "elasticsearch"}
# Dialects whose plain '...' strings treat a backslash as an escape (Redshift does, PostgreSQL does not).
_BACKSLASH_ESCAPES = {"mysql", "clickhouse", "redshift"}
_PARAM_NAME_MAX = 64
_MAX_PARAMS = 200
_MAX_VALUE_CHARS = 100_000

_state = threading.local()


class _Collector:
    def __init__(self) -> None:
        self.nonce = _random.token_hex(6)
        self.values: list[Any] = []

    def marker(self, value: Any) -> str:
        self.values.append(value)
        return f"ttp{self.nonce}x{len(self.values) - 1}x"


def _finalize(context: Any, value: Any) -> str:
    # Taking the context (pass_context) keeps Jinja from finalizing constants at compile time: every
    # output, constant or not, must become a marker of this render.
    from jinja2 import Undefined

    collector: _Collector = _state.collector
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, inside the render, with the variable's name
    if isinstance(value, SecretValue):
        value = value.render()
    return collector.marker(value)


_MAX_OUTPUT_CHARS = 1_000_000
_MAX_REPEAT = 10_000


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import StrictUndefined, pass_context
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Sandbox(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """The sandbox, also bounding the operators that can build huge values ('x' * 10**9, 9 ** 9 ** 9)."""

        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large")
            if operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int) \
                    and right > _MAX_REPEAT:
                raise SecurityError("repetition too large")
            if operator == "*" and isinstance(right, str | list | tuple) and isinstance(left, int) \
                    and left > _MAX_REPEAT:
                raise SecurityError("repetition too large")
            return super().call_binop(context, operator, left, right)

    pass_context(_finalize)
    return Sandbox(undefined=StrictUndefined, finalize=_finalize, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=256)
def _compile(text: str) -> Any:
    return _env().from_string(text)


def template_error(message: str) -> QueryValidationError:
    return QueryValidationError(f"template error: {message}", errors={"query_text": [message]})


def variables(text: str) -> set[str]:
    """The template's free variables; a QueryValidationError on a Jinja syntax error."""
    from jinja2 import TemplateSyntaxError, meta

    try:
        ast = _env().parse(text)
    except TemplateSyntaxError as exc:
        raise template_error(f"Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    return set(meta.find_undeclared_variables(ast))


# ---------------------------------------------------------------------------------------------- secrets
class SecretValue:
    """One secret's value as a template sees it: ``secret.key`` or ``secret.key.field``.

    No public attributes, so the sandbox's attribute lookup falls through to ``__getitem__``.
    """

    def __init__(self, key: str, value: dict[str, Any]) -> None:
        self._key = key
        self._value = value

    def __getitem__(self, name: str) -> Any:
        if name not in self._value:
            raise QueryValidationError(f"template error: secret '{self._key}' has no field '{name}'",
                                       errors={"query_text": [f"secret '{self._key}' has no field '{name}'"]})
        return self._value[name]

    def render(self) -> Any:
        # A secret used whole renders as its single meaningful value: "value", else its only field.
        if "value" in self._value:
            return self._value["value"]
        if len(self._value) == 1:
            return next(iter(self._value.values()))
        return json.dumps(self._value, sort_keys=True, default=str)


class SecretNamespace:
    """``secret`` in a template: other secrets of the tenant and app, and ``secret.user_profile``."""

    def __init__(self, user_profile: dict[str, Any], resolve: Callable[[str], dict[str, Any]] | None,
                 sink: list[str]) -> None:
        self._profile = user_profile
        self._resolve = resolve
        self._sink = sink
        self._cache: dict[str, SecretValue] = {}

    def __getitem__(self, key: str) -> Any:
        if key == "user_profile":
            return dict(self._profile)
        if self._resolve is None:
            raise QueryValidationError(
                "template error: secret references are only available to external queries",
                errors={"query_text": [f"secret.{key} cannot be used in an internal query; "
                                       "only secret.user_profile is available"]})
        if key not in self._cache:
            value = self._resolve(key)
            # Every string a secret holds is redacted from errors and logs from now on.
            self._sink.extend(_leaf_strings(value))
            self._cache[key] = SecretValue(key, value)
        return self._cache[key]


def _leaf_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaf_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaf_strings(v)]
    if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) >= 4:
        return [str(value)]
    return []


# ------------------------------------------------------------------------------------------------ params
def check_params(params: Any) -> dict[str, Any]:
    """Parameters as given, or a QueryValidationError naming the bad one."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise QueryValidationError("params must be a JSON object", errors={"params": ["must be a JSON object"]})
    if len(params) > _MAX_PARAMS:
        raise QueryValidationError(f"at most {_MAX_PARAMS} params are allowed",
                                   errors={"params": [f"at most {_MAX_PARAMS} entries"]})
    for name, value in params.items():
        if name == "secret" or name.startswith("secret."):
            raise QueryValidationError(
                "params may not set secret.*: secrets are resolved server-side from the secret store",
                errors={f"params.{name}": ["secret.* cannot be passed in params"]})
        if not name.isidentifier() or len(name) > _PARAM_NAME_MAX:
            raise QueryValidationError(f"parameter name '{name[:64]}' is not a valid identifier",
                                       errors={f"params.{name[:64]}": ["must be a letter or '_' then letters, "
                                                                       "digits or '_' (at most 64)"]})
        if len(json.dumps(value, default=str)) > _MAX_VALUE_CHARS:
            raise QueryValidationError(f"parameter '{name}' is too large",
                                       errors={f"params.{name}": [f"at most {_MAX_VALUE_CHARS} characters"]})
    return dict(params)


# ------------------------------------------------------------------------------------------------ render
@dataclass
class Rendered:
    text: str
    secret_strings: list[str] = field(default_factory=list)


def render(text: str, params: dict[str, Any], *, language: str, user_profile: dict[str, Any],
           resolve_secret: Callable[[str], dict[str, Any]] | None, probe: bool = False) -> Rendered:
    """Render ``text`` for ``language``; ``probe`` fills every free variable (save-time validation)."""
    from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
    from jinja2.sandbox import SecurityError

    if language not in LANGUAGES:
        raise template_error(f"unknown language '{language}'")
    sink: list[str] = []
    context: dict[str, Any] = dict(params)
    if probe:
        for name in variables(text):
            context.setdefault(name, "1")
        context["secret"] = _ProbeSecrets(resolve_secret is not None)
    else:
        context["secret"] = SecretNamespace(user_profile, resolve_secret, sink)
    collector = _Collector()
    _state.collector = collector
    try:
        raw = _compile(text).render(context)
    except TemplateSyntaxError as exc:
        raise template_error(f"Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise QueryValidationError(
            f"template error: {exc.message}; pass it in params",
            errors={"params": [f"{exc.message}; pass it in params"]}) from None
    except SecurityError:
        raise template_error("the template tried an operation the sandbox does not allow") from None
    except TemplateError as exc:
        raise template_error(str(exc.message or "template failed")[:300]) from None
    except TelltaleError:
        raise  # a secret that does not resolve, a bad field: already typed
    except Exception as exc:  # noqa: BLE001 - a filter misused on a value: the template's fault
        raise template_error(f"rendering failed ({type(exc).__name__})") from None
    finally:
        _state.collector = None
    if len(raw) > _MAX_OUTPUT_CHARS:
        raise template_error(f"the rendered query is longer than {_MAX_OUTPUT_CHARS} characters")
    out = _substitute(raw, collector, language)
    return Rendered(out, sink)


class _ProbeSecrets:
    """``secret`` at save time: any field, no lookups (the secrets may not exist yet)."""

    def __init__(self, external: bool) -> None:
        self._external = external

    def __getitem__(self, key: str) -> Any:
        if key == "user_profile":
            fields = ("id", "username", "email", "first_name", "last_name", "is_staff", "is_superuser")
            return dict.fromkeys(fields, "1")
        if not self._external:
            raise QueryValidationError(
                "template error: secret references are only available to external queries",
                errors={"query_text": [f"secret.{key} cannot be used in an internal query; "
                                       "only secret.user_profile is available"]})
        return _ProbeValue()


class _ProbeValue:
    def __getitem__(self, name: str) -> str:
        return "1"

    def __str__(self) -> str:
        return "1"


# ------------------------------------------------------------------------------------- context scanning
def _substitute(raw: str, collector: _Collector, language: str) -> str:
    if not collector.values:
        return raw
    prefix = f"ttp{collector.nonce}x"
    out: list[str] = []
    i, n = 0, len(raw)
    scan = _JSON_SCANNER if language == "elasticsearch" else _SQL_SCANNER
    context = "code"
    quote = ""
    while i < n:
        if raw.startswith(prefix, i):
            end = raw.index("x", i + len(prefix))
            idx = int(raw[i + len(prefix):end])
            out.append(_escape(collector.values[idx], language, context, quote))
            i = end + 1
            continue
        ch = raw[i]
        step, context, quote = scan(raw, i, context, quote, language)
        out.append(raw[i:i + step] if step else ch)
        i += step or 1
    if context in ("string", "ident", "dollar", "block"):
        raise template_error("the rendered query has an unterminated quote or comment")
    return "".join(out)


def _sql_scan(raw: str, i: int, context: str, quote: str, language: str) -> tuple[int, str, str]:
    """One lexical step for SQL: (characters consumed, new context, active quote)."""
    ch = raw[i]
    backslash = language in _BACKSLASH_ESCAPES or quote.startswith("E")
    if context == "code":
        two = raw[i:i + 2]
        if two == "--" or (ch == "#" and language in ("mysql", "clickhouse")):
            return 1, "line", ""
        if two == "/*":
            return 2, "block", ""
        if ch == "'":
            prev = raw[i - 1] if i else ""
            q = "E'" if prev and prev in "eE" and language in ("postgres", "redshift") and (
                i < 2 or not (raw[i - 2].isalnum() or raw[i - 2] == "_")) else "'"
            return 1, "string", q
        if ch == '"':
            return 1, ("string" if language == "mysql" else "ident"), '"'
        if ch == "`" and language in ("mysql", "clickhouse"):
            return 1, "ident", "`"
        if ch == "$" and language in ("postgres", "redshift"):
            j = raw.find("$", i + 1)
            tag = raw[i:j + 1] if j > 0 else ""
            if tag and all(c.isalnum() or c == "_" for c in tag[1:-1]) and not tag[1:2].isdigit():
                return len(tag), "dollar", tag
        return 1, "code", ""
    if context == "line":
        return 1, ("code" if ch == "\n" else "line"), ""
    if context == "block":
        return (2, "code", "") if raw.startswith("*/", i) else (1, "block", "")
    if context == "dollar":
        return (len(quote), "code", "") if raw.startswith(quote, i) else (1, "dollar", quote)
    q = quote[-1]
    if ch == "\\" and context == "string" and backslash:
        return 2, context, quote
    if ch == q:
        if raw[i + 1:i + 2] == q:
            return 2, context, quote
        return 1, "code", ""
    return 1, context, quote


def _json_scan(raw: str, i: int, context: str, quote: str, language: str) -> tuple[int, str, str]:
    ch = raw[i]
    if context == "code":
        return (1, "string", '"') if ch == '"' else (1, "code", "")
    if ch == "\\":
        return 2, "string", '"'
    if ch == '"':
        return 1, "code", ""
    return 1, "string", '"'


_SQL_SCANNER = _sql_scan
_JSON_SCANNER = _json_scan


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        _check_number(value)
        return repr(value)
    return json.dumps(value, default=str, sort_keys=True)


def _check_number(value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryValidationError("parameter values must be finite numbers",
                                   errors={"params": ["NaN and infinity are not allowed"]})


def _escape(value: Any, language: str, context: str, quote: str) -> str:
    if context == "ident":
        raise template_error("a parameter cannot be placed inside a quoted identifier; "
                             "parameters are values, not table or column names")
    if context == "dollar":
        raise template_error("a parameter cannot be placed inside a dollar-quoted string; use '...' quotes")
    if context in ("line", "block"):
        # Inside a comment a value must not end the comment: keep only harmless characters.
        return "".join(c for c in _as_text(value) if c.isalnum() or c in " _.,:-")
    if language == "elasticsearch":
        if context == "string":
            return json.dumps(_as_text(value))[1:-1]
        if isinstance(value, float):
            _check_number(value)
        return json.dumps(value, default=str)
    if context == "string":
        return _escape_in_string(_as_text(value), language, quote)
    return _sql_literal(value, language)


def _escape_in_string(text: str, language: str, quote: str) -> str:
    if "\x00" in text:
        raise QueryValidationError("parameter values may not contain NUL characters",
                                   errors={"params": ["NUL characters are not allowed"]})
    q = quote[-1]
    if language in _BACKSLASH_ESCAPES or quote.startswith("E"):
        text = text.replace("\\", "\\\\")
    return text.replace(q, q + q)


def _sql_literal(value: Any, language: str) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        _check_number(value)
        # Parenthesised when negative: "x -{{ n }}" must not become the comment "x --5".
        return f"({value!r})" if value < 0 else repr(value)
    if isinstance(value, list | tuple):
        if not value:
            return "(NULL)"
        return "(" + ", ".join(_sql_literal(v, language) for v in value) + ")"
    return "'" + _escape_in_string(_as_text(value), language, "'") + "'"
