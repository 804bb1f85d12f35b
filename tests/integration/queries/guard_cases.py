"""The guard suite's tables: hostile and legitimate queries per dialect.

Hostile queries must be refused by the guard (QueryValidationError naming why), and, run with the guard
switched off, must still write nothing (the read-only session is the second wall). Legitimate ones must
pass the guard and run on the real server against the seeded tables (tests/queries_servers.py).
"""

from __future__ import annotations

# The SQL corpora (postgres, redshift, mysql, clickhouse, internal) are in sql_cases.py.

ES_HOSTILE = [
    {"query": {"script": {"script": {"source": "doc['a'].value > 1"}}}},
    {"script_fields": {"x": {"script": {"source": "1"}}}},
    {"runtime_mappings": {"x": {"type": "long", "script": "emit(1)"}}},
    {"query": {"function_score": {"query": {"match_all": {}}, "script_score": {"script": "1"}}}},
    {"aggs": {"x": {"scripted_metric": {"map_script": "state.x = 1"}}}},
    {"aggs": {"h": {"terms": {"field": "a"}, "aggs": {"b": {"bucket_script": {"script": "1"}}}}}},
    {"aggs": {"h": {"terms": {"field": "a"}, "aggs": {"b": {"bucket_selector": {"script": "true"}}}}}},
    {"sort": {"_script": {"type": "number", "script": "1", "order": "asc"}}},
    {"query": {"bool": {"filter": [{"script": {"script": {"id": "stored-one"}}}]}}},
    {"aggs": {"x": {"terms": {"script": {"source": "doc['a']"}}}}},
    {"query": {"terms": {"user": {"index": "secrets", "id": "1", "path": "followers"}}}},
    {"query": {"percolate": {"field": "q", "index": "other-index", "id": "1"}}},
    {"query": {"more_like_this": {"fields": ["a"], "like": [{"_index": "other", "_id": "1"}]}}},
    {"query": {"geo_shape": {"loc": {"indexed_shape": {"index": "shapes", "id": "1", "path": "s"}}}}},
    {"index": "other-*"},
    {"index": "*"},
    {"index": "logs-*,secrets"},
    {"index": "remote:logs-1"},
    {"index": "_all"},
    {"index": "-logs-1"},
    {"pit": {"id": "abc"}},
    {"slice": {"id": 0, "max": 2}},
    {"query": {"match_all": {}}, "script": "ctx._source.x = 1"},
    {"conflicts": "proceed", "query": {"match_all": {}}},
    {"_name": "x", "query": {"match_all": {}}},
    {"size": -1},
    {"size": "10"},
    {"from": -5},
    {"query": {"nested": {"path": "a", "query": {"script": {"script": "1"}}}}},
    {"query": {"has_child": {"type": "c", "query": {"script": {"script": "1"}}}}},
    {"query": {"intervals": {"f": {"match": {"query": "a", "filter": {"script": {"source": "1"}}}}}}},
    {"aggs": {"x": {"top_hits": {"script_fields": {"y": {"script": "1"}}}}}},
    {"aggs": {"x": {"avg": {"field": "a", "script": {"source": "_value * 2"}}}}},
    {"query": {"match_all": {}}, "stored_script": {"id": "x"}},
    {"highlight": {"fields": {"a": {}}}, "runtime_mappings": {}},
    {"query": {"wrapper": {"query": "eyJzY3JpcHQiOnt9fQ=="}}},
    {"query": {"template": {"source": "{}"}}},
    {"search_template": {"id": "x"}},
    {"query": {"bool": {"must": [{"match_all": {}}], "should": [{"script": {"script": "1"}}]}}},
    {"collapse": {"field": "a", "inner_hits": {"name": "i", "script_fields": {"x": {"script": "1"}}}}},
]

ES_LEGIT = [
    {"query": {"match_all": {}}},
    {"query": {"match": {"status": "paid"}}, "size": 10},
    {"query": {"bool": {"must": [{"match": {"status": "paid"}}, {"range": {"created_at": {"gte": "2024-01-01"}}}]}}},
    {"_source": ["customer_name"], "sort": [{"created_at": "desc"}], "size": 5},
    {"size": 0, "aggs": {"by_status": {"terms": {"field": "status"}}}},
    {"size": 0, "aggs": {"by_day": {"date_histogram": {"field": "created_at", "calendar_interval": "day"}}}},
    {"size": 0, "aggs": {"avg_total": {"avg": {"field": "order_total"}}}},
    {"query": {"term": {"status": "script"}}},
    {"query": {"match": {"description": "runtime_mappings and scripts are words here"}}},
    {"query": {"query_string": {"query": "status:paid AND customer_name:Ada"}}},
    {"query": {"exists": {"field": "customer_name"}}},
    {"query": {"prefix": {"customer_name": "Ad"}}},
    {"query": {"wildcard": {"customer_name": "A*"}}},
    {"query": {"ids": {"values": ["a1", "a2"]}}},
    {"query": {"match_all": {}}, "from": 10, "size": 10},
    {"query": {"match_all": {}}, "track_total_hits": True},
    {"index": "logs-2024.01", "query": {"match_all": {}}},
    {"query": {"match_all": {}}, "highlight": {"fields": {"customer_name": {}}}},
    {"query": {"match_all": {}}, "collapse": {"field": "status"}},
    {"size": 0, "aggs": {"s": {"terms": {"field": "status"}, "aggs": {"rev": {"sum": {"field": "order_total"}}}}}},
    {"query": {"range": {"order_total": {"gte": 10, "lte": 100}}}, "sort": ["_score", {"order_total": "asc"}]},
]
