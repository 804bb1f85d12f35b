"""Bad input to the events API: clear 4xx naming the field, never a 500, and nothing half-accepted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from events_e2e_helpers import wait_for_count

E = "/api/analytics/events"
Q = "/api/analytics/query"


def _ok(event_type: str, **kw: Any) -> dict[str, Any]:
    return {"eventType": event_type, "tenantId": "demo", **kw}


@pytest.mark.parametrize("patch,field", [
    ({"eventType": None}, "eventType"),
    ({"tenantId": None}, "tenantId"),
    ({"eventType": "nodots"}, "eventType"),
    ({"eventType": "a..b"}, "eventType"),
    ({"eventType": 12}, "eventType"),
    ({"tenantId": 7}, "tenantId"),
    ({"eventId": "not-a-uuid"}, "eventId"),
    ({"eventId": 5}, "eventId"),
    ({"occurredAt": "yesterday"}, "occurredAt"),
    ({"occurredAt": "2026-13-01T00:00:00Z"}, "occurredAt"),
    ({"occurredAt": 1714000000}, "occurredAt"),
    ({"occurredAt": "1500-01-01T00:00:00Z"}, "occurredAt"),
    ({"actorType": "ROBOT"}, "actorType"),
    ({"actorId": 123}, "actorId"),
    ({"entityId": "x" * 129}, "entityId"),
    ({"schemaVersion": "1"}, "schemaVersion"),
    ({"schemaVersion": 0}, "schemaVersion"),
    ({"schemaVersion": True}, "schemaVersion"),
    ({"attributes": ["a"]}, "attributes"),
    ({"attributes": {"n": 5}}, "attributes.n"),
    ({"attributes": {"v": "x" * 2049}}, "attributes.v"),
    ({"attributes": {f"k{i}": "v" for i in range(51)}}, "attributes"),
    ({"attributes": {"bad key": "v"}}, "attributes.bad key"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_event_names_the_field(api: Any, event_type: str, patch: dict[str, Any], field: str) -> None:
    ev = {k: v for k, v in {**_ok(event_type), **patch}.items() if v is not None}
    r = api.post(E, json=ev)
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"], r.json()


def test_one_bad_event_rejects_the_whole_batch(api: Any, event_type: str) -> None:
    batch = [_ok(event_type) for _ in range(5)]
    batch[3]["occurredAt"] = "not a time"
    batch[4]["attributes"] = {"n": 1}
    r = api.post(E, json=batch)
    assert r.status_code == 400
    body = r.json()
    assert set(body["errors"]) == {"events[3].occurredAt", "events[4].attributes.n"}
    assert "events[3]" in body["message"] and "nothing was accepted" in body["message"]
    # The three valid events were not stored either.
    api.post(E, json=_ok(event_type, eventId=str(uuid.uuid4())))
    assert wait_for_count(api, event_type, 1) == 1


def test_tenant_and_auth_rules(api: Any, event_type: str) -> None:
    assert api.post(E, json=_ok(event_type), tenant=None).status_code == 401
    r = api.post(E, json=_ok(event_type, tenantId="other"))
    assert r.status_code == 403 and "tenantId" in r.json()["message"]
    assert api.post(E, json=_ok(event_type), headers={"x-tenant-uuid": "other"}).status_code == 403
    assert api.post(E, data="{not json", headers={"content-type": "application/json"}).status_code == 400
    assert api.post(E, json=[]).status_code == 400
    assert api.post(E, json="a string").status_code == 400


def test_ten_thousand_event_batch(api: Any, event_type: str) -> None:
    batch = [_ok(event_type, attributes={"i": str(i)}) for i in range(10_000)]
    r = api.post(E, json=batch)
    assert r.status_code == 202, r.text
    too_many = api.post(E, json=[*batch, _ok(event_type)])
    assert too_many.status_code == 413 and "10000" in too_many.json()["message"]
    assert wait_for_count(api, event_type, 10_000, timeout=120) == 10_000


RANGE = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T23:59:59Z"}
COUNT = [{"function": "COUNT", "alias": "n"}]


@pytest.mark.parametrize("body,field", [
    ({"timeRange": RANGE, "aggregations": COUNT}, "eventType"),
    ({"eventType": "a.b", "aggregations": COUNT}, "timeRange"),
    ({"eventType": "a.b", "timeRange": RANGE}, "aggregations"),
    ({"eventType": "a.b", "timeRange": RANGE, "aggregations": []}, "aggregations"),
    ({"eventType": "a.b", "timeRange": {"from": "2026-04-01"}, "aggregations": COUNT}, "timeRange.to"),
    ({"eventType": "a.b", "timeRange": {"from": "soon", "to": "2026-04-01T00:00:00Z"}, "aggregations": COUNT},
     "timeRange"),
    ({"eventType": "a.b", "timeRange": {"from": "2026-05-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
      "aggregations": COUNT}, "timeRange"),
    ({"granularity": "YEAR"}, "granularity"),
    ({"aggregations": [{"function": "MEDIAN", "field": "schemaVersion"}]}, "aggregations[0].function"),
    ({"aggregations": [{"function": "SUM"}]}, "aggregations[0].field"),
    ({"aggregations": [{"function": "SUM", "field": "actorId"}]}, "aggregations[0].field"),
    ({"aggregations": [{"function": "AVG", "field": "nope"}]}, "aggregations[0].field"),
    ({"aggregations": [{"function": "MAX", "field": "occurredAt", "distinct": True}]}, "aggregations[0].distinct"),
    ({"aggregations": [{"function": "COUNT", "alias": "bad alias"}]}, "aggregations[0].alias"),
    ({"aggregations": [{"function": "COUNT", "alias": "n"}, {"function": "COUNT", "alias": "n"}]},
     "aggregations[1].alias"),
    ({"filters": [{"field": "colour", "op": "EQ", "value": "red"}]}, "filters[0].field"),
    ({"filters": [{"field": "actorId", "op": "LIKE", "value": "x"}]}, "filters[0].op"),
    ({"filters": [{"field": "actorId", "op": "GT", "value": "x"}]}, "filters[0].op"),
    ({"filters": [{"field": "actorId", "op": "IN", "value": "x"}]}, "filters[0].value"),
    ({"filters": [{"field": "actorId", "op": "IN", "value": []}]}, "filters[0].value"),
    ({"filters": [{"field": "actorId", "op": "EQ", "value": ["a"]}]}, "filters[0].value"),
    ({"filters": [{"field": "actorId", "op": "EQ"}]}, "filters[0].value"),
    ({"filters": [{"field": "schemaVersion", "op": "GT", "value": "two"}]}, "filters[0].value"),
    ({"filters": [{"field": "occurredAt", "op": "GT", "value": "noon"}]}, "filters[0].value"),
    ({"filters": [{"field": "attributes.amount", "op": "GT", "value": "ten"}]}, "filters[0].value"),
    ({"groupBy": [{"field": "colour"}]}, "groupBy[0].field"),
    ({"sort": [{"field": "nothing", "ascending": True}]}, "sort[0].field"),
    ({"limit": 0}, "limit"),
    ({"limit": 100_001}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"extra": 1}, "extra"),
])
def test_invalid_query_names_the_problem(api: Any, body: dict[str, Any], field: str) -> None:
    # Cases naming two or more of the required fields are whole bodies; the others patch a valid query.
    required = {"eventType", "timeRange", "aggregations"}
    full = dict(body) if len(required & set(body)) >= 2 else {"eventType": "a.b", "timeRange": RANGE,
                                                              "aggregations": COUNT, **body}
    r = api.post(Q, json=full)
    assert r.status_code == 400, r.text
    out = r.json()
    assert any(k == field or k.startswith(field) for k in out.get("errors", {})), out


def test_every_problem_of_a_query_in_one_reply(api: Any) -> None:
    """What the model refuses (a granularity, an operator) and what compiling the accepted items refuses (a
    SUM of a text field, an ordering operator on a string, a sort on no column) arrive together, each under
    one spelling of its path, in the validator's own words."""
    body = {"eventType": "a.b", "timeRange": RANGE, "granularity": "DECADE",
            "filters": [{"field": "actorId", "op": "LIKE", "value": "x"},
                        {"field": "actorId", "op": "GT", "value": "x"}],
            "aggregations": [{"function": "SUM", "field": "actorId"}, {"function": "COUNT", "alias": "n"}],
            "sort": [{"field": "nothing"}]}
    r = api.post(Q, json=body)
    assert r.status_code == 400, r.text
    out = r.json()
    assert set(out["errors"]) == {"granularity", "filters[0].op", "filters[1].op", "aggregations[0].field",
                                  "sort[0].field"}, out
    for key in out["errors"]:
        assert key in out["message"], (key, out["message"])
    assert "Value error" not in r.text and "Assertion failed" not in r.text

    # Fixing what was named leaves nothing to find on the next try.
    body.update(granularity="DAY", filters=[{"field": "actorId", "op": "EQ", "value": "x"}],
                aggregations=[{"function": "COUNT", "alias": "n"}], sort=[{"field": "n"}])
    assert api.post(Q, json=body).status_code == 200


def test_a_validator_speaks_without_pydantic_prefixes(api: Any) -> None:
    r = api.post(Q, json={"eventType": "a.b", "aggregations": COUNT,
                          "timeRange": {"from": "2026-05-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}})
    assert r.status_code == 400
    assert r.json()["errors"]["timeRange"] == ["to must not be before from"], r.text
