"""PostgreSQL's read-only, side-effect-free functions: the allow-list shared by the PostgreSQL, Redshift
and internal sources.

What is left out is left out on purpose, and refused by name: everything that sleeps, locks, signals,
notifies, reads files or large objects, connects elsewhere (dblink), runs SQL held in a string
(``query_to_xml``, ``ts_stat``, ``ts_rewrite``, the ``*_to_xml`` family), reads or writes settings
(``set_config``, ``current_setting``), writes statistics (``pg_restore_relation_stats`` and the rest of
``pg_*``), uses sequences, or describes the server, its users and other schemas (``version``,
``current_user``, ``has_*_privilege``, ``to_reg*``, ``obj_description``). ``format`` and ``factorial``
are out too: a width or an argument of a few digits makes them build gigabytes.
"""

from __future__ import annotations

from telltale.sources.base import words

AGGREGATES = words("""
count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp bool_and bool_or every bit_and bit_or
string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg percentile_cont percentile_disc mode corr
covar_pop covar_samp regr_slope regr_intercept regr_r2 regr_count regr_avgx regr_avgy regr_sxx regr_syy regr_sxy
grouping any_value
""")

WINDOW = words("""
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
""")

MATH = words("""
abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log log10 power pow mod div pi degrees radians sin cos tan
asin acos atan atan2 sinh cosh tanh greatest least width_bucket random gcd lcm scale trim_scale
""")

STRING = words("""
length char_length character_length octet_length bit_length lower upper initcap trim btrim ltrim rtrim substr
substring left right position strpos replace translate concat concat_ws split_part lpad rpad repeat reverse md5
sha256 sha512 encode ascii chr starts_with regexp_replace regexp_match regexp_matches regexp_split_to_array
regexp_count regexp_like regexp_substr regexp_instr to_hex string_to_array array_to_string overlay quote_ident
quote_literal quote_nullable to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank
ts_rank_cd ts_headline
""")

DATETIME = words("""
now current_date current_time current_timestamp localtime localtimestamp clock_timestamp statement_timestamp date
transaction_timestamp date_trunc date_part extract date_bin age make_date make_time make_timestamp make_timestamptz
make_interval to_timestamp to_date to_char to_number justify_days justify_hours justify_interval isfinite timezone
date_add date_subtract
""")

JSON = words("""
json_build_object jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb json_extract_path
jsonb_extract_path json_extract_path_text jsonb_extract_path_text json_array_length jsonb_array_length json_typeof
jsonb_typeof jsonb_set jsonb_insert jsonb_strip_nulls json_strip_nulls jsonb_pretty json_object_keys
jsonb_object_keys json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text
jsonb_path_query_array jsonb_path_query_first jsonb_path_exists jsonb_path_match row_to_json array_to_json
json_object jsonb_object
""")

ARRAY = words("""
array_length array_position array_positions array_append array_prepend array_cat array_remove array_replace
array_dims array_lower array_upper cardinality unnest
""")

CONDITIONAL = words("""
coalesce nullif num_nulls num_nonnulls gen_random_uuid
""")

FUNCTIONS = AGGREGATES | WINDOW | MATH | STRING | DATETIME | JSON | ARRAY | CONDITIONAL

# Set-returning functions a query may read FROM.
TABLE_FUNCTIONS = words("""
generate_series generate_subscripts unnest json_each jsonb_each json_each_text jsonb_each_text json_array_elements
jsonb_array_elements json_array_elements_text jsonb_array_elements_text json_object_keys jsonb_object_keys
regexp_split_to_table regexp_matches jsonb_path_query json_to_recordset jsonb_to_recordset json_to_record
jsonb_to_record
""")

SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
SYSTEM_PREFIXES = ("pg_",)
