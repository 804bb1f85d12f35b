"""Template rendering: Jinja2 in a sandbox where a parameter can only ever become one value.

The template language is an allow-list too. A template is parsed, and every node of its tree must be one
of :data:`_NODES`: output, ``if``, ``for``, ``set x = ...``, expressions, and the filters and tests in
:data:`FILTERS` and :data:`TESTS`. Blocks that would put text into the query without it being an output
(``{% filter %}``, macros, call blocks, set blocks, includes) are refused, as are method calls.

Each ``{{ ... }}`` renders as a marker (``ttq<nonce>n<i>q``), never as its value; the value is kept
beside it. For SQL, the guard parses the rendered text and puts each value into the tree as one literal
(:func:`telltale.queries.guard.prepare`), so whatever Jinja did (``replace``, ``join``, ``~``, a filter),
the result is one value, not SQL. For Elasticsearch, each value is JSON-escaped where it lands and the
body is parsed as JSON before anything is sent.

Secret values (``{{ secret.key.field }}``) are opaque: no filter, operator, test or comparison can read
them (each raises), so they reach the output only as themselves, and the guard then allows them only where
they cannot be returned.

Work is bounded: loop iterations, string sizes, a time budget and the nesting of the template.
"""

from __future__ import annotations

import json
import re
import secrets as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from telltale.platform.errors import QueryValidationError, TelltaleError

LANGUAGES = {"postgres", "redshift", "mysql", "clickhouse", "elasticsearch"}
_PARAM_NAME_MAX = 64
_MAX_PARAMS = 200
_MAX_VALUE_CHARS = 100_000
MAX_RENDERED_CHARS = 1_000_000
MAX_LOOP_ITERATIONS = 10_000
MAX_TEMPLATE_DEPTH = 40
RENDER_SECONDS = 1.0

_state = threading.local()


def template_error(message: str) -> QueryValidationError:
    return QueryValidationError(f"template error: {message}", errors={"query_text": [message]})


# ------------------------------------------------------------------------------------------------ budget
class _Budget:
    """What one render may still spend."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + RENDER_SECONDS
        self.iterations = MAX_LOOP_ITERATIONS

    def tick(self, n: int = 1) -> None:
        self.iterations -= n
        if self.iterations < 0:
            raise template_error(f"the template's loops ran more than {MAX_LOOP_ITERATIONS} iterations")
        if time.monotonic() > self.deadline:
            raise template_error(f"rendering took longer than {RENDER_SECONDS:g} s")

    def size(self, value: Any) -> Any:
        if isinstance(value, str | list | tuple | dict) and len(value) > MAX_RENDERED_CHARS:
            raise template_error(f"a value in the template grew past {MAX_RENDERED_CHARS} characters or items")
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
            raise template_error("a number in the template grew past 256 bits")
        return value


def _budget() -> _Budget:
    budget: _Budget | None = getattr(_state, "budget", None)
    if budget is None:  # compiled templates are only run by render(), which sets it
        raise template_error("templates render only through render()")
    return budget


def _loop(iterable: Any) -> Any:
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _concat(*parts: Any) -> str:
    budget = _budget()
    if sum(len(p) if isinstance(p, str) else 0 for p in parts) > MAX_RENDERED_CHARS:
        raise template_error(f"a value in the template grew past {MAX_RENDERED_CHARS} characters")
    budget.tick(0)
    return "".join(str(p) for p in parts)


def _range(*args: Any) -> range:
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise template_error("range() takes integers")
    out = range(*args)
    if len(out) > MAX_LOOP_ITERATIONS:
        raise template_error(f"range() is limited to {MAX_LOOP_ITERATIONS} items")
    return out


# ------------------------------------------------------------------------------------------------ secrets
class SecretString:
    """One secret value, opaque to the template: it can be output and nothing else."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise template_error("a secret cannot be transformed, compared or tested in a template; "
                             "use it as it is: = '{{ secret.key.field }}'")

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __len__ = __iter__ = __bool__ = __getitem__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = __mul__ = __rmul__ = _refuse
    __mod__ = __rmod__ = __int__ = __float__ = __index__ = __format__ = __reversed__ = _refuse  # type: ignore[assignment]
    __hash__ = object.__hash__


class SecretValue:
    """One secret's value as a template sees it: ``secret.key`` or ``secret.key.field``.

    No public attributes, so the sandbox's attribute lookup falls through to ``__getitem__``."""

    def __init__(self, key: str, value: dict[str, Any]) -> None:
        self._key = key
        self._value = value

    def __getitem__(self, name: str) -> Any:
        if name not in self._value:
            raise QueryValidationError(f"template error: secret '{self._key}' has no field '{name}'",
                                       errors={"query_text": [f"secret '{self._key}' has no field '{name}'"]})
        value = self._value[name]
        if isinstance(value, dict | list):
            raise template_error(f"secret '{self._key}' field '{name}' is not a single value")
        return SecretString(value)

    def whole(self) -> SecretString:
        # A secret used whole stands for its single meaningful value: "value", else its only field.
        if "value" in self._value:
            return self["value"]
        if len(self._value) == 1:
            return self[next(iter(self._value))]
        raise template_error(f"secret '{self._key}' has several fields; name one: secret.{self._key}.<field>")

    def _refuse(self, *_: Any, **__: Any) -> Any:
        return self.whole()._refuse()

    __str__ = __len__ = __iter__ = __bool__ = __eq__ = __ne__ = __add__ = __radd__ = __mod__ = _refuse  # type: ignore[assignment]
    __hash__ = object.__hash__


class SecretNamespace:
    """``secret`` in a template: other secrets of the tenant and app, and ``secret.user_profile``."""

    def __init__(self, user_profile: dict[str, Any], resolve: Callable[[str], dict[str, Any]] | None,
                 sink: list[str], *, probe: bool = False) -> None:
        self._profile = user_profile
        self._resolve = resolve
        self._sink = sink
        self._probe = probe
        self._cache: dict[str, SecretValue] = {}

    def __getitem__(self, key: str) -> Any:
        if key == "user_profile":
            # The caller's own profile: plain values, not secrets.
            return dict(self._profile)
        if self._resolve is None:
            raise QueryValidationError(
                "template error: secret references are only available to external queries",
                errors={"query_text": [f"secret.{key} cannot be used in an internal query; "
                                       "only secret.user_profile is available"]})
        if key not in self._cache:
            if self._probe:
                self._cache[key] = _ProbeSecret(key)
            else:
                value = self._resolve(key)
                # Every string a secret holds is redacted from replies, errors and logs of this run.
                self._sink.extend(leaf_strings(value))
                self._cache[key] = SecretValue(key, value)
        return self._cache[key]


class _ProbeSecret(SecretValue):
    """A secret at save time (it may not exist yet): any field, checked for where it is used."""

    def __init__(self, key: str) -> None:
        super().__init__(key, {})

    def __getitem__(self, name: str) -> Any:
        return SecretString("1")

    def whole(self) -> SecretString:
        return SecretString("1")


def leaf_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in leaf_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in leaf_strings(v)]
    if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) >= 4:
        return [str(value)]
    return []


# ------------------------------------------------------------------------------------------- the sandbox
# Filters and tests a template may use: bounded, side-effect free, and none that formats or pads to a
# width the template chooses (format, center, indent, wordwrap) or reaches other filters by name.
FILTERS = frozenset({"abs", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last",
                     "length", "list", "lower", "max", "min", "replace", "reverse", "round", "sort", "string", "sum",
                     "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount", "select", "reject",
                     "selectattr", "rejectattr", "map"})
TESTS = frozenset({"!=", "<", "<=", "==", ">", ">=", "boolean", "defined", "divisibleby", "eq", "equalto", "even",
                   "false", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan",
                   "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "true",
                   "undefined", "upper"})


def _safe_replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * max(0, len(new) - len(old)) > MAX_RENDERED_CHARS:
        raise template_error(f"replace() would grow a value past {MAX_RENDERED_CHARS} characters")
    return text.replace(old, new, -1 if count is None else count)


def _bounded(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick(0)
        return budget.size(fn(*args, **kwargs))

    # Jinja passes the environment or context to filters that ask for it.
    for attr in ("jinja_pass_arg",):
        if hasattr(fn, attr):
            setattr(wrapper, attr, getattr(fn, attr))
    return wrapper


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import StrictUndefined, pass_context
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Sandbox(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """The sandbox, bounding the operators that can build huge values ('x' * 10**9, 9 ** 9 ** 9)."""

        intercepted_binops = frozenset(["+", "*", "**", "%", "//", "/", "-"])
        intercepted_unops = frozenset(["-", "+"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            for side in (left, right):
                if isinstance(side, SecretString | SecretValue):
                    side._refuse()
            if operator == "**" and (not isinstance(right, int | float) or abs(right) > 64
                                     or not isinstance(left, int | float) or abs(left) > 2**64):
                raise SecurityError("exponent too large")
            if operator == "*" and isinstance(left, int) and isinstance(right, str | list | tuple):
                left, right = right, left
            if operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int) \
                    and len(left) * right > MAX_RENDERED_CHARS:
                raise SecurityError("repetition too large")
            if operator == "%" and isinstance(left, str):
                raise SecurityError("printf-style formatting is not available")
            if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple) \
                    and len(left) + len(right) > MAX_RENDERED_CHARS:
                raise SecurityError("value too large")
            return _budget().size(super().call_binop(context, operator, left, right))

        def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
            if isinstance(arg, SecretString | SecretValue):
                arg._refuse()
            return super().call_unop(context, operator, arg)

    pass_context(_finalize)
    env = Sandbox(undefined=StrictUndefined, finalize=_finalize, autoescape=False, keep_trailing_newline=True)
    filters = {name: env.filters[name] for name in FILTERS}
    filters["replace"] = _safe_replace
    env.filters = {name: _bounded(fn) for name, fn in filters.items()}
    env.tests = {name: env.tests[name] for name in TESTS}
    env.globals = {"range": _range, "_tt_loop": _loop, "_tt_concat": _concat}
    return env


def _finalize(context: Any, value: Any) -> str:
    # Taking the context (pass_context) keeps Jinja from finalizing constants at compile time: every
    # output, constant or not, must become a marker of this render.
    from jinja2 import Undefined

    collector: _Collector = _state.collector
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, inside the render, with the variable's name
    if isinstance(value, SecretValue):
        value = value.whole()
    return collector.marker(value)


# --------------------------------------------------------------------------------- the template's tree
_NODES = frozenset({"Template", "Output", "TemplateData", "Name", "Const", "Getattr", "Getitem", "Slice", "Filter",
                    "Test", "If", "For", "CondExpr", "Compare", "Operand", "And", "Or", "Not", "Neg", "Pos", "Add",
                    "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow", "Concat", "List", "Tuple", "Dict", "Pair",
                    "Keyword", "Call", "Assign", "With"})
_REFUSED = {"FilterBlock": "{% filter %} blocks", "Macro": "macros", "CallBlock": "{% call %} blocks",
            "AssignBlock": "{% set %}...{% endset %} blocks (use {% set x = ... %})",
            "Include": "{% include %}", "Import": "{% import %}", "FromImport": "{% from ... import %}",
            "Extends": "{% extends %}", "Block": "{% block %}", "ScopedEvalContextModifier": "{% autoescape %}",
            "ExprStmt": "{% do %}", "Scope": "scoped blocks", "NSRef": "namespace()"}


def _checked_ast(text: str) -> Any:
    """The template's tree, if every node is allowed; loops and concatenation routed through the budget."""
    from jinja2 import TemplateSyntaxError, nodes

    try:
        ast = _env().parse(text)
    except TemplateSyntaxError as exc:
        raise template_error(f"Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise template_error("the template is nested too deeply") from None
    stack: list[tuple[Any, int]] = [(ast, 0)]
    while stack:
        node, depth = stack.pop()
        kind = type(node).__name__
        if depth > MAX_TEMPLATE_DEPTH:
            raise template_error(f"the template is nested more than {MAX_TEMPLATE_DEPTH} levels deep")
        if kind not in _NODES:
            raise template_error(f"{_REFUSED.get(kind, kind)} cannot be used in a query template")
        if isinstance(node, nodes.Filter | nodes.Test):
            known = FILTERS if isinstance(node, nodes.Filter) else TESTS
            if node.name not in known:
                kind_name = "filter" if isinstance(node, nodes.Filter) else "test"
                raise template_error(f"the {kind_name} '{node.name}' is not available; available: "
                                     f"{', '.join(sorted(known))}")
        if isinstance(node, nodes.Call) and not (isinstance(node.node, nodes.Name) and node.node.name == "range"):
            raise template_error("only range() can be called in a query template")
        if isinstance(node, nodes.Name) and node.name.startswith("_tt_"):
            raise template_error(f"'{node.name}' is a reserved name")
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return _budgeted_transformer()().visit(ast)


def _budgeted_transformer() -> Any:
    from jinja2 import nodes
    from jinja2.visitor import NodeTransformer

    class Budgeted(NodeTransformer):  # type: ignore[misc]
        """Every loop and every ``~`` runs through the render's budget."""

        def visit_For(self, node: Any) -> Any:
            self.generic_visit(node)
            node.iter = nodes.Call(nodes.Name("_tt_loop", "load"), [node.iter], [], None, None)
            return node

        def visit_Concat(self, node: Any) -> Any:
            self.generic_visit(node)
            return nodes.Call(nodes.Name("_tt_concat", "load"), node.nodes, [], None, None)

    return Budgeted


@lru_cache(maxsize=256)
def _compile(text: str) -> Any:
    ast = _checked_ast(text)
    ast.set_environment(_env())
    try:
        return _env().from_string(ast)
    except RecursionError:
        raise template_error("the template is nested too deeply") from None
    except SyntaxError:  # Python's own limit on nested blocks in the compiled template
        raise template_error("the template nests blocks too deeply") from None


def variables(text: str) -> set[str]:
    """The template's free variables; a QueryValidationError on a Jinja syntax error."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(_checked_ast(text))) - {"_tt_loop", "_tt_concat"}


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
        if not name.isidentifier() or len(name) > _PARAM_NAME_MAX or not name.isascii() or name.startswith("_tt_"):
            raise QueryValidationError(f"parameter name '{name[:64]}' is not a valid identifier",
                                       errors={f"params.{name[:64]}": ["must be a letter or '_' then letters, "
                                                                       "digits or '_' (at most 64)"]})
        problem = _value_problem(value, 0)
        if problem:
            raise QueryValidationError(f"parameter '{name}' {problem}", errors={f"params.{name}": [problem]})
        if len(json.dumps(value, default=str)) > _MAX_VALUE_CHARS:
            raise QueryValidationError(f"parameter '{name}' is too large",
                                       errors={f"params.{name}": [f"at most {_MAX_VALUE_CHARS} characters"]})
    return dict(params)


def _value_problem(value: Any, depth: int) -> str | None:
    """Why a parameter value cannot be used, or None: every string must be valid Unicode without NUL,
    every number finite and smaller than 10^38."""
    import math

    if depth > 8:
        return "is nested too deeply (at most 8 levels)"
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character, which no database accepts in text"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (\\ud800-\\udfff), which is not valid Unicode"
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) >= 10**38:
            return "is a number too large: integers must be smaller than 10^38 in magnitude"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return "must be a finite number (NaN and infinity are not allowed)"
    elif isinstance(value, list):
        for item in value:
            problem = _value_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _value_problem(key, depth + 1) or _value_problem(item, depth + 1)
            if problem:
                return problem
    return None


# ------------------------------------------------------------------------------------------------ render
@dataclass(frozen=True)
class Output:
    value: Any
    secret: bool = False


class _Collector:
    def __init__(self) -> None:
        self.nonce = _random.token_hex(6)
        self.outputs: list[Output] = []

    def marker(self, value: Any) -> str:
        if isinstance(value, SecretString):
            self.outputs.append(Output(value.reveal(), secret=True))
        else:
            self.outputs.append(Output(_budget().size(value)))
        return f"ttq{self.nonce}n{len(self.outputs) - 1}q"


# Where an output stood: its render's nonce and its index. Compiled once; a match counts only with this
# render's nonce (a template or a value may contain text of the same form, never the nonce).
_MARKER = re.compile(r"ttq([0-9a-f]{12})n(\d+)q")


@dataclass
class Rendered:
    """The rendered text (markers where the outputs stood), the outputs, and the strings to redact."""

    text: str
    outputs: list[Output] = field(default_factory=list)
    nonce: str = ""
    secret_strings: list[str] = field(default_factory=list)

    def whole(self, text: str) -> int | None:
        """The output index if ``text`` is exactly one of this render's markers."""
        hit = _MARKER.fullmatch(text)
        return int(hit.group(2)) if hit and hit.group(1) == self.nonce else None

    def indexes(self, text: str) -> list[int]:
        """The output indexes of this render's markers in ``text``."""
        if self.nonce not in text:
            return []
        return [int(m.group(2)) for m in _MARKER.finditer(text) if m.group(1) == self.nonce]

    def replace_markers(self, text: str, value: Callable[[Output], str]) -> str:
        return _MARKER.sub(lambda m: value(self.outputs[int(m.group(2))]) if m.group(1) == self.nonce
                           else m.group(0), text)

    def marker_at(self, text: str, i: int) -> re.Match[str] | None:
        hit = _MARKER.match(text, i)
        return hit if hit and hit.group(1) == self.nonce else None


def render(text: str, params: dict[str, Any], *, language: str, user_profile: dict[str, Any],
           resolve_secret: Callable[[str], dict[str, Any]] | None, probe: bool = False) -> Rendered:
    """Render ``text``; ``probe`` fills every free variable and secret (save-time validation)."""
    from jinja2 import TemplateError, UndefinedError
    from jinja2.sandbox import SecurityError

    if language not in LANGUAGES:
        raise template_error(f"unknown language '{language}'")
    sink: list[str] = []
    context: dict[str, Any] = dict(params)
    template = _compile(text)
    if probe:
        # A stand-in for every variable: in a JSON body a number fits wherever a value goes ("size": 1, and
        # inside a string it is the text "1"); in SQL the text "1" does.
        for name in variables(text):
            context.setdefault(name, 1 if language == "elasticsearch" else "1")
    context["secret"] = SecretNamespace(user_profile, resolve_secret, sink, probe=probe)
    collector = _Collector()
    _state.collector, _state.budget = collector, _Budget()
    try:
        raw = template.render(context)
    except UndefinedError as exc:
        raise QueryValidationError(
            f"template error: {exc.message}; pass it in params",
            errors={"params": [f"{exc.message}; pass it in params"]}) from None
    except SecurityError as exc:
        raise template_error(f"the template tried an operation the sandbox does not allow ({exc})") from None
    except TemplateError as exc:
        raise template_error(str(exc.message or "template failed")[:300]) from None
    except TelltaleError:
        raise  # a secret that does not resolve, a bad field, a budget: already typed
    except RecursionError:
        raise template_error("the template recursed too deeply") from None
    except Exception as exc:  # noqa: BLE001 - a filter misused on a value: the template's fault
        raise template_error(f"rendering failed ({type(exc).__name__})") from None
    finally:
        _state.collector = _state.budget = None
    if len(raw) > MAX_RENDERED_CHARS:
        raise template_error(f"the rendered query is longer than {MAX_RENDERED_CHARS} characters")
    values_size = sum(len(_json_text(o.value)) for o in collector.outputs)
    if len(raw) + values_size > MAX_RENDERED_CHARS:
        raise template_error(f"the query with its parameters is longer than {MAX_RENDERED_CHARS} characters")
    return Rendered(raw, collector.outputs, collector.nonce, sink)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


# ---------------------------------------------------------------------------------------- Elasticsearch
def to_json_text(rendered: Rendered) -> str:
    """The rendered JSON with each parameter JSON-escaped where it landed (inside a string: its text;
    outside: one JSON value); secret markers stay, to be placed by :func:`place_json_secrets`."""
    if not rendered.outputs:
        return rendered.text
    out: list[str] = []
    in_string = False
    i, n, raw = 0, len(rendered.text), rendered.text
    while i < n:
        hit = rendered.marker_at(raw, i) if raw[i] == "t" else None
        if hit:
            output = rendered.outputs[int(hit.group(2))]
            if output.secret:
                out.append(hit.group(0) if in_string else f'"{hit.group(0)}"')
            elif in_string:
                out.append(json.dumps(value_text(output.value))[1:-1])
            else:
                out.append(json.dumps(output.value, default=str))
            i = hit.end()
            continue
        ch = raw[i]
        if in_string and ch == "\\":
            out.append(raw[i:i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        i += 1
    return "".join(out)


def value_text(value: Any) -> str:
    """A value as the text it stands for inside a string ('...{{ x }}...', "...{{ x }}..."): NULL is empty,
    booleans lower-case, lists and objects their JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


_ES_SECRET_PLACES = ("query", "post_filter")


def place_json_secrets(body: Any, rendered: Rendered, path: tuple[str, ...] = ()) -> Any:
    """The checked body with each secret marker replaced by its value; refused where a secret could be
    returned: only a whole string value inside ``query`` or ``post_filter`` may be a secret."""
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            if rendered.indexes(str(key)):
                raise template_error("a secret cannot be a key of the search body")
            out[key] = place_json_secrets(value, rendered, (*path, str(key)))
        return out
    if isinstance(body, list):
        return [place_json_secrets(v, rendered, path) for v in body]
    if isinstance(body, str) and rendered.indexes(body):
        whole = rendered.whole(body)
        if whole is None or not path or path[0] not in _ES_SECRET_PLACES:
            raise template_error("a secret may only be a whole value inside 'query' or 'post_filter' "
                                 '({"term": {"api_key": "{{ secret.key.field }}"}})')
        return rendered.outputs[whole].value
    return body
