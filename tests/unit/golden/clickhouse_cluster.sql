CREATE DATABASE IF NOT EXISTS `telltale_events` ON CLUSTER `analytics`;

CREATE TABLE IF NOT EXISTS `telltale_events`.`schema_migrations` ON CLUSTER `analytics` (id String, applied_at DateTime DEFAULT now()) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/telltale_events/schema_migrations', '{replica}') ORDER BY id;

CREATE TABLE IF NOT EXISTS `telltale_events`.`events_local` ON CLUSTER `analytics` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/telltale_events/events_local', '{replica}', version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, event_type, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS `telltale_events`.`events` ON CLUSTER `analytics` AS `telltale_events`.`events_local` ENGINE = Distributed(`analytics`, `telltale_events`, `events_local`, cityHash64(tenant_id));

CREATE TABLE IF NOT EXISTS `telltale_events`.`event_ids_local` ON CLUSTER `analytics` (
    tenant_id   String,
    event_id    String,
    received_at DateTime64(3, 'UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/telltale_events/event_ids_local', '{replica}')
ORDER BY (tenant_id, event_id);

CREATE TABLE IF NOT EXISTS `telltale_events`.`event_ids` ON CLUSTER `analytics` AS `telltale_events`.`event_ids_local` ENGINE = Distributed(`analytics`, `telltale_events`, `event_ids_local`, cityHash64(tenant_id));
