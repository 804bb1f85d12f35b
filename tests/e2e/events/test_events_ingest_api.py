"""Ingestion over HTTP: 202 with no body, the worker stores each event once, bad input is a 400."""

from __future__ import annotations

import uuid
from typing import Any

from events_e2e_helpers import wait_for_count


def test_single_event_is_accepted_and_stored(api: Any, event_type: str) -> None:
    r = api.post("/api/analytics/events", json={
        "eventType": event_type, "tenantId": "demo", "actorType": "SYSTEM", "entityType": "CONTACT",
        "entityId": "C019B9D0FD0E5772F9E8ED189895D40C4",
        "attributes": {"source": "CRM_MIGRATION", "batchId": "batch-2026-04-22-001"}},
        headers={"x-tenant-uuid": "demo"})
    assert r.status_code == 202, r.text
    assert r.content == b""
    assert wait_for_count(api, event_type, 1) == 1


def test_replayed_event_id_is_stored_once(api: Any, event_type: str) -> None:
    eid = str(uuid.uuid4())
    ev = {"eventId": eid, "eventType": event_type, "tenantId": "demo", "occurredAt": "2026-04-22T10:30:00Z"}
    for _ in range(3):
        assert api.post("/api/analytics/events", json=[ev, ev]).status_code == 202
    # A replay without occurredAt (defaults to receipt time, another partition) is still the same event.
    assert api.post("/api/analytics/events", json={"eventId": eid, "eventType": event_type,
                                                  "tenantId": "demo"}).status_code == 202
    other = {"eventType": event_type, "tenantId": "demo", "occurredAt": "2026-04-22T10:30:00Z"}
    assert api.post("/api/analytics/events", json=other).status_code == 202
    assert wait_for_count(api, event_type, 2) == 2
    import time

    time.sleep(1.0)
    assert wait_for_count(api, event_type, 2) == 2


def test_platform_outbox_events_reach_the_store(api: Any) -> None:
    """Creating a secret publishes secret.created through the outbox, queue and worker."""
    key = "outbox_" + uuid.uuid4().hex[:8]
    value = {"host": "db.example.com", "port": 5432, "database": "x", "username": "u",
             "password": "secure_password"}
    r = api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres", "value": value})
    assert r.status_code == 201, r.text
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        q = api.post("/api/analytics/query", json={
            "eventType": "secret.created", "timeRange": {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
            "filters": [{"field": "entityId", "op": "EQ", "value": f"shop/{key}"}],
            "groupBy": [{"field": "source"}, {"field": "attributes.type"}, {"field": "actorType"}],
            "aggregations": [{"function": "COUNT", "alias": "n"}]})
        assert q.status_code == 200, q.text
        if q.json()["rows"]:
            break
        time.sleep(0.2)
    assert q.json()["rows"] == [{"values": ["platform", "analytics-postgres", "TENANT_STAFF", 1]}]
    assert "secure_password" not in q.text


def test_the_spec_curl_examples(api: Any) -> None:
    """The spec's two curl examples, verbatim, with a token for the spec's tenant."""
    tenant = "T019A16FF372A70B5A9307B00CE85E4DA"
    headers = {"Authorization": f"Bearer {api.token(tenant, 'TS019C06688AA57248B9EA5325DBDFC48E')}",
               "x-tenant-uuid": tenant, "x-user-email": "advisor@conpat.com",
               "x-user-id": "TS019C06688AA57248B9EA5325DBDFC48E", "x-user-type": "TENANT_STAFF"}
    r = api.post("/api/analytics/events", tenant=None, headers=headers, json={
        "eventType": "contact.imported", "tenantId": tenant, "actorType": "SYSTEM", "entityType": "CONTACT",
        "entityId": "C019B9D0FD0E5772F9E8ED189895D40C4",
        "attributes": {"source": "CRM_MIGRATION", "batchId": "batch-2026-04-22-001"}})
    assert r.status_code == 202 and r.content == b""
    created = [{"eventType": "contact.created", "tenantId": tenant, "occurredAt": f"2026-04-{d:02d}T10:30:00Z",
                "actorType": "TENANT_STAFF", "actorId": actor, "entityType": "CONTACT", "entityId": f"C{i}"}
               for i, (d, actor) in enumerate([(22, "TS019C06688AA57248B9EA5325DBDFC48E")] * 3
                                              + [(21, "TS019C06688AA57248B9EA5325DBDFC48E")] * 2 + [(21, "TS2")])]
    assert api.post("/api/analytics/events", tenant=None, headers=headers, json=created).status_code == 202
    query = {"eventType": "contact.created",
             "timeRange": {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T23:59:59Z"},
             "granularity": "DAY", "groupBy": [{"field": "actorId"}],
             "aggregations": [{"function": "COUNT", "alias": "contacts_created"}],
             "sort": [{"field": "contacts_created", "ascending": False}], "limit": 50}
    assert wait_for_count(api, "contact.created", 6, tenant=tenant) >= 6
    r = api.post("/api/analytics/query", tenant=None, headers=headers, json=query)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["role"] for c in body["columns"]] == ["TIME", "DIMENSION", "METRIC"]
    assert body["columns"][0] == {"name": "time_bucket", "label": "Date", "type": "TIMESTAMP", "role": "TIME"}
    assert body["columns"][2]["primary"] is True
    assert body["rows"][:2] == [{"values": ["2026-04-22T00:00:00Z", "TS019C06688AA57248B9EA5325DBDFC48E", 3]},
                                {"values": ["2026-04-21T00:00:00Z", "TS019C06688AA57248B9EA5325DBDFC48E", 2]}]
    assert body["stats"]["rowCount"] == 3
