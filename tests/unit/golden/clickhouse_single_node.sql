CREATE DATABASE IF NOT EXISTS `telltale_events`;

CREATE TABLE IF NOT EXISTS `telltale_events`.`schema_migrations` (id String, applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree() ORDER BY id;

CREATE TABLE IF NOT EXISTS `telltale_events`.`events` (
    tenant_id      String,
    event_id       String,
    event_type     LowCardinality(String),
    occurred_at    DateTime64(3, 'UTC'),
    received_at    DateTime64(3, 'UTC'),
    actor_type     LowCardinality(Nullable(String)),
    actor_id       Nullable(String),
    entity_type    LowCardinality(Nullable(String)),
    entity_id      Nullable(String),
    schema_version UInt32,
    attributes     Map(String, String),
    source         LowCardinality(String),
    -- ReplacingMergeTree keeps the row with the highest version: the first one received wins.
    version        UInt64 MATERIALIZED toUInt64(9999999999999) - toUInt64(toUnixTimestamp64Milli(received_at)),
    INDEX idx_actor actor_id TYPE bloom_filter GRANULARITY 4
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, event_type, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS `telltale_events`.`event_ids` (
    tenant_id   String,
    event_id    String,
    received_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY (tenant_id, event_id);

CREATE TABLE IF NOT EXISTS `telltale_events`.`api_requests` (
    tenant_id     String,
    api_key_id    String,
    -- Unique, and in insertion order within a millisecond: (created_at, id) is the data API's keyset.
    id            UInt128,
    created_at    DateTime64(6, 'UTC'),
    hostname      Nullable(String),
    ip_address    Nullable(String),
    path          String,
    method        LowCardinality(String),
    status        UInt16,
    response_time UInt32,
    browser       LowCardinality(Nullable(String)),
    os            LowCardinality(Nullable(String)),
    location      LowCardinality(Nullable(String)),
    user_id       Nullable(String),
    framework     LowCardinality(Nullable(String))
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(created_at)
ORDER BY (tenant_id, api_key_id, created_at, id);

CREATE TABLE IF NOT EXISTS `telltale_events`.`api_request_rollups` (
    tenant_id         String,
    api_key_id        String,
    hour              DateTime('UTC'),
    hostname          String,
    method            LowCardinality(String),
    path              String,
    status            UInt16,
    location          LowCardinality(String),
    browser           LowCardinality(String),
    os                LowCardinality(String),
    requests          UInt64,
    errors            UInt64,
    response_time_sum UInt64,
    rt_b0 UInt64,
    rt_b1 UInt64,
    rt_b2 UInt64,
    rt_b3 UInt64,
    rt_b4 UInt64,
    rt_b5 UInt64,
    rt_b6 UInt64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, api_key_id, hour, hostname, method, path, status, location, browser, os);

CREATE MATERIALIZED VIEW IF NOT EXISTS `telltale_events`.`api_request_rollups_mv` TO `telltale_events`.`api_request_rollups` AS SELECT tenant_id, api_key_id, toStartOfHour(created_at) AS hour, ifNull(hostname, '') AS hostname, method, path, status, ifNull(location, '') AS location, ifNull(browser, '') AS browser, ifNull(os, '') AS os, count() AS requests, countIf(status >= 400) AS errors, sum(response_time) AS response_time_sum, countIf(response_time >= 0 AND response_time < 50) AS rt_b0, countIf(response_time >= 50 AND response_time < 100) AS rt_b1, countIf(response_time >= 100 AND response_time < 250) AS rt_b2, countIf(response_time >= 250 AND response_time < 500) AS rt_b3, countIf(response_time >= 500 AND response_time < 1000) AS rt_b4, countIf(response_time >= 1000 AND response_time < 2500) AS rt_b5, countIf(response_time >= 2500) AS rt_b6 FROM `telltale_events`.`api_requests` GROUP BY tenant_id, api_key_id, hour, hostname, method, path, status, location, browser, os;

CREATE MATERIALIZED VIEW IF NOT EXISTS `telltale_events`.`event_ids_mv` TO `telltale_events`.`event_ids` AS SELECT tenant_id, event_id, received_at FROM `telltale_events`.`events`;
