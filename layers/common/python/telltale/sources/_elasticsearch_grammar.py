"""Elasticsearch's allow-list: the _search body's grammar, as data.

The top-level keys, every query clause, every aggregation, each with its allowed parameters and their
types and caps, and the reasons given for well-known refusals. ``telltale.queries.es_guard`` walks a parsed
body against these tables (its docstring explains the spec language); anything not listed is refused.
"""

from __future__ import annotations

from typing import Any

# ------------------------------------------------------------------------------------------- limits
# Each cap keeps a request within what the cluster allows by default: a body may tighten a limit, never
# raise it past the cluster's own default.
MAX_RESULT_WINDOW = 10_000      # index.max_result_window: from + size of the hits.
MAX_INNER_RESULT_WINDOW = 100   # index.max_inner_result_window: from + size of top_hits and inner_hits.
MAX_RESCORE_WINDOW = 10_000     # index.max_rescore_window.
MAX_BUCKETS = 10_000            # size / shard_size of a bucket aggregation (search.max_buckets is 65,536).
MAX_COMPOSITE_SIZE = 10_000     # composite pages: the cluster refuses more than search.max_buckets anyway.
MAX_EXPANSIONS = 50             # fuzzy / prefix expansions: 50 is the query's own default.
MAX_DETERMINIZED_STATES = 10_000  # regexp automaton states: 10,000 is Lucene's default.
MAX_PRECISION_THRESHOLD = 40_000  # cardinality: 40,000 is the documented maximum.
MAX_ANALYZED_OFFSET = 1_000_000   # highlighting: index.highlight.max_analyzed_offset.
MAX_PHRASE_LIMIT = 256          # highlighting (fvh): 256 is the default.
MAX_TERMS = 10_000              # values in one terms / ids query (index.max_terms_count is 65,536).
MAX_FIELDS = 100                # docvalue_fields and friends: index.max_docvalue_fields_search.
MAX_TIMEOUT_S = 25              # a search `timeout` at most the platform's statement timeout.
MAX_INT = 2**31 - 1             # an Elasticsearch int.
MAX_DEPTH = 48                  # JSON nesting of the whole body (ES has its own bool depth limit, 30 in 8.x).
MAX_NODES = 20_000              # values in the whole body: bounds the walk and the request.
MAX_LIST = 1_024                # items in any other list.
LONG_MIN, ULONG_MAX = -(2**63), 2**64 - 1  # the widest integers a field can hold (long, unsigned_long).

# Metadata fields a query, sort or aggregation may name; every other name starting with "_" is refused.
METADATA_FIELDS = frozenset({"_id", "_index", "_score", "_doc", "_count", "_key", "_ignored", "_tier"})

Q = {"boost": ("num", 0, 1_000_000), "_name": "str"}   # every query clause takes these
REWRITE = ("enum", "constant_score", "constant_score_blended", "constant_score_boolean", "scoring_boolean")
FUZZY = {"fuzziness": "fuzziness", "prefix_length": ("int", 0, 100), "max_expansions": ("int", 1, MAX_EXPANSIONS),
         "fuzzy_transpositions": "bool", "fuzzy_rewrite": REWRITE}
OPERATOR = ("enum", "or", "and", "OR", "AND")
ZERO_TERMS = ("enum", "none", "all")
MATCH_PARAMS = {"query": "value", "operator": OPERATOR, "minimum_should_match": "msm", "analyzer": "name",
                "lenient": "bool", "zero_terms_query": ZERO_TERMS, "auto_generate_synonyms_phrase_query": "bool",
                **FUZZY, **Q}
PHRASE_PARAMS = {"query": "value", "analyzer": "name", "slop": ("int", 0, 100), "zero_terms_query": ZERO_TERMS, **Q}
# Only tightening: allow_leading_wildcard may be switched off (it is on by default), never forced on.
QUERY_STRING_PARAMS = {
    "query": "str", "default_field": "field", "fields": "boosted_fields", "default_operator": OPERATOR,
    "analyzer": "name", "quote_analyzer": "name", "allow_leading_wildcard": ("enum", False),
    "enable_position_increments": "bool", "fuzzy_max_expansions": ("int", 1, MAX_EXPANSIONS),
    "fuzziness": "fuzziness", "fuzzy_prefix_length": ("int", 0, 100), "fuzzy_transpositions": "bool",
    "phrase_slop": ("int", 0, 100), "analyze_wildcard": "bool", "minimum_should_match": "msm", "lenient": "bool",
    "max_determinized_states": ("int", 1, MAX_DETERMINIZED_STATES), "time_zone": "time_zone",
    "quote_field_suffix": "name", "rewrite": REWRITE, "auto_generate_synonyms_phrase_query": "bool",
    "type": ("enum", "best_fields", "most_fields", "cross_fields", "phrase", "phrase_prefix"),
    "tie_breaker": ("num", 0, 1), **Q}
SIMPLE_QUERY_STRING_PARAMS = {
    "query": "str", "fields": "boosted_fields", "default_operator": OPERATOR, "analyzer": "name",
    "flags": "flags", "fuzzy_max_expansions": ("int", 1, MAX_EXPANSIONS), "fuzzy_prefix_length": ("int", 0, 100),
    "fuzzy_transpositions": "bool", "lenient": "bool", "minimum_should_match": "msm",
    "quote_field_suffix": "name", "analyze_wildcard": "bool", "auto_generate_synonyms_phrase_query": "bool", **Q}
RANGE_PARAMS = {"gt": "value", "gte": "value", "lt": "value", "lte": "value", "format": "str",
                "relation": ("enum", "INTERSECTS", "CONTAINS", "WITHIN", "intersects", "contains", "within"),
                "time_zone": "time_zone", **Q}
TERMS_LOOKUP = {"index": "index", "id": "str", "path": "field", "routing": "str"}
# A lookup names its index: an indexed shape without one reads the index called "shapes".
LOOKUP = ("required", ("obj", TERMS_LOOKUP), ("index", "id"))
DECAY = {"origin": "value", "scale": "value", "offset": "value", "decay": ("num", 0, 1)}
SCORE_FUNCTION = {   # function_score's functions: script_score is left off (a script)
    "filter": "query", "weight": ("num", 0, 1_000_000),
    "field_value_factor": ("obj", {"field": "field", "factor": "num", "missing": "num", "modifier": (
        "enum", "none", "log", "log1p", "log2p", "ln", "ln1p", "ln2p", "square", "sqrt", "reciprocal")}),
    "random_score": ("obj", {"seed": ("either", ("int", LONG_MIN, ULONG_MAX), "str"), "field": "field"}),
    **{d: ("mixed", {"multi_value_mode": ("enum", "min", "max", "avg", "sum")}, ("obj", DECAY))
       for d in ("gauss", "linear", "exp")},
}
INTERVAL_FILTER = dict.fromkeys(("after", "before", "contained_by", "containing", "not_contained_by",
                                 "not_containing", "not_overlapping", "overlapping"), "interval")
INTERVAL_RULES = {   # intervals rules; a filter's `script` is left off
    "match": {"query": "str", "max_gaps": ("int", -1, 1000), "ordered": "bool", "analyzer": "name",
              "filter": ("obj", INTERVAL_FILTER), "use_field": "field"},
    "prefix": {"prefix": "str", "analyzer": "name", "use_field": "field"},
    "wildcard": {"pattern": "str", "analyzer": "name", "use_field": "field"},
    "fuzzy": {"term": "str", "prefix_length": ("int", 0, 100), "transpositions": "bool", "fuzziness": "fuzziness",
              "analyzer": "name", "use_field": "field"},
    "all_of": {"intervals": ("list", "interval", 64), "max_gaps": ("int", -1, 1000), "ordered": "bool",
               "filter": ("obj", INTERVAL_FILTER)},
    "any_of": {"intervals": ("list", "interval", 64), "filter": ("obj", INTERVAL_FILTER)},
}
INNER_HITS = {"name": "name", "from": ("int", 0, MAX_INNER_RESULT_WINDOW), "size": ("int", 0, MAX_INNER_RESULT_WINDOW),
              "sort": "sort", "_source": "source", "highlight": "highlight", "explain": "bool", "version": "bool",
              "seq_no_primary_term": "bool", "stored_fields": "patterns", "docvalue_fields": "fetch_fields",
              "fields": "fetch_fields", "track_scores": "bool", "ignore_unmapped": "bool"}
GEO_SHAPE = {"shape": "geometry", "indexed_shape": LOOKUP,
             "relation": ("enum", "intersects", "disjoint", "within", "contains",
                          "INTERSECTS", "DISJOINT", "WITHIN", "CONTAINS")}
CORNERS = ("top_left", "bottom_right", "top_right", "bottom_left", "top", "left", "bottom", "right")
VALIDATION = ("enum", "STRICT", "IGNORE_MALFORMED", "COERCE", "strict", "ignore_malformed", "coerce")


def _field_query(shorthand: Any, params: dict[str, Any]) -> Any:
    """A clause keyed by one field name: ``{"match": {"status": "paid"}}`` or ``{... {"status": {...}}}``."""
    return ("map", "field", ("either", shorthand, ("obj", params)), 1)


# Every query clause: read-only, side-effect free, and no way in for a script. Left off on purpose: script,
# script_score, percolate (runs queries stored in documents, which this guard never sees), wrapper (a base64
# query it cannot see into), template, knn / semantic / sparse_vector / text_expansion (model inference),
# pinned / rule (curated results), shape, geo_polygon (deprecated), span_field_masking.
QUERIES: dict[str, Any] = {
    "match_all": ("obj", Q),
    "match_none": ("obj", Q),
    "bool": ("obj", {"must": "queries", "should": "queries", "filter": "queries", "must_not": "queries",
                     "minimum_should_match": "msm", "adjust_pure_negative": "bool", **Q}),
    "constant_score": ("obj", {"filter": "query", **Q}),
    "dis_max": ("obj", {"queries": ("list", "query", 256), "tie_breaker": ("num", 0, 1), **Q}),
    "boosting": ("obj", {"positive": "query", "negative": "query", "negative_boost": ("num", 0, 1), **Q}),
    "function_score": ("obj", {
        "query": "query", "functions": ("list", ("obj", SCORE_FUNCTION), 64),
        **{k: v for k, v in SCORE_FUNCTION.items() if k != "filter"},
        "boost_mode": ("enum", "multiply", "replace", "sum", "avg", "max", "min"),
        "score_mode": ("enum", "multiply", "sum", "avg", "first", "max", "min"),
        "max_boost": ("num", 0, 1e30), "min_score": "num", **Q}),
    "nested": ("obj", {"path": "field", "query": "query", "score_mode": ("enum", "avg", "max", "min", "none", "sum"),
                       "ignore_unmapped": "bool", "inner_hits": "inner_hits", **Q}),
    "has_child": ("obj", {"type": "name", "query": "query", "ignore_unmapped": "bool",
                          "max_children": ("int", 0, MAX_INT), "min_children": ("int", 0, MAX_INT),
                          "score_mode": ("enum", "avg", "max", "min", "none", "sum"),
                          "inner_hits": "inner_hits", **Q}),
    "has_parent": ("obj", {"parent_type": "name", "query": "query", "score": "bool", "ignore_unmapped": "bool",
                           "inner_hits": "inner_hits", **Q}),
    "parent_id": ("obj", {"type": "name", "id": "str", "ignore_unmapped": "bool", **Q}),
    "match": _field_query("value", MATCH_PARAMS),
    "match_phrase": _field_query("value", PHRASE_PARAMS),
    "match_phrase_prefix": _field_query("value", {**PHRASE_PARAMS, "max_expansions": ("int", 1, MAX_EXPANSIONS)}),
    "match_bool_prefix": _field_query("value", {k: v for k, v in MATCH_PARAMS.items()
                                                if k not in ("lenient", "zero_terms_query")}),
    "multi_match": ("obj", {**MATCH_PARAMS, "fields": "boosted_fields", "slop": ("int", 0, 100),
                            "tie_breaker": ("num", 0, 1), "type": (
                                "enum", "best_fields", "most_fields", "cross_fields", "phrase", "phrase_prefix",
                                "bool_prefix")}),
    "combined_fields": ("obj", {"query": "str", "fields": "boosted_fields", "operator": OPERATOR,
                                "minimum_should_match": "msm", "zero_terms_query": ZERO_TERMS,
                                "auto_generate_synonyms_phrase_query": "bool", **Q}),
    "query_string": ("obj", QUERY_STRING_PARAMS),
    "simple_query_string": ("obj", SIMPLE_QUERY_STRING_PARAMS),
    "term": _field_query("value", {"value": "value", "case_insensitive": "bool", **Q}),
    "terms": ("mixed", Q, ("either", ("list", "value", MAX_TERMS), LOOKUP)),
    # minimum_should_match_script is left off (a script).
    "terms_set": ("map", "field", ("obj", {"terms": ("list", "value", MAX_TERMS), "minimum_should_match": "msm",
                                           "minimum_should_match_field": "field", **Q}), 1),
    "range": ("map", "field", ("obj", RANGE_PARAMS), 1),
    "exists": ("obj", {"field": "field", **Q}),
    "ids": ("obj", {"values": ("list", "str", MAX_TERMS), **Q}),
    "prefix": _field_query("str", {"value": "str", "rewrite": REWRITE, "case_insensitive": "bool", **Q}),
    "wildcard": _field_query("str", {"value": "str", "wildcard": "str", "rewrite": REWRITE,
                                     "case_insensitive": "bool", **Q}),
    # max_determinized_states only up to Lucene's default: a body may lower it, never raise it.
    "regexp": _field_query("str", {"value": "str", "flags": "flags", "case_insensitive": "bool", "rewrite": REWRITE,
                                   "max_determinized_states": ("int", 1, MAX_DETERMINIZED_STATES), **Q}),
    "fuzzy": _field_query("value", {"value": "value", "fuzziness": "fuzziness", "prefix_length": ("int", 0, 100),
                                    "max_expansions": ("int", 1, MAX_EXPANSIONS), "transpositions": "bool",
                                    "rewrite": REWRITE, **Q}),
    "more_like_this": ("obj", {
        "fields": "field_list", "like": "like", "unlike": "like", "min_term_freq": ("int", 0, MAX_INT),
        "max_query_terms": ("int", 1, 1_000), "min_doc_freq": ("int", 0, MAX_INT),
        "max_doc_freq": ("int", 0, MAX_INT), "min_word_length": ("int", 0, 1_000),
        "max_word_length": ("int", 0, 1_000), "stop_words": ("list", "str", MAX_LIST), "analyzer": "name",
        "minimum_should_match": "msm", "fail_on_unsupported_field": "bool", "boost_terms": "num",
        "include": "bool", **Q}),
    "intervals": ("map", "field", ("obj", {k: ("obj", v) for k, v in INTERVAL_RULES.items()}), 1),
    "geo_distance": ("mixed", {"distance": "value", "distance_type": ("enum", "arc", "plane"),
                               "validation_method": VALIDATION, "ignore_unmapped": "bool", **Q}, "geo_point"),
    "geo_bounding_box": ("mixed", {"validation_method": VALIDATION, "ignore_unmapped": "bool", **Q}, (
        "either", "str", ("obj", dict.fromkeys((*CORNERS, "wkt"), "geo_point")))),
    "geo_shape": ("mixed", {"ignore_unmapped": "bool", **Q}, ("obj", GEO_SHAPE)),
    "distance_feature": ("obj", {"field": "field", "origin": "value_or_point", "pivot": "str", **Q}),
    "rank_feature": ("obj", {"field": "field", "saturation": ("obj", {"pivot": "num"}),
                             "log": ("obj", {"scaling_factor": "num"}),
                             "sigmoid": ("obj", {"pivot": "num", "exponent": "num"}), "linear": ("obj", {}), **Q}),
    "span_term": _field_query("value", {"value": "value", "term": "value", **Q}),
    "span_first": ("obj", {"match": "span", "end": ("int", 0, MAX_INT), **Q}),
    "span_near": ("obj", {"clauses": ("list", "span", 64), "slop": ("int", 0, 1000), "in_order": "bool", **Q}),
    "span_or": ("obj", {"clauses": ("list", "span", 64), **Q}),
    "span_not": ("obj", {"include": "span", "exclude": "span", "pre": ("int", 0, 1000), "post": ("int", 0, 1000),
                         "dist": ("int", 0, 1000), **Q}),
    "span_containing": ("obj", {"big": "span", "little": "span", **Q}),
    "span_within": ("obj", {"big": "span", "little": "span", **Q}),
    "span_multi": ("obj", {"match": "multi_term_query", **Q}),
}
SPAN_QUERIES = frozenset(k for k in QUERIES if k.startswith("span_"))
MULTI_TERM_QUERIES = frozenset({"prefix", "wildcard", "regexp", "fuzzy", "range"})

# ------------------------------------------------------------------------------------ aggregations
A = {"field": "field", "missing": "value", "format": "str"}    # a metric on one field (no `script`)
GAP_POLICY = ("enum", "skip", "insert_zeros", "keep_values")
P = {"buckets_path": "buckets_path", "gap_policy": GAP_POLICY, "format": "str"}  # pipeline parameters
ORDER = "agg_order"
INCLUDE = ("either", "str", ("list", "value", MAX_TERMS),
           ("obj", {"partition": ("int", 0, MAX_INT), "num_partitions": ("int", 1, MAX_INT)}))
BOUNDS = ("obj", {"min": "value", "max": "value"})
TERMS_COMMON = {"size": ("int", 0, MAX_BUCKETS), "shard_size": ("int", -1, MAX_BUCKETS),
                "min_doc_count": ("int", 0, MAX_INT), "shard_min_doc_count": ("int", 0, MAX_INT),
                "show_term_doc_count_error": "bool", "order": ORDER,
                "collect_mode": ("enum", "depth_first", "breadth_first")}
# significant_terms heuristics: script_heuristic is left off (a script).
SIGNIFICANCE = {"jlh": ("obj", {}), "percentage": ("obj", {}),
                "mutual_information": ("obj", {"include_negatives": "bool", "background_is_superset": "bool"}),
                "chi_square": ("obj", {"include_negatives": "bool", "background_is_superset": "bool"}),
                "gnd": ("obj", {"background_is_superset": "bool"})}
RANGES = ("list", ("obj", {"from": "value", "to": "value", "key": "str", "mask": "str"}), MAX_LIST)
COMPOSITE_SOURCE_COMMON = {"field": "field", "missing_bucket": "bool", "missing_order": ("enum", "first", "last",
                                                                                         "default"),
                           "order": ("enum", "asc", "desc"), "format": "str"}
TOP_HITS = {k: v for k, v in INNER_HITS.items() if k not in ("name", "ignore_unmapped")}

# Bucket aggregations: they may hold sub-aggregations. Left off: categorize_text and frequent_item_sets
# (CPU-heavy analysis), time_series, ip_prefix.
BUCKET_AGGS: dict[str, Any] = {
    "terms": ("obj", {**A, **TERMS_COMMON, "include": INCLUDE, "exclude": INCLUDE,
                      "execution_hint": ("enum", "map", "global_ordinals"), "value_type": "name"}),
    "multi_terms": ("obj", {"terms": ("list", ("obj", {"field": "field", "missing": "value"}), 16), **TERMS_COMMON}),
    "rare_terms": ("obj", {**A, "max_doc_count": ("int", 1, 100), "precision": ("num", 0.00001, 1),
                           "include": INCLUDE, "exclude": INCLUDE}),
    "significant_terms": ("obj", {**A, **TERMS_COMMON, **SIGNIFICANCE, "background_filter": "query",
                                  "include": INCLUDE, "exclude": INCLUDE,
                                  "execution_hint": ("enum", "map", "global_ordinals")}),
    "significant_text": ("obj", {"field": "field", **TERMS_COMMON, **SIGNIFICANCE, "background_filter": "query",
                                 "include": INCLUDE, "exclude": INCLUDE, "filter_duplicate_text": "bool",
                                 "source_fields": "field_list"}),
    "histogram": ("obj", {**A, "interval": ("num", 1e-9, 1e300), "offset": "num", "min_doc_count": ("int", 0, MAX_INT),
                          "extended_bounds": BOUNDS, "hard_bounds": BOUNDS, "order": ORDER, "keyed": "bool"}),
    "date_histogram": ("obj", {**A, "calendar_interval": "calendar_interval", "fixed_interval": "time",
                               "time_zone": "time_zone", "offset": "str", "min_doc_count": ("int", 0, MAX_INT),
                               "extended_bounds": BOUNDS, "hard_bounds": BOUNDS, "order": ORDER, "keyed": "bool"}),
    "auto_date_histogram": ("obj", {**A, "buckets": ("int", 1, MAX_BUCKETS), "time_zone": "time_zone",
                                    "minimum_interval": ("enum", "second", "minute", "hour", "day", "month",
                                                         "year")}),
    "variable_width_histogram": ("obj", {"field": "field", "buckets": ("int", 1, MAX_BUCKETS),
                                         "shard_size": ("int", 1, MAX_BUCKETS),
                                         "initial_buffer": ("int", 1, MAX_BUCKETS)}),
    "range": ("obj", {**A, "ranges": RANGES, "keyed": "bool"}),
    "date_range": ("obj", {**A, "ranges": RANGES, "keyed": "bool", "time_zone": "time_zone"}),
    "ip_range": ("obj", {"field": "field", "ranges": RANGES, "keyed": "bool", "missing": "str"}),
    "filter": "query",
    "filters": ("obj", {"filters": ("either", ("map", "name", "query", MAX_LIST), ("list", "query", MAX_LIST)),
                        "other_bucket": "bool", "other_bucket_key": "str", "keyed": "bool"}),
    "adjacency_matrix": ("obj", {"filters": ("map", "name", "query", 100), "separator": "str"}),
    "composite": ("obj", {"size": ("int", 1, MAX_COMPOSITE_SIZE), "after": ("map", "name", "value_or_null", 64),
                          "sources": ("list", ("map", "name", ("obj", {
                              "terms": ("obj", COMPOSITE_SOURCE_COMMON),
                              "histogram": ("obj", {**COMPOSITE_SOURCE_COMMON, "interval": ("num", 1e-9, 1e300)}),
                              "date_histogram": ("obj", {**COMPOSITE_SOURCE_COMMON,
                                                         "calendar_interval": "calendar_interval",
                                                         "fixed_interval": "time", "time_zone": "time_zone",
                                                         "offset": "str"}),
                              "geotile_grid": ("obj", {**COMPOSITE_SOURCE_COMMON, "precision": ("int", 0, 29)}),
                          }), 1), 64)}),
    "nested": ("obj", {"path": "field"}),
    "reverse_nested": ("obj", {"path": "field"}),
    "children": ("obj", {"type": "name"}),
    "parent": ("obj", {"type": "name"}),
    "missing": ("obj", {"field": "field"}),
    "global": ("obj", {}),
    "sampler": ("obj", {"shard_size": ("int", 1, MAX_BUCKETS)}),
    "diversified_sampler": ("obj", {"field": "field", "shard_size": ("int", 1, MAX_BUCKETS),
                                    "max_docs_per_value": ("int", 1, MAX_INT),
                                    "execution_hint": ("enum", "map", "global_ordinals", "bytes_hash")}),
    "random_sampler": ("obj", {"probability": ("num", 0, 1), "seed": ("int", LONG_MIN, ULONG_MAX)}),
    "geohash_grid": ("obj", {"field": "field", "precision": ("either", ("int", 1, 12), "str"),
                             "size": ("int", 1, MAX_BUCKETS), "shard_size": ("int", 1, MAX_BUCKETS),
                             "bounds": "geo_point_or_box"}),
    "geotile_grid": ("obj", {"field": "field", "precision": ("int", 0, 29), "size": ("int", 1, MAX_BUCKETS),
                             "shard_size": ("int", 1, MAX_BUCKETS), "bounds": "geo_point_or_box"}),
}
# Metric aggregations: leaves, no sub-aggregations. Left off: scripted_metric (a script), matrix_stats,
# t_test, geo_line, inference.
PERCENT_METHODS = {"tdigest": ("obj", {"compression": ("num", 1, 10_000),
                                       "execution_hint": ("enum", "default", "high_accuracy")}),
                   "hdr": ("obj", {"number_of_significant_value_digits": ("int", 0, 5)})}
METRIC_AGGS: dict[str, Any] = {
    **dict.fromkeys(("avg", "sum", "min", "max", "value_count", "stats"), ("obj", A)),
    "extended_stats": ("obj", {**A, "sigma": ("num", 0, 1_000)}),
    "cardinality": ("obj", {**A, "precision_threshold": ("int", 0, MAX_PRECISION_THRESHOLD),
                            "execution_hint": ("enum", "direct", "global_ordinals", "segment_ordinals",
                                               "save_memory_heuristic", "save_time_heuristic")}),
    "percentiles": ("obj", {**A, "percents": ("list", ("num", 0, 100), 100), "keyed": "bool", **PERCENT_METHODS}),
    "percentile_ranks": ("obj", {**A, "values": ("list", "num", 100), "keyed": "bool", **PERCENT_METHODS}),
    "median_absolute_deviation": ("obj", {**A, "compression": ("num", 1, 10_000)}),
    "boxplot": ("obj", {**A, "compression": ("num", 1, 10_000)}),
    "string_stats": ("obj", {**A, "show_distribution": "bool"}),
    "weighted_avg": ("obj", {"value": ("obj", {"field": "field", "missing": "num"}),
                             "weight": ("obj", {"field": "field", "missing": "num"}), "format": "str",
                             "value_type": "name"}),
    "top_hits": ("window", ("obj", TOP_HITS), MAX_INNER_RESULT_WINDOW),
    "top_metrics": ("obj", {"metrics": ("either", ("obj", {"field": "field"}),
                                        ("list", ("obj", {"field": "field"}), 10)),
                            "sort": "sort", "size": ("int", 1, MAX_INNER_RESULT_WINDOW)}),
    "geo_bounds": ("obj", {"field": "field", "wrap_longitude": "bool"}),
    "geo_centroid": ("obj", {"field": "field"}),
    "rate": ("obj", {"field": "field", "unit": ("enum", "second", "minute", "hour", "day", "week", "month",
                                                "quarter", "year"), "mode": ("enum", "sum", "value_count")}),
}
# Pipeline aggregations that take no script. Left off: bucket_script, bucket_selector and moving_fn (scripts),
# moving_avg (removed in 8.0), inference (a model).
PIPELINE_AGGS: dict[str, Any] = {
    **dict.fromkeys(("avg_bucket", "sum_bucket", "max_bucket", "min_bucket", "stats_bucket", "cumulative_sum",
                     "cumulative_cardinality"), ("obj", P)),
    "extended_stats_bucket": ("obj", {**P, "sigma": ("num", 0, 1_000)}),
    "percentiles_bucket": ("obj", {**P, "percents": ("list", ("num", 0, 100), 100), "keyed": "bool"}),
    "derivative": ("obj", {**P, "unit": "str"}),
    "serial_diff": ("obj", {**P, "lag": ("int", 1, 10_000)}),
    "moving_percentiles": ("obj", {**P, "window": ("int", 1, 10_000), "shift": ("int", -10_000, 10_000)}),
    "normalize": ("obj", {**P, "method": ("enum", "rescale_0_1", "rescale_0_100", "percent_of_sum", "mean",
                                          "z-score", "softmax")}),
    "bucket_sort": ("obj", {"sort": "sort", "from": ("int", 0, MAX_BUCKETS), "size": ("int", 0, MAX_BUCKETS),
                            "gap_policy": GAP_POLICY}),
}
AGGS: dict[str, Any] = {**BUCKET_AGGS, **METRIC_AGGS, **PIPELINE_AGGS}

# ------------------------------------------------------------------------------- named, shared specs
SORT_PARAMS = {"order": ("enum", "asc", "desc"), "mode": ("enum", "min", "max", "sum", "avg", "median"),
               "missing": "value", "unmapped_type": "name", "format": "str",
               "numeric_type": ("enum", "double", "long", "date", "date_nanos"),
               "nested": "sort_nested"}
HIGHLIGHT_PARAMS = {
    "type": ("enum", "unified", "plain", "fvh"), "pre_tags": ("list", "str", 16), "post_tags": ("list", "str", 16),
    "fragment_size": ("int", 0, 100_000), "number_of_fragments": ("int", 0, 1_000),
    "order": ("enum", "score", "none"), "require_field_match": "bool", "highlight_query": "query",
    "max_analyzed_offset": ("int", 1, MAX_ANALYZED_OFFSET), "encoder": ("enum", "default", "html"),
    "boundary_scanner": ("enum", "chars", "sentence", "word"), "boundary_chars": "str",
    "boundary_max_scan": ("int", 0, 1_000), "boundary_scanner_locale": "name",
    "fragmenter": ("enum", "simple", "span"), "fragment_offset": ("int", 0, 100_000),
    "no_match_size": ("int", 0, 100_000), "phrase_limit": ("int", 1, MAX_PHRASE_LIMIT),
    "matched_fields": "field_list", "tags_schema": ("enum", "styled")}
NAMED: dict[str, Any] = {
    "inner_hits": ("window", ("obj", INNER_HITS), MAX_INNER_RESULT_WINDOW),
    "queries": ("either", "query", ("list", "query", MAX_LIST)),
    "fields": ("either", "field", ("list", "field", MAX_LIST)),
    "field_list": ("either", "field", ("list", "field", MAX_LIST)),
    "patterns": ("either", "pattern", ("list", "pattern", MAX_FIELDS)),
    "fetch_fields": ("list", ("either", "pattern", ("obj", {"field": "pattern", "format": "str",
                                                            "include_unmapped": "bool"})), MAX_FIELDS),
    "source": ("either", "bool", "pattern", ("list", "pattern", MAX_FIELDS),
               ("obj", {"includes": "patterns", "excludes": "patterns"})),
    "sort": ("either", "sort_item", ("list", "sort_item", 64)),
    "sort_nested": ("obj", {"path": "field", "filter": "query", "max_children": ("int", 0, MAX_INT),
                            "nested": "sort_nested"}),
    "geo_distance_sort": ("mixed", {"order": ("enum", "asc", "desc"), "unit": "str", "ignore_unmapped": "bool",
                                    "mode": ("enum", "min", "max", "avg", "median"),
                                    "distance_type": ("enum", "arc", "plane"), "nested": "sort_nested"},
                          ("either", "geo_point", ("list", "geo_point", 64))),
    "highlight": ("obj", {**HIGHLIGHT_PARAMS, "fields": ("either", ("map", "pattern", ("obj", HIGHLIGHT_PARAMS), 64),
                                                          ("list", ("map", "pattern", ("obj", HIGHLIGHT_PARAMS), 1),
                                                           64))}),
    "like": ("either", "str", ("obj", {"_index": "index", "_id": "str", "routing": "str", "fields": "field_list",
                                       "doc": ("map", "field", "value_or_list", 256)}),
             ("list", ("either", "str", ("obj", {"_index": "index", "_id": "str", "routing": "str",
                                                 "fields": "field_list",
                                                 "doc": ("map", "field", "value_or_list", 256)})), 256)),
    "interval": ("obj", {k: ("obj", v) for k, v in INTERVAL_RULES.items()}),
    "value_or_list": ("either", "value", ("list", "value", MAX_LIST)),
    "value_or_point": ("either", "value", "geo_point"),
    "geo_point": ("either", "str", ("list", "num", 3), ("obj", {"lat": ("num", -90, 90), "lon": ("num", -180, 180)})),
    "geo_point_or_box": ("either", "str", ("obj", dict.fromkeys(CORNERS, "geo_point"))),
    "geometry": ("either", "str", ("obj", {"type": "name", "coordinates": "coordinates", "radius": "str",
                                           "orientation": "name",
                                           "geometries": ("list", ("obj", {"type": "name",
                                                                           "coordinates": "coordinates"}), 64)})),
    "coordinates": ("list", ("either", "num", "coordinates"), 10_000),
    "rescore": ("obj", {"window_size": ("int", 1, MAX_RESCORE_WINDOW), "query": ("obj", {
        "rescore_query": "query", "query_weight": "num", "rescore_query_weight": "num",
        "score_mode": ("enum", "total", "multiply", "avg", "max", "min")})}),
    "suggester": ("obj", {"text": "str", "prefix": "str", "regex": "str",
                          "term": ("obj", {"field": "field", "analyzer": "name", "size": ("int", 1, 100),
                                           "sort": ("enum", "score", "frequency"),
                                           "suggest_mode": ("enum", "missing", "popular", "always"),
                                           "max_edits": ("int", 1, 2), "prefix_length": ("int", 0, 100),
                                           "min_word_length": ("int", 1, 100), "shard_size": ("int", 1, 100),
                                           "max_inspections": ("int", 1, 100), "min_doc_freq": ("num", 0, MAX_INT),
                                           "max_term_freq": ("num", 0, MAX_INT), "accuracy": ("num", 0, 1),
                                           "lowercase_terms": "bool",
                                           "string_distance": ("enum", "internal", "damerau_levenshtein",
                                                               "levenshtein", "jaro_winkler", "ngram")}),
                          "completion": ("obj", {"field": "field", "size": ("int", 1, 100), "skip_duplicates": "bool",
                                                 "fuzzy": ("obj", {"fuzziness": "fuzziness", "transpositions": "bool",
                                                                   "min_length": ("int", 0, 100),
                                                                   "prefix_length": ("int", 0, 100),
                                                                   "unicode_aware": "bool"})})}),
}

# The top level of a _search body. Left off: runtime_mappings and script_fields (scripts), pit and slice
# (point-in-time contexts held open on the cluster), knn / rank / retriever (vector search and inference),
# stats (search statistics groups recorded by the cluster), profile (shard internals, large replies), ext
# (plugins). search_type, request_cache, preference, routing, allow_partial_search_results,
# batched_reduce_size, max_concurrent_shard_requests, pre_filter_shard_size, scroll, expand_wildcards and
# ignore_unavailable are URL parameters the connector sets itself: a body cannot carry them.
TOP_LEVEL: dict[str, Any] = {
    "query": "query",
    "post_filter": "query",
    "aggs": "aggs",
    "aggregations": "aggs",
    "size": ("int", 0, MAX_RESULT_WINDOW),
    "from": ("int", 0, MAX_RESULT_WINDOW),
    "sort": "sort",
    "_source": "source",
    "fields": "fetch_fields",
    "docvalue_fields": "fetch_fields",
    "stored_fields": "patterns",
    "highlight": "highlight",
    "collapse": ("obj", {"field": "field", "inner_hits": ("either", "inner_hits", ("list", "inner_hits", 8))}),
    "search_after": ("list", "value_or_null", 64),
    "track_total_hits": ("either", "bool", ("int", 0, MAX_INT)),  # counting is what `true` does anyway
    "track_scores": "bool",
    "min_score": "num",
    "explain": "bool",
    "version": "bool",
    "seq_no_primary_term": "bool",
    "timeout": "timeout",                       # a server-side deadline: only ever shortens the search
    "terminate_after": ("int", 1, MAX_INT),     # stops collecting early: only ever shortens the search
    "indices_boost": ("either", ("map", "index", "num", 64), ("list", ("map", "index", "num", 1), 64)),
    "rescore": ("either", "rescore", ("list", "rescore", 8)),
    "suggest": ("map", "name", "suggester", 16),
    "index": "index",   # Telltale's own key: the index to search, within the secret's pattern
}

# Why well-known names are refused: used only in messages (refusal is by absence from the tables above).
REASONS: dict[str, str] = {
    **dict.fromkeys(("script", "scripts", "_script", "script_fields", "script_score", "scripted_metric",
                     "bucket_script", "bucket_selector", "moving_fn", "script_heuristic",
                     "minimum_should_match_script", "map_script", "init_script", "combine_script",
                     "reduce_script"), "scripts are not allowed"),
    "runtime_mappings": "runtime fields are computed by scripts",
    "moving_avg": "removed from Elasticsearch; and moving_fn runs a script",
    "wrapper": "a base64-encoded query the guard cannot check",
    "template": "templates are rendered by Telltale, not by the cluster",
    "search_template": "templates are rendered by Telltale, not by the cluster",
    "percolate": "it runs queries stored in documents, which the guard never sees",
    "stored_script": "stored scripts are not allowed",
    "pit": "point-in-time contexts are held open on the cluster",
    "point_in_time": "point-in-time contexts are held open on the cluster",
    "slice": "sliced scrolls and point-in-time searches are not supported",
    **dict.fromkeys(("knn", "rank", "retriever", "semantic", "sparse_vector", "text_expansion", "weighted_tokens",
                     "inference", "learning_to_rank"), "vector search and model inference are not supported"),
    "stats": "search statistics groups are recorded by the cluster",
    "profile": "profiling replies expose shard internals and are large",
    "ext": "plugin extensions are not supported",
    **dict.fromkeys(("search_type", "request_cache", "preference", "routing", "allow_partial_search_results",
                     "batched_reduce_size", "max_concurrent_shard_requests", "pre_filter_shard_size",
                     "ccs_minimize_roundtrips", "scroll", "expand_wildcards", "ignore_unavailable",
                     "allow_no_indices", "ignore_throttled", "rest_total_hits_as_int", "typed_keys"),
                    "a request parameter the connector sets itself"),
    "max_concurrent_group_searches": "a concurrency setting the cluster chooses",
    "allow_leading_wildcard": "it may only be set to false",
    "interval": "use calendar_interval or fixed_interval",
}
