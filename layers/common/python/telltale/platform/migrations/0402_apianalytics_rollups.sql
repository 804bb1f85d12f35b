-- The request log at scale (telltale.apianalytics.stores): keyset paging and hourly rollups.
--
-- Pages are read by (created_at, id) from a cursor, so the index ends in id: the page after a cursor is
-- one index range scan wherever in the log it starts. It replaces (api_key_id, created_at).
CREATE INDEX IF NOT EXISTS api_requests_key_time_id ON platform.api_requests (api_key_id, created_at, id);
DROP INDEX IF EXISTS platform.api_requests_key_time;

-- One row per key, UTC hour and combination of the dimensions the dashboard groups and filters by, kept in
-- the same transaction as the rows it counts (so it is never behind them). What the dashboard counts,
-- and the page a page number starts at, come from here: their cost grows with hours and distinct
-- endpoints, not with requests. Percentiles and distinct users need the rows and still read them.
CREATE TABLE IF NOT EXISTS platform.api_request_rollups (
    tenant_id         text NOT NULL,
    api_key_id        uuid NOT NULL REFERENCES platform.api_keys(id) ON DELETE CASCADE,
    hour              timestamptz NOT NULL,
    -- Which combination of the dimensions below the row counts (platform.api_request_dims): a unique
    -- key over the dimensions themselves would outgrow a btree entry (a path may be 2,048 characters).
    dims              text NOT NULL,
    hostname          text,
    method            text NOT NULL,
    path              text NOT NULL,
    status            smallint NOT NULL,
    location          char(2),
    browser           text,
    os                text,
    requests          bigint NOT NULL,
    errors            bigint NOT NULL,   -- status >= 400
    response_time_sum bigint NOT NULL,   -- milliseconds
    -- Requests per response-time bucket, [0, 50), [50, 100), [100, 250), [250, 500), [500, 1000),
    -- [1000, 2500), [2500, ...) ms (telltale.apianalytics.stores.base.RESPONSE_BUCKETS).
    rt_b0 bigint NOT NULL, rt_b1 bigint NOT NULL, rt_b2 bigint NOT NULL, rt_b3 bigint NOT NULL,
    rt_b4 bigint NOT NULL, rt_b5 bigint NOT NULL, rt_b6 bigint NOT NULL,
    PRIMARY KEY (api_key_id, hour, dims)
);

-- Length-prefixed, so that no two combinations of values share a text (a NULL is '-', a value 'n:...').
CREATE OR REPLACE FUNCTION platform.api_request_dims(hostname text, method text, path text, status smallint,
                                                     location text, browser text, os text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT md5(concat_ws('|',
        CASE WHEN hostname IS NULL THEN '-' ELSE length(hostname) || ':' || hostname END,
        length(method) || ':' || method, length(path) || ':' || path, status::text,
        CASE WHEN location IS NULL THEN '-' ELSE length(location) || ':' || location END,
        CASE WHEN browser IS NULL THEN '-' ELSE length(browser) || ':' || browser END,
        CASE WHEN os IS NULL THEN '-' ELSE length(os) || ':' || os END))
$$;

-- What is logged already.
INSERT INTO platform.api_request_rollups
SELECT tenant_id, api_key_id, date_trunc('hour', created_at, 'UTC'),
       platform.api_request_dims(hostname, method, path, status, location, browser, os),
       hostname, method, path, status, location, browser, os, count(*),
       count(*) FILTER (WHERE status >= 400), sum(response_time),
       count(*) FILTER (WHERE response_time < 50),
       count(*) FILTER (WHERE response_time >= 50 AND response_time < 100),
       count(*) FILTER (WHERE response_time >= 100 AND response_time < 250),
       count(*) FILTER (WHERE response_time >= 250 AND response_time < 500),
       count(*) FILTER (WHERE response_time >= 500 AND response_time < 1000),
       count(*) FILTER (WHERE response_time >= 1000 AND response_time < 2500),
       count(*) FILTER (WHERE response_time >= 2500)
FROM platform.api_requests
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ON CONFLICT DO NOTHING;
