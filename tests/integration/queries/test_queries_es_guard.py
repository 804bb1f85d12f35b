"""The Elasticsearch guard suite (cases in es_cases.py, grouped by class).

Every hostile body is refused with a QueryValidationError whose message names what is wrong. Every
legitimate body passes, and is then sent by the real connector over HTTP to the recorded-response server
(tests/queries_servers.py, EsReplayServer): what arrives is the checked body, never the template's text.
The replay server cannot say what a real cluster would answer; it proves what the connector sends.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from es_cases import ES_HOSTILE, ES_INDEX, ES_LEGIT

from telltale.connectors import load
from telltale.connectors.base import Limits, Prepared
from telltale.platform.errors import QueryValidationError
from telltale.queries import es_guard

pytestmark = pytest.mark.integration

LIMITS = Limits(max_rows=100, statement_timeout_s=3, connect_timeout_s=5)


def _ids(cases: list[tuple[Any, ...]]) -> list[str]:
    counts: dict[str, int] = {}
    out = []
    for case in cases:
        counts[case[0]] = counts.get(case[0], 0) + 1
        out.append(f"{case[0]}-{counts[case[0]]:02d}")
    return out


def _text(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body)


def test_enough_cases_in_every_class():
    assert len(ES_HOSTILE) >= 150 and len(ES_LEGIT) >= 50
    classes = {cls for cls, _, _ in ES_HOSTILE}
    assert {"scripts", "limits", "unknown", "other-indices", "nesting-size", "wrong-types", "field-names",
            "json"} <= classes
    assert all(sum(1 for c, _, _ in ES_HOSTILE if c == cls) >= 10 for cls in classes)


@pytest.mark.parametrize(("cls", "fragment", "body"), ES_HOSTILE, ids=_ids(ES_HOSTILE))
def test_es_guard_refuses_hostile(cls, fragment, body):
    with pytest.raises(QueryValidationError) as info:
        es_guard.check(_text(body), ES_INDEX)
    assert fragment in info.value.message, info.value.message
    assert info.value.message == f"query refused: {info.value.errors['query_text'][0]}"
    assert len(info.value.message) < 700


@pytest.mark.parametrize(("cls", "body"), ES_LEGIT, ids=_ids(ES_LEGIT))
def test_es_guard_accepts_legitimate(cls, body):
    checked = es_guard.check(json.dumps(body), ES_INDEX)
    assert checked == body


@pytest.mark.parametrize(("cls", "body"), ES_LEGIT, ids=_ids(ES_LEGIT))
def test_legitimate_bodies_are_sent_as_checked(es_replay, cls, body):
    checked = es_guard.check(json.dumps(body), ES_INDEX)
    sent_before = copy.deepcopy(checked)
    before = len(es_replay.requests)
    load("elasticsearch").execute(Prepared(text="", config=es_replay.secret(index=ES_INDEX), body=checked), LIMITS)
    sent = es_replay.requests[before:]
    assert len(sent) == 1 and sent[0]["method"] in ("GET", "POST")
    index = sent_before.pop("index", ES_INDEX)
    assert sent[0]["path"].split("?")[0] == "/" + index.replace("*", "%2A") + "/_search" or \
        sent[0]["path"].split("?")[0] == "/" + index + "/_search"
    # The connector's own additions, and nothing else: the size cap and an exact total.
    expected = {**sent_before, "size": min(sent_before.get("size", 10), LIMITS.max_rows)}
    expected.setdefault("track_total_hits", True)
    assert sent[0]["body"] == expected


# ------------------------------------------------------------------------- the walk, case by case
def test_refusal_names_the_path_and_the_name():
    with pytest.raises(QueryValidationError) as info:
        es_guard.check(json.dumps({"aggs": {"by_day": {"scripted_metric": {"map_script": "x"}}}}), "logs-*")
    assert info.value.message == "query refused: 'aggs.by_day.scripted_metric' is not allowed: scripts are not allowed"


def test_the_checked_dict_is_what_was_parsed_not_the_text():
    text = '{"query": {"match": {"msg": "a"}}, "size": 5}'
    body = es_guard.check(text, "logs-*")
    assert body == {"query": {"match": {"msg": "a"}}, "size": 5} and isinstance(body, dict)


def test_index_references_follow_the_secrets_pattern():
    body = {"query": {"terms": {"user": {"index": "logs-users", "id": "1", "path": "ids"}}}}
    assert es_guard.check(json.dumps(body), "logs-*")
    for allowed in ("metrics-*", "logs-*,-logs-users", "", None):
        with pytest.raises(QueryValidationError, match="outside the secret's index pattern"):
            es_guard.check(json.dumps(body), allowed)
    assert es_guard.check(json.dumps({"index": "logs-*"}), "logs-*,-logs-secret")


def test_limits_may_be_tightened_never_raised():
    tighter = {"query": {"query_string": {"query": "a*", "allow_leading_wildcard": False,
                                          "max_determinized_states": 100, "fuzzy_max_expansions": 5}}}
    assert es_guard.check(json.dumps(tighter), "logs-*")
    for key, value in (("allow_leading_wildcard", True), ("max_determinized_states", 10_001),
                       ("fuzzy_max_expansions", 51)):
        body = {"query": {"query_string": {"query": "a*", key: value}}}
        with pytest.raises(QueryValidationError, match=key):
            es_guard.check(json.dumps(body), "logs-*")


def test_every_listed_clause_and_aggregation_has_a_legitimate_body():
    """Each entry of the tables is exercised end to end (a typo in a table cannot hide)."""
    text = " ".join(json.dumps(body) for _, body in ES_LEGIT)
    assert [k for k in es_guard.QUERIES if f'"{k}": {{' not in text] == []
    assert [k for k in es_guard.AGGS if f'"{k}": {{' not in text] == []
    assert [k for k in es_guard.TOP_LEVEL if f'"{k}": ' not in text] == []
