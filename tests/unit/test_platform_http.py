"""The reply envelopes and the single error mapping, through a real Powertools resolver."""

from __future__ import annotations

import datetime as dt
import decimal
import json

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from telltale.platform.errors import Conflict, QueryValidationError
from telltale.web.http import dumps, make_resolver, parse_body, success
from telltale.web.paging import page_params

router = APIGatewayHttpRouter()


class Body(BaseModel):
    name: str
    size: int


@router.post("/things")
def create():
    body = parse_body(router, Body)
    if body.name == "taken":
        raise Conflict("name taken; choose another")
    return success({"name": body.name}, message="created", status=201)


@router.get("/things")
def things():
    page = page_params(router)
    return success([1, 2], total=2, page=page.page)


@router.get("/boom")
def boom():
    raise QueryValidationError("DROP is not allowed", errors={"query_text": ["DROP is not allowed"]})


app = make_resolver()
app.include_router(router)


def _call(method, path, body=None, query=None):
    event = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
             "headers": {"content-type": "application/json"}, "queryStringParameters": query,
             "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
                                "stage": "$default"},
             "body": None if body is None else json.dumps(body), "isBase64Encoded": False}
    out = app.resolve(event, None)
    return out["statusCode"], json.loads(out["body"])


def test_success_envelope():
    status, body = _call("POST", "/things", {"name": "a", "size": 1})
    assert status == 201 and body == {"status": "success", "message": "created", "data": {"name": "a"}}
    status, body = _call("GET", "/things", query={"page": "2"})
    assert status == 200 and body["total"] == 2 and body["page"] == 2


def test_field_errors_for_a_bad_body():
    status, body = _call("POST", "/things", {"name": 1})
    assert status == 400 and body["status"] == "error" and body["code"] == "ValidationError"
    assert set(body["errors"]) == {"name", "size"}


def test_typed_errors_keep_their_status_and_code():
    assert _call("POST", "/things", {"name": "taken", "size": 1})[0] == 409
    status, body = _call("GET", "/boom")
    assert status == 400 and body["code"] == "QueryValidationError" and body["errors"]["query_text"]


def test_bad_paging_is_named():
    status, body = _call("GET", "/things", query={"page": "x", "page_size": "0"})
    assert status == 400 and set(body["errors"]) == {"page", "page_size"}


def test_unknown_route_is_a_json_404():
    status, body = _call("GET", "/nope")
    assert status == 404 and body["status"] == "error"


def test_json_of_database_types():
    out = json.loads(dumps({"t": dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.UTC), "d": dt.date(2024, 1, 2),
                            "n": decimal.Decimal("12.50"), "i": decimal.Decimal("3")}))
    assert out == {"t": "2024-01-15T10:30:00Z", "d": "2024-01-02", "n": 12.5, "i": 3}


def _refusal(raw: str | bytes) -> dict[str, list[str]]:
    from telltale.platform.errors import ValidationError
    from telltale.web.replies import parse_json_body

    try:
        parse_json_body(raw)
    except ValidationError as exc:
        return exc.errors or {}
    return {}


def test_the_depth_bound_is_64_levels_counted_in_arrays_and_objects():
    from telltale.web.replies import parse_json_body

    assert parse_json_body("[" * 64 + "]" * 64) is not None
    assert parse_json_body('{"a": ' * 63 + "[1]" + "}" * 63)["a"]["a"]
    too_deep = {"body": ["must not nest arrays and objects more than 64 levels deep"]}
    assert _refusal("[" * 65 + "]" * 65) == too_deep
    assert _refusal('{"a": ' * 64 + "[]" + "}" * 64) == too_deep
    # Past the interpreter's recursion limit, which json's own parser stops at, the same answer.
    assert _refusal("[" * 100_000 + "]" * 100_000) == too_deep
    # Brackets inside strings are text, not nesting; many shallow containers are no depth.
    assert parse_json_body(json.dumps({"s": "[" * 1000, "many": [[1]] * 10_000}))["s"] == "[" * 1000


def test_the_size_bound_is_5_mib_of_utf8():
    from telltale.web.replies import MAX_BODY_BYTES, parse_json_body

    fits = '"' + "x" * (MAX_BODY_BYTES - 2) + '"'
    assert len(parse_json_body(fits)) == MAX_BODY_BYTES - 2
    assert _refusal(fits + " ") == {"body": ["must be at most 5,242,880 bytes (5 MiB) of JSON"]}
    # Counted in bytes, as sent: two-byte characters fill it at half the characters.
    wide = '"' + "é" * (MAX_BODY_BYTES // 2) + '"'
    assert _refusal(wide) == {"body": ["must be at most 5,242,880 bytes (5 MiB) of JSON"]}
    assert _refusal(wide.encode()) == {"body": ["must be at most 5,242,880 bytes (5 MiB) of JSON"]}


def test_a_body_that_is_not_utf8_is_named_so():
    assert _refusal(b'{"name": "caf\xe9"}') == {"body": ["must be UTF-8 text"]}
