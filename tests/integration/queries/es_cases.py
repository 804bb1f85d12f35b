"""The Elasticsearch guard's cases, grouped by class (test_queries_es_guard.py runs them).

ES_HOSTILE: (class, a fragment the refusal must contain, the body). A body is a dict (sent as json.dumps)
or a str (sent as is: JSON oddities that json.dumps cannot produce). ES_LEGIT: (class, body); each also
runs through the real connector against the recorded-response server.
"""

from __future__ import annotations

from typing import Any

MA: dict[str, Any] = {"match_all": {}}
T: dict[str, Any] = {"terms": {"field": "status"}}


def _agg(inner: dict[str, Any]) -> dict[str, Any]:
    return {"size": 0, "aggs": {"by_status": {**T, "aggs": {"x": inner}}}}


def _nest(depth: int) -> dict[str, Any]:
    q: dict[str, Any] = MA
    for _ in range(depth):
        q = {"bool": {"must": [q]}}
    return {"query": q}


SCRIPTS = [
    ("'query.script' is not allowed: scripts", {"query": {"script": {"script": {"source": "doc['a'].value > 1"}}}}),
    ("'script_fields' is not allowed", {"script_fields": {"x": {"script": {"source": "1"}}}}),
    ("'runtime_mappings' is not allowed", {"runtime_mappings": {"x": {"type": "long", "script": "emit(1)"}}}),
    ("runtime_mappings", {"highlight": {"fields": {"a": {}}}, "runtime_mappings": {}}),
    ("script_score", {"query": {"function_score": {"query": MA, "script_score": {"script": "1"}}}}),
    ("functions[0].script_score", {"query": {"function_score": {"functions": [{"script_score": {"script": "1"}}]}}}),
    ("query.script_score", {"query": {"script_score": {"query": MA, "script": {"source": "1"}}}}),
    ("'aggs.x.scripted_metric' is not allowed", {"aggs": {"x": {"scripted_metric": {"map_script": "state.x = 1"}}}}),
    ("'aggs.by_status.aggs.x.scripted_metric'", _agg({"scripted_metric": {"init_script": "", "map_script": ""}})),
    ("bucket_script", _agg({"bucket_script": {"buckets_path": {"a": "_count"}, "script": "params.a"}})),
    ("bucket_selector", _agg({"bucket_selector": {"buckets_path": {"a": "_count"}, "script": "true"}})),
    ("moving_fn", _agg({"moving_fn": {"buckets_path": "_count", "window": 3,
                                      "script": "MovingFunctions.max(values)"}})),
    ("moving_avg", _agg({"moving_avg": {"buckets_path": "_count"}})),
    ("'sort._script' is not allowed", {"sort": {"_script": {"type": "number", "script": "1", "order": "asc"}}}),
    ("'sort[0]._script'", {"sort": [{"_script": {"type": "number", "script": "1"}}]}),
    ("filter[0].script", {"query": {"bool": {"filter": [{"script": {"script": {"id": "stored-one"}}}]}}}),
    ("should[0].script", {"query": {"bool": {"must": [MA], "should": [{"script": {"script": "1"}}]}}}),
    ("must_not.script", {"query": {"bool": {"must_not": {"script": {"script": "1"}}}}}),
    ("'aggs.x.terms.script'", {"aggs": {"x": {"terms": {"script": {"source": "doc['a']"}}}}}),
    ("'aggs.x.avg.script'", {"aggs": {"x": {"avg": {"field": "a", "script": {"source": "_value * 2"}}}}}),
    ("'aggs.x.sum.script'", {"aggs": {"x": {"sum": {"script": "1"}}}}),
    ("histogram.script", {"aggs": {"x": {"histogram": {"interval": 5, "script": "1"}}}}),
    ("date_histogram.script", {"aggs": {"x": {"date_histogram": {"calendar_interval": "day", "script": "1"}}}}),
    ("range.script", {"aggs": {"x": {"range": {"script": "1", "ranges": [{"to": 5}]}}}}),
    ("cardinality.script", {"aggs": {"x": {"cardinality": {"script": "1"}}}}),
    ("composite.sources[0].s.terms.script", {"aggs": {"x": {"composite": {"sources": [{"s": {"terms": {
        "script": "1"}}}]}}}}),
    ("script_heuristic", {"aggs": {"x": {"significant_terms": {"field": "a", "script_heuristic": {
        "script": "_subset_freq"}}}}}),
    ("nested.query.script", {"query": {"nested": {"path": "a", "query": {"script": {"script": "1"}}}}}),
    ("has_child.query.script", {"query": {"has_child": {"type": "c", "query": {"script": {"script": "1"}}}}}),
    ("has_parent.query.script", {"query": {"has_parent": {"parent_type": "p", "query": {"script": {"script": "1"}}}}}),
    ("constant_score.filter.script", {"query": {"constant_score": {"filter": {"script": {"script": "1"}}}}}),
    ("dis_max.queries[1].script", {"query": {"dis_max": {"queries": [MA, {"script": {"script": "1"}}]}}}),
    ("boosting.negative.script", {"query": {"boosting": {"positive": MA, "negative": {"script": {"script": "1"}},
                                                         "negative_boost": 0.5}}}),
    ("intervals.f.match.filter.script", {"query": {"intervals": {"f": {"match": {"query": "a", "filter": {
        "script": {"source": "1"}}}}}}}),
    ("'aggs.x.top_hits.script_fields'", {"aggs": {"x": {"top_hits": {"script_fields": {"y": {"script": "1"}}}}}}),
    ("inner_hits.script_fields", {"collapse": {"field": "a", "inner_hits": {"name": "i", "script_fields": {
        "x": {"script": "1"}}}}}),
    ("nested.inner_hits.script_fields", {"query": {"nested": {"path": "a", "query": MA, "inner_hits": {
        "script_fields": {"x": {"script": "1"}}}}}}),
    ("minimum_should_match_script", {"query": {"terms_set": {"codes": {"terms": ["a"], "minimum_should_match_script": {
        "source": "1"}}}}}),
    ("'script' is not allowed", {"query": MA, "script": "ctx._source.x = 1"}),
    ("stored_script", {"query": MA, "stored_script": {"id": "x"}}),
    ("post_filter.script", {"post_filter": {"script": {"script": "1"}}}),
    ("rescore.query.rescore_query.script_score", {"rescore": {"window_size": 10, "query": {"rescore_query": {
        "script_score": {"query": MA, "script": "1"}}}}}),
    ("filter.script", {"aggs": {"x": {"filter": {"script": {"script": "1"}}}}}),
    ("filters.filters.a.script", {"aggs": {"x": {"filters": {"filters": {"a": {"script": {"script": "1"}}}}}}}),
    ("highlight_query.script", {"highlight": {"highlight_query": {"script": {"script": "1"}}, "fields": {"a": {}}}}),
    ("sort[0].price.nested.filter.script", {"sort": [{"price": {"nested": {"path": "offer", "filter": {
        "script": {"script": "1"}}}}}]}),
]

LIMITS = [
    ("max_determinized_states", {"query": {"regexp": {"user": {"value": "k.*y", "max_determinized_states": 100000}}}}),
    ("max_determinized_states", {"query": {"query_string": {"query": "/a.*b/", "max_determinized_states": 1000000}}}),
    ("max_expansions", {"query": {"fuzzy": {"user": {"value": "ki", "max_expansions": 10000}}}}),
    ("max_expansions", {"query": {"match_phrase_prefix": {"msg": {"query": "quick b", "max_expansions": 100000}}}}),
    ("max_expansions", {"query": {"match": {"msg": {"query": "a", "fuzziness": "AUTO", "max_expansions": 5000}}}}),
    ("max_expansions", {"query": {"multi_match": {"query": "a", "fields": ["x"], "max_expansions": 1000}}}),
    ("fuzzy_max_expansions", {"query": {"query_string": {"query": "a~", "fuzzy_max_expansions": 1000}}}),
    ("fuzzy_max_expansions", {"query": {"simple_query_string": {"query": "a~", "fuzzy_max_expansions": 1000}}}),
    ("allow_leading_wildcard", {"query": {"query_string": {"query": "*a", "allow_leading_wildcard": True}}}),
    ("from + size", {"query": MA, "from": 9000, "size": 2000}),
    ("'size' must be an integer from 0 to 10000", {"size": 100000}),
    ("'from' must be an integer from 0 to 10000", {"from": 50000}),
    ("'aggs.x.terms.size'", {"aggs": {"x": {"terms": {"field": "a", "size": 1000000}}}}),
    ("'aggs.x.terms.shard_size'", {"aggs": {"x": {"terms": {"field": "a", "shard_size": 10000000}}}}),
    ("precision_threshold", {"aggs": {"x": {"cardinality": {"field": "a", "precision_threshold": 1000000}}}}),
    ("composite.size", {"aggs": {"x": {"composite": {"size": 1000000,
                                                     "sources": [{"s": {"terms": {"field": "a"}}}]}}}}),
    ("top_hits.size", {"aggs": {"x": {"top_hits": {"size": 1000}}}}),
    ("top_hits", {"aggs": {"x": {"top_hits": {"from": 90, "size": 20}}}}),
    ("inner_hits", {"collapse": {"field": "a", "inner_hits": {"name": "i", "from": 60, "size": 50}}}),
    ("window_size", {"rescore": {"window_size": 100000, "query": {"rescore_query": MA}}}),
    ("max_analyzed_offset", {"highlight": {"max_analyzed_offset": 100000000, "fields": {"a": {}}}}),
    ("phrase_limit", {"highlight": {"type": "fvh", "phrase_limit": 100000, "fields": {"a": {}}}}),
    ("'timeout' must be a time like '5s', at most 25s", {"query": MA, "timeout": "10m"}),
    ("'timeout'", {"query": MA, "timeout": "999999999d"}),
    ("'terminate_after' must be an integer", {"query": MA, "terminate_after": 0}),
    ("track_total_hits", {"track_total_hits": 10**12}),
    ("rare_terms.max_doc_count", {"aggs": {"x": {"rare_terms": {"field": "a", "max_doc_count": 1000}}}}),
    ("auto_date_histogram.buckets", {"aggs": {"x": {"auto_date_histogram": {"field": "t", "buckets": 10**6}}}}),
    ("terms.user", {"query": {"terms": {"user": ["u"] * 10001}}}),
    ("max_concurrent_group_searches", {"collapse": {"field": "a", "max_concurrent_group_searches": 1000}}),
]

REQUEST_PARAMS = [  # URL parameters and cluster-side state that a body cannot carry
    ("'search_type' is not allowed: a request parameter", {"query": MA, "search_type": "dfs_query_then_fetch"}),
    ("'request_cache' is not allowed", {"query": MA, "request_cache": False}),
    ("'preference' is not allowed", {"query": MA, "preference": "_shards:0"}),
    ("'routing' is not allowed", {"query": MA, "routing": "user-1"}),
    ("'allow_partial_search_results'", {"query": MA, "allow_partial_search_results": True}),
    ("'batched_reduce_size'", {"query": MA, "batched_reduce_size": 2}),
    ("'max_concurrent_shard_requests'", {"query": MA, "max_concurrent_shard_requests": 10000}),
    ("'pre_filter_shard_size'", {"query": MA, "pre_filter_shard_size": 1}),
    ("'scroll' is not allowed", {"query": MA, "scroll": "10m"}),
    ("'expand_wildcards'", {"query": MA, "expand_wildcards": "all"}),
    ("'pit' is not allowed", {"pit": {"id": "abc", "keep_alive": "1m"}}),
    ("'slice' is not allowed", {"slice": {"id": 0, "max": 2}}),
    ("'stats' is not allowed", {"query": MA, "stats": ["group1"]}),
    ("'profile' is not allowed", {"query": MA, "profile": True}),
    ("'ext' is not allowed", {"query": MA, "ext": {"plugin": {}}}),
    ("'knn' is not allowed", {"knn": {"field": "v", "query_vector": [1, 2], "k": 10000, "num_candidates": 10000}}),
    ("'retriever' is not allowed", {"retriever": {"standard": {"query": MA}}}),
    ("'conflicts' is not allowed", {"conflicts": "proceed", "query": MA}),
    ("'_name' is not allowed", {"_name": "x", "query": MA}),
]

UNKNOWN = [
    ("'query.wrapper' is not allowed: a base64", {"query": {"wrapper": {"query": "eyJzY3JpcHQiOnt9fQ=="}}}),
    ("'query.template' is not allowed", {"query": {"template": {"source": "{}"}}}),
    ("'search_template' is not allowed", {"search_template": {"id": "x"}}),
    ("'query.percolate' is not allowed", {"query": {"percolate": {"field": "q", "document": {"a": 1}}}}),
    ("'query.bogus' is not allowed: not a known read-only query clause", {"query": {"bogus": {}}}),
    ("'query.semantic' is not allowed", {"query": {"semantic": {"field": "s", "query": "hi"}}}),
    ("'query.sparse_vector' is not allowed", {"query": {"sparse_vector": {"field": "v", "inference_id": "m"}}}),
    ("'query.text_expansion'", {"query": {"text_expansion": {"v": {"model_id": "m", "model_text": "x"}}}}),
    ("'query.knn' is not allowed", {"query": {"knn": {"field": "v", "query_vector": [1]}}}),
    ("'query.pinned' is not allowed", {"query": {"pinned": {"ids": ["1"], "organic": MA}}}),
    ("'query.rule' is not allowed", {"query": {"rule": {"ruleset_ids": ["r"], "organic": MA}}}),
    ("'aggs.x.inference' is not allowed", {"aggs": {"x": {"inference": {"model_id": "m"}}}}),
    ("'aggs.x.categorize_text' is not allowed", {"aggs": {"x": {"categorize_text": {"field": "m"}}}}),
    ("'aggs.x.bogus' is not allowed: not a known aggregation", {"aggs": {"x": {"bogus": {}}}}),
    ("'query.match_all.script' is not allowed", {"query": {"match_all": {"script": "1"}}}),
    ("'query.bool.must_sometimes' is not allowed", {"query": {"bool": {"must_sometimes": [MA]}}}),
    ("exactly one query clause", {"query": {"match_all": {}, "match_none": {}}}),
    ("exactly one query clause", {"query": {}}),
    ("exactly one aggregation type", {"aggs": {"x": {"avg": {"field": "a"}, "sum": {"field": "a"}}}}),
    ("exactly one aggregation type", {"aggs": {"x": {"meta": {"a": "b"}}}}),
    ("only bucket aggregations have sub-aggregations", {"aggs": {"x": {"avg": {"field": "a"}, "aggs": {"y": {
        "sum": {"field": "b"}}}}}}),
    ("'aggs.x.date_histogram.interval' is not allowed", {"aggs": {"x": {"date_histogram": {"field": "t",
                                                                                        "interval": "day"}}}}),
    ("'query.range.created_at.from' is not allowed", {"query": {"range": {"created_at": {"from": "2024"}}}}),
    ("both aggs and aggregations", {"aggs": {"a": {"avg": {"field": "x"}}}, "aggregations": {"b": {"avg": {
        "field": "x"}}}}),
    ("'suggest.s.phrase' is not allowed", {"suggest": {"s": {"text": "x", "phrase": {"field": "a", "collate": {
        "query": {"source": "{}"}}}}}}),
    ("'rescore.learning_to_rank' is not allowed", {"rescore": {"learning_to_rank": {"model_id": "m"}}}),
    ("'query.terms.user.doc' is not allowed", {"query": {"terms": {"user": {"index": "logs-1", "id": "1", "path": "a",
                                                                             "doc": {}}}}}),
]

OTHER_INDICES = [
    ("'secrets' at 'query.terms.user.index'", {"query": {"terms": {"user": {"index": "secrets", "id": "1",
                                                                             "path": "followers"}}}}),
    ("'.security' at", {"query": {"terms": {"user": {"index": ".security", "id": "1", "path": "a"}}}}),
    ("'other' at 'query.more_like_this.like[0]._index'", {"query": {"more_like_this": {"fields": ["a"], "like": [
        {"_index": "other", "_id": "1"}]}}}),
    ("'other' at 'query.more_like_this.unlike._index'", {"query": {"more_like_this": {"like": "x", "unlike": {
        "_index": "other", "_id": "1"}}}}),
    ("'shapes' at 'query.geo_shape.loc.indexed_shape.index'", {"query": {"geo_shape": {"loc": {"indexed_shape": {
        "index": "shapes", "id": "1", "path": "s"}}}}}),
    ("'other-*' at 'index'", {"index": "other-*"}),
    ("'*' at 'index'", {"index": "*"}),
    ("'logs-*,secrets' at 'index'", {"index": "logs-*,secrets"}),
    ("'remote:logs-1' at 'index'", {"index": "remote:logs-1"}),
    ("'_all' at 'index'", {"index": "_all"}),
    ("'-logs-1' at 'index'", {"index": "-logs-1"}),
    ("'logs-2024*' at 'index'", {"index": "logs-2024*"}),
    ("at 'index'", {"index": "logs-a/../../_cluster"}),
    ("at 'index'", {"index": "<logs-{now/d}>"}),
    ("at 'index'", {"index": "logs-1, secrets"}),
    ("at 'index'", {"index": "LOGS-1"}),
    ("at 'index'", {"index": "logs-%2A"}),
    ("at 'index'", {"index": ""}),
    ("at 'index'", {"index": ["logs-1"]}),
    ("at 'index'", {"index": "logs-1,"}),
    ("'logs-secret' at 'index'", {"index": "logs-secret"}),  # the secret's pattern excludes it (see the test)
    ("indexed_shape' must name index", {"query": {"geo_shape": {"loc": {"indexed_shape": {"id": "1", "path": "s"}}}}}),
    ("terms.user' must name index", {"query": {"terms": {"user": {"id": "1", "path": "a"}}}}),
    ("'secrets' at 'indices_boost.secrets'", {"indices_boost": {"secrets": 2.0}}),
    ("'other' at 'indices_boost[0].other'", {"indices_boost": [{"other": 1.5}]}),
]

NESTING_AND_SIZE = [
    ("nested deeper than", _nest(30)),
    ("nested deeper than", "[" * 100_000 + "]" * 100_000),
    ("nested deeper than", '{"query":' * 5000 + "{}" + "}" * 5000),
    ("nested deeper than", {"query": {"nested": {"path": "a", "query": {"nested": {"path": "b", "query": {
        "nested": {"path": "c", "query": _nest(20)["query"]}}}}}}}),
    ("more than 20000 values", {"query": {"bool": {"should": [{"term": {"a": i}} for i in range(1000)]}},
                                "aggs": {f"a{i}": {"avg": {"field": "x"}} for i in range(12000)}}),
    ("has more than 1024 items", {"query": {"bool": {"should": [MA] * 1025}}}),
    ("'docvalue_fields' has more than 100 items", {"docvalue_fields": [f"f{i}" for i in range(101)]}),
    ("'query.ids.values' has more than", {"query": {"ids": {"values": ["x"] * 10001}}}),
    ("longer than 100000 characters", {"query": {"match": {"msg": "x" * 100_001}}}),
    ("takes at most 1 field name", {"query": {"match": {"a": "x", "b": "y"}}}),
]

WRONG_TYPES = [
    ("'size' must be an integer", {"size": -1}),
    ("'size' must be an integer", {"size": "10"}),
    ("'size' must be an integer", {"size": 10.5}),
    ("'size' must be an integer", {"size": True}),
    ("'from' must be an integer", {"from": -5}),
    ("'from' must be an integer", {"from": None}),
    ("'query' must be an object", {"query": "match_all"}),
    ("'query' must be an object", {"query": [MA]}),
    ("'query.bool.must' has the wrong type (string)", {"query": {"bool": {"must": "x"}}}),
    ("'query.term.a' has the wrong type (list)", {"query": {"term": {"a": ["x"]}}}),
    ("'query.term.a' has the wrong type (null)", {"query": {"term": {"a": None}}}),
    ("'query.match_all.boost' must be a number", {"query": {"match_all": {"boost": "2"}}}),
    ("'query.match_all.boost' must be a number from 0", {"query": {"match_all": {"boost": -1}}}),
    ("'track_total_hits' has the wrong type (string)", {"track_total_hits": "true"}),
    ("'explain' must be true or false", {"query": MA, "explain": "yes"}),
    ("'aggs.x.terms.size' must be an integer", {"aggs": {"x": {"terms": {"field": "a", "size": "10"}}}}),
    ("'aggs' must be an object", {"aggs": [{"avg": {"field": "a"}}]}),
    ("'aggs.x' must be an object", {"aggs": {"x": "avg"}}),
    ("'query.regexp.a.max_determinized_states' must be an integer",
     {"query": {"regexp": {"a": {"value": "x", "max_determinized_states": "100000"}}}}),
    ("'query.query_string.allow_leading_wildcard' is not allowed",
     {"query": {"query_string": {"query": "*a", "allow_leading_wildcard": "true"}}}),
    ("'query.match.a.fuzziness' must be 0, 1, 2", {"query": {"match": {"a": {"query": "x", "fuzziness": 5}}}}),
    ("'query.fuzzy.a.fuzziness' must be", {"query": {"fuzzy": {"a": {"value": "x", "fuzziness": "AUTO:0,0;x"}}}}),
    ("'sort[0].a' has the wrong type", {"sort": [{"a": 1}]}),
    ("'sort[0].a' must be one of", {"sort": [{"a": "sideways"}]}),
    ("'aggs.x.date_histogram.calendar_interval' must be one of",
     {"aggs": {"x": {"date_histogram": {"field": "t", "calendar_interval": "3d"}}}}),
    ("'aggs.x.avg_bucket.buckets_path' must be", {"aggs": {"x": {"avg_bucket": {"buckets_path": "a>b>>c"}}}}),
    ("'query.bool.minimum_should_match' must be", {"query": {"bool": {"should": [MA],
                                                                      "minimum_should_match": "all of them"}}}),
]

FIELD_NAMES = [
    ("not a plain field name", {"query": {"match": {"*": "x"}}}),
    ("not a plain field name", {"query": {"term": {"user*": "x"}}}),
    ("not a plain field name", {"query": {"range": {"_seq_no": {"gte": 0}}}}),
    ("not a plain field name", {"query": {"exists": {"field": "_source"}}}),
    ("not a plain field name", {"query": {"term": {"_routing": "x"}}}),
    ("not a plain field name", {"query": {"match": {"a..b": "x"}}}),
    ("not a plain field name", {"query": {"match": {".a": "x"}}}),
    ("not a plain field name", {"query": {"match": {"a b": "x"}}}),
    ("not a plain field name", {"query": {"match": {"a\u0000b": "x"}}}),
    ("not a plain field name", {"query": {"match": {"a/b": "x"}}}),
    ("not a plain field name", {"query": {"match": {"": "x"}}}),
    ("not a plain field name", {"query": {"prefix": {"_field_names": "x"}}}),
    ("not a plain field name", {"sort": ["_seq_no"]}),
    ("not a plain field name", {"sort": [{"a*": "asc"}]}),
    ("not a plain field name", {"aggs": {"x": {"terms": {"field": "*"}}}}),
    ("not a plain field name", {"aggs": {"x": {"avg": {"field": "_source.a"}}}}),
    ("not a plain field name", {"query": {"query_string": {"query": "a", "default_field": "*"}}}),
    ("not a plain field name", {"query": {"multi_match": {"query": "a", "fields": ["title*^2"]}}}),
    ("the boost after ^ must be a number", {"query": {"multi_match": {"query": "a", "fields": ["title^x"]}}}),
    ("not a plain field name", {"query": {"nested": {"path": "_nested", "query": MA}}}),
    ("is not a field name or pattern", {"_source": ["a b"]}),
    ("is not a field name or pattern", {"_source": ["_secret*"]}),
    ("is not a field name or pattern", {"fields": ["_routing"]}),
    ("an aggregation name may hold only", {"aggs": {"a>b": {"avg": {"field": "x"}}}}),
    ("an aggregation name may hold only", {"aggs": {"a[0]": {"avg": {"field": "x"}}}}),
    ("is longer than 256", {"query": {"term": {"a" * 300: "x"}}}),
]

JSON_ODDITIES = [  # raw text: what json.dumps of a dict cannot produce
    ("the key 'query' appears twice", '{"query": {"match_all": {}}, "query": {"script": {"script": "1"}}}'),
    ("the key 'script' appears twice", '{"sort": {"_script": {"script": "1", "script": "2"}}}'),
    ("the key 'size' appears twice", '{"size": 10, "size": 100000}'),
    ("the key 'a' appears twice", '{"aggs": {"a": {"avg": {"field": "x"}}, "a": {"scripted_metric": {}}}}'),
    ("the key 'match_all' appears twice", '{"query": {"match_all": {}, "match_all": {"boost": 2}}}'),
    ("NaN is not a JSON number", '{"query": {"match_all": {"boost": NaN}}}'),
    ("Infinity is not a JSON number", '{"min_score": Infinity}'),
    ("-Infinity is not a JSON number", '{"query": {"range": {"a": {"gte": -Infinity}}}}'),
    ("out of range", '{"min_score": 1e400}'),
    ("out of range for Elasticsearch", '{"query": {"term": {"a": 99999999999999999999999}}}'),
    ("out of range for Elasticsearch", '{"search_after": [-9223372036854775809]}'),
    ("not valid JSON", '{"query": {"term": {"a": ' + "9" * 5000 + "}}}"),
    ("lone surrogate", '{"query": {"match": {"msg": "\\ud800"}}}'),
    ("lone surrogate", '{"query": {"match": {"msg": "\\udfff x"}}}'),
    ("lone surrogate", '{"query": {"match": {"a\\ud83d": "x"}}}'),
    ("not valid JSON", '{"query": {"match_all": {}}} {"query": {}}'),
    ("not valid JSON", "{'query': {}}"),
    ("not valid JSON", '{"query": {"match_all": {},}}'),
    ("not valid JSON", ""),
    ("must be a JSON object", '[{"query": {"match_all": {}}}]'),
    ("must be a JSON object", '"query"'),
    ("must be a JSON object", "null"),
]

ES_HOSTILE: list[tuple[str, str, Any]] = [
    (cls, fragment, body)
    for cls, cases in (("scripts", SCRIPTS), ("limits", LIMITS), ("request-params", REQUEST_PARAMS),
                       ("unknown", UNKNOWN), ("other-indices", OTHER_INDICES), ("nesting-size", NESTING_AND_SIZE),
                       ("wrong-types", WRONG_TYPES), ("field-names", FIELD_NAMES), ("json", JSON_ODDITIES))
    for fragment, body in cases
]

# --------------------------------------------------------------------------------------------- legitimate
LEGIT_QUERIES = [
    {"query": MA},
    {"query": {"match_all": {"boost": 1.5, "_name": "all"}}},
    {"query": {"match_none": {}}},
    {"query": {"match": {"status": "paid"}}, "size": 10},
    {"query": {"match": {"description": {"query": "fast delivery", "operator": "and", "fuzziness": "AUTO",
                                         "max_expansions": 50, "zero_terms_query": "all"}}}},
    {"query": {"match_phrase": {"description": {"query": "next day", "slop": 2}}}},
    {"query": {"match_phrase_prefix": {"customer_name": {"query": "Ad", "max_expansions": 10}}}},
    {"query": {"match_bool_prefix": {"description": "quick brown f"}}},
    {"query": {"multi_match": {"query": "Ada", "fields": ["customer_name^3", "address.city"], "type": "best_fields",
                               "tie_breaker": 0.3}}},
    {"query": {"combined_fields": {"query": "London Ada", "fields": ["customer_name", "address.city"]}}},
    {"query": {"query_string": {"query": "status:paid AND customer_name:Ada", "default_field": "customer_name",
                                "allow_leading_wildcard": False, "max_determinized_states": 5000}}},
    {"query": {"simple_query_string": {"query": "\"fast delivery\" +paid", "fields": ["description"],
                                       "default_operator": "and", "flags": "AND|OR|PHRASE"}}},
    {"query": {"term": {"status": "script"}}},
    {"query": {"term": {"status": {"value": "Paid", "case_insensitive": True}}}},
    {"query": {"terms": {"status": ["paid", "pending"], "boost": 2}}},
    {"query": {"terms": {"customer_id": {"index": "logs-customers", "id": "vip", "path": "ids"}}}},
    {"query": {"terms_set": {"codes": {"terms": ["a", "b", "c"], "minimum_should_match_field": "required"}}}},
    {"query": {"range": {"created_at": {"gte": "2024-01-01", "lt": "now/d", "time_zone": "+01:00",
                                        "format": "yyyy-MM-dd"}}}},
    {"query": {"range": {"order_total": {"gte": 10, "lte": 100.5}}}, "sort": ["_score", {"order_total": "asc"}]},
    {"query": {"exists": {"field": "customer_name"}}},
    {"query": {"prefix": {"customer_name": "Ad"}}},
    {"query": {"prefix": {"customer_name": {"value": "ad", "case_insensitive": True, "rewrite": "constant_score"}}}},
    {"query": {"wildcard": {"customer_name": "A*"}}},
    {"query": {"regexp": {"customer_name": {"value": "A[a-z]+", "flags": "ALL", "max_determinized_states": 10000}}}},
    {"query": {"fuzzy": {"customer_name": {"value": "Adda", "fuzziness": 2, "max_expansions": 20}}}},
    {"query": {"ids": {"values": ["a1", "a2"]}}},
    {"query": {"bool": {"must": [{"match": {"status": "paid"}}, {"range": {"created_at": {"gte": "2024-01-01"}}}],
                        "must_not": {"term": {"status": "cancelled"}}, "should": [{"term": {"vip": True}}],
                        "filter": [{"exists": {"field": "order_total"}}], "minimum_should_match": "1"}}},
    {"query": {"constant_score": {"filter": {"term": {"status": "paid"}}, "boost": 1.2}}},
    {"query": {"dis_max": {"queries": [{"match": {"customer_name": "Ada"}}, {"match": {"address.city": "Ada"}}],
                           "tie_breaker": 0.7}}},
    {"query": {"boosting": {"positive": {"match": {"description": "fast"}},
                            "negative": {"term": {"status": "cancelled"}}, "negative_boost": 0.2}}},
    {"query": {"function_score": {"query": {"match": {"description": "fast"}}, "functions": [
        {"filter": {"term": {"vip": True}}, "weight": 3},
        {"field_value_factor": {"field": "order_total", "modifier": "log1p", "missing": 1}},
        {"gauss": {"created_at": {"origin": "now", "scale": "10d"}, "multi_value_mode": "avg"}}],
        "score_mode": "sum", "boost_mode": "multiply", "max_boost": 10}}},
    {"query": {"function_score": {"random_score": {"seed": 10, "field": "order_id"}}}},
    {"query": {"nested": {"path": "items", "query": {"match": {"items.sku": "X1"}}, "score_mode": "max",
                          "inner_hits": {"size": 3, "_source": ["items.sku"]}}}},
    {"query": {"has_child": {"type": "comment", "query": MA, "max_children": 10}}},
    {"query": {"more_like_this": {"fields": ["description"], "like": ["fast delivery",
                                                                      {"_index": "logs-2024.01", "_id": "a1"}],
                                  "min_term_freq": 1, "max_query_terms": 12}}},
    {"query": {"intervals": {"description": {"all_of": {"ordered": True, "intervals": [
        {"match": {"query": "fast", "max_gaps": 0}}, {"any_of": {"intervals": [{"match": {"query": "delivery"}},
                                                                               {"prefix": {"prefix": "ship"}}]}}]}}}}},
    {"query": {"geo_distance": {"distance": "12km", "location": {"lat": 51.5, "lon": -0.12}}}},
    {"query": {"geo_bounding_box": {"location": {"top_left": [-0.5, 51.7], "bottom_right": [0.3, 51.3]}}}},
    {"query": {"geo_shape": {"area": {"shape": {"type": "envelope", "coordinates": [[13.0, 53.0], [14.0, 52.0]]},
                                      "relation": "within"}}}},
    {"query": {"geo_shape": {"area": {"indexed_shape": {"index": "logs-shapes", "id": "uk", "path": "geom"}}}}},
    {"query": {"distance_feature": {"field": "created_at", "origin": "now", "pivot": "7d"}}},
    {"query": {"span_near": {"clauses": [{"span_term": {"description": "fast"}},
                                         {"span_multi": {"match": {"prefix": {"description": "deliv"}}}}],
                             "slop": 3, "in_order": True}}},
    {"query": {"match": {"description": "runtime_mappings and scripts are words here"}}},
    {"query": {"term": {"@timestamp": "2024-01-15T10:00:00Z"}}},
    {"query": {"term": {"_id": "a1"}}},
    {"query": {"match": {"customer_name": "Zoë 😀 \u00e9 ' \" \\ </script>"}}},
]

LEGIT_AGGS = [
    {"size": 0, "aggs": {"by_status": {"terms": {"field": "status"}}}},
    {"size": 0, "aggs": {"by_status": {"terms": {"field": "status", "size": 20, "shard_size": 100,
                                                 "order": [{"revenue": "desc"}, {"_key": "asc"}],
                                                 "include": "pa.*", "exclude": ["void"], "min_doc_count": 1},
                                       "aggs": {"revenue": {"sum": {"field": "order_total"}}}}}},
    {"size": 0, "aggs": {"by_day": {"date_histogram": {"field": "created_at", "calendar_interval": "day",
                                                       "time_zone": "Europe/London", "min_doc_count": 0,
                                                       "extended_bounds": {"min": "2024-01-01", "max": "2024-01-31"}},
                                    "aggs": {"revenue": {"sum": {"field": "order_total"}},
                                             "cum": {"cumulative_sum": {"buckets_path": "revenue"}},
                                             "diff": {"derivative": {"buckets_path": "revenue"}}}}}},
    {"size": 0, "aggs": {"every_6h": {"date_histogram": {"field": "created_at", "fixed_interval": "6h"}}}},
    {"size": 0, "aggs": {"avg_total": {"avg": {"field": "order_total"}}}},
    {"size": 0, "aggregations": {"s": {"stats": {"field": "order_total"}}, "e": {"extended_stats": {
        "field": "order_total", "sigma": 3}}, "c": {"cardinality": {"field": "customer_id",
                                                                       "precision_threshold": 3000}}}},
    {"size": 0, "aggs": {"p": {"percentiles": {"field": "order_total", "percents": [50, 95, 99.9],
                                               "tdigest": {"compression": 200}}},
                         "r": {"percentile_ranks": {"field": "order_total", "values": [50, 100]}},
                         "m": {"median_absolute_deviation": {"field": "order_total"}}}},
    {"size": 0, "aggs": {"h": {"histogram": {"field": "order_total", "interval": 50, "min_doc_count": 1}}}},
    {"size": 0, "aggs": {"r": {"range": {"field": "order_total", "ranges": [{"to": 50}, {"from": 50, "to": 100},
                                                                            {"from": 100, "key": "big"}]}}}},
    {"size": 0, "aggs": {"d": {"date_range": {"field": "created_at", "format": "yyyy-MM-dd",
                                              "ranges": [{"to": "now-10d/d"}, {"from": "now-10d/d"}]}}}},
    {"size": 0, "aggs": {"paid": {"filter": {"term": {"status": "paid"}},
                                  "aggs": {"avg": {"avg": {"field": "order_total"}}}}}},
    {"size": 0, "aggs": {"f": {"filters": {"filters": {"paid": {"term": {"status": "paid"}},
                                                       "open": {"term": {"status": "pending"}}},
                                           "other_bucket_key": "rest"}}}},
    {"size": 0, "aggs": {"pages": {"composite": {"size": 100, "sources": [
        {"day": {"date_histogram": {"field": "created_at", "calendar_interval": "1d"}}},
        {"status": {"terms": {"field": "status", "missing_bucket": True}}}],
        "after": {"day": 1705276800000, "status": "paid"}}}}},
    {"size": 0, "aggs": {"items": {"nested": {"path": "items"}, "aggs": {"skus": {
        "terms": {"field": "items.sku"},
        "aggs": {"back": {"reverse_nested": {}, "aggs": {"c": {"value_count": {"field": "_id"}}}}}}}}}},
    {"size": 0, "aggs": {"no_name": {"missing": {"field": "customer_name"}},
                         "all": {"global": {}, "aggs": {"n": {"value_count": {"field": "status"}}}}}},
    {"size": 0, "aggs": {"sig": {"significant_terms": {"field": "status", "background_filter": {"term": {
        "vip": True}}, "chi_square": {"include_negatives": False}}}}},
    {"size": 0, "aggs": {"auto": {"auto_date_histogram": {"field": "created_at", "buckets": 10}}}},
    {"size": 0, "aggs": {"mt": {"multi_terms": {"terms": [{"field": "status"}, {"field": "address.city"}]}}}},
    {"size": 0, "aggs": {"rare": {"rare_terms": {"field": "status", "max_doc_count": 2}}}},
    {"size": 0, "aggs": {"sample": {"sampler": {"shard_size": 200}, "aggs": {"k": {"terms": {"field": "status"}}}}}},
    {"size": 0, "aggs": {"top": {"terms": {"field": "status"}, "aggs": {"latest": {"top_hits": {
        "size": 1, "sort": [{"created_at": {"order": "desc"}}], "_source": {"includes": ["customer_name"]}}},
        "tm": {"top_metrics": {"metrics": {"field": "order_total"}, "sort": {"created_at": "desc"}}}}}}},
    {"size": 0, "aggs": {"wa": {"weighted_avg": {"value": {"field": "order_total"}, "weight": {"field": "qty",
                                                                                           "missing": 1}}},
                         "gb": {"geo_bounds": {"field": "location"}}, "gc": {"geo_centroid": {"field": "location"}}}},
    {"size": 0, "aggs": {"by_month": {"date_histogram": {"field": "created_at", "calendar_interval": "month"},
                                      "aggs": {"sales": {"sum": {"field": "order_total"}},
                                               "sort": {"bucket_sort": {"sort": [{"sales": {"order": "desc"}}],
                                                                        "size": 3}}}},
                         "best": {"max_bucket": {"buckets_path": "by_month>sales"}},
                         "avg_m": {"avg_bucket": {"buckets_path": "by_month>sales", "gap_policy": "skip"}},
                         "st": {"stats_bucket": {"buckets_path": "by_month>_count"}},
                         "pb": {"percentiles_bucket": {"buckets_path": "by_month>sales", "percents": [50]}}}},
    {"size": 0, "aggs": {"grid": {"geotile_grid": {"field": "location", "precision": 8}}}},
    {"size": 0, "aggs": {"by_status": {"terms": {"field": "status"}, "meta": {"label": "Status"}}}},
]

LEGIT_BODY = [
    {"_source": ["customer_name"], "sort": [{"created_at": "desc"}], "size": 5},
    {"_source": False, "fields": ["customer_name", {"field": "created_at", "format": "epoch_millis"}, "address.*"]},
    {"_source": {"includes": ["address.*"], "excludes": ["address.secret_note"]}, "docvalue_fields": ["status"]},
    {"stored_fields": "_none_", "query": MA},
    {"query": MA, "from": 10, "size": 10},
    {"query": MA, "from": 9990, "size": 10},
    {"query": MA, "track_total_hits": True},
    {"query": MA, "track_total_hits": 100000},
    {"index": "logs-2024.01", "query": MA},
    {"index": "logs-*", "query": MA},
    {"index": "logs-2024.01,logs-2024.02", "query": MA},
    {"query": {"match": {"customer_name": "Ada"}},
     "highlight": {"pre_tags": ["<b>"], "post_tags": ["</b>"],
                   "fields": {"customer_name": {"number_of_fragments": 2}}}},
    {"query": MA, "highlight": {"fields": [{"customer_name": {}}, {"address.*": {"type": "plain"}}]}},
    {"query": MA, "collapse": {"field": "status", "inner_hits": {"name": "latest", "size": 2,
                                                                 "sort": [{"created_at": "desc"}]}}},
    {"query": MA, "sort": [{"created_at": "desc"}, {"_id": "asc"}], "search_after": [1705312800000, "a1"]},
    {"query": MA, "sort": [{"order_total": {"order": "desc", "mode": "max", "missing": "_last",
                                            "unmapped_type": "double"}}, "_doc"]},
    {"query": MA, "sort": [{"_geo_distance": {"location": {"lat": 51.5, "lon": -0.12}, "order": "asc",
                                              "unit": "km"}}]},
    {"query": MA, "post_filter": {"term": {"status": "paid"}}, "min_score": 0.5},
    {"query": MA, "timeout": "5s", "terminate_after": 100000},
    {"query": MA, "explain": False, "version": True, "seq_no_primary_term": True, "track_scores": True},
    {"query": {"match": {"description": "fast"}}, "rescore": {"window_size": 50, "query": {
        "rescore_query": {"match_phrase": {"description": {"query": "fast delivery", "slop": 2}}},
        "query_weight": 0.7, "rescore_query_weight": 1.2}}},
    {"query": MA, "indices_boost": [{"logs-2024.01": 1.4}, {"logs-2023.12": 1.0}]},
    {"suggest": {"fix": {"text": "Addda", "term": {"field": "customer_name", "suggest_mode": "popular"}}}},
    {"size": 0, "query": {"bool": {"filter": [{"range": {"created_at": {"gte": "now-7d/d"}}}]}},
     "aggs": {"s": {"terms": {"field": "status"}, "aggs": {"rev": {"sum": {"field": "order_total"}}}}}},
]

ES_LEGIT: list[tuple[str, dict[str, Any]]] = [
    (cls, body) for cls, cases in (("queries", LEGIT_QUERIES), ("aggregations", LEGIT_AGGS), ("body", LEGIT_BODY))
    for body in cases
]

# The secret's index pattern for these tables: logs-secret is excluded, so naming it must fail.
ES_INDEX = "logs-*,-logs-secret"
