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
