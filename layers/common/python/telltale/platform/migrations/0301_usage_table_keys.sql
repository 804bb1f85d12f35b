-- Matching BiQuery tables to product tables compares the last two name parts, lower-cased. Computing them
-- with regular expressions for every referenced table at aggregation time was most of its cost; the keys
-- ('<schema>.<table>', schema '' when the query named none) are now computed once, when a row is written.

CREATE OR REPLACE FUNCTION usage.table_keys(names text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(COALESCE(substring(lower(n) FROM '([^.]+)\.[^.]+$'), '')
                              || '.' || regexp_replace(lower(n), '^.*\.', '')), '{}')
    FROM unnest(names) AS n
$$;

ALTER TABLE usage.bi_queries
    ADD COLUMN IF NOT EXISTS table_keys text[] GENERATED ALWAYS AS (usage.table_keys(referenced_tables)) STORED;
