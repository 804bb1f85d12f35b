-- The event store on PostgreSQL (spec 004): append-only, partitioned by month of occurred_at.
-- Partitions are created on demand by the writer (telltale.events.store), so no month is ever missing
-- and no default partition has to be split later.
CREATE SCHEMA IF NOT EXISTS events;

CREATE TABLE IF NOT EXISTS events.events (
    tenant_id      text        NOT NULL,
    event_id       text        NOT NULL,
    event_type     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    actor_type     text,
    actor_id       text,
    entity_type    text,
    entity_id      text,
    schema_version integer     NOT NULL DEFAULT 1,
    attributes     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    source         text        NOT NULL DEFAULT 'api'
) PARTITION BY RANGE (occurred_at);

-- The dashboards' access path: one tenant, one event type, a time window.
CREATE INDEX IF NOT EXISTS events_tenant_type_time ON events.events (tenant_id, event_type, occurred_at);
-- The SaaS user history: one user's recent events.
CREATE INDEX IF NOT EXISTS events_tenant_actor_time ON events.events (tenant_id, actor_id, occurred_at);

-- A unique index on a partitioned table must include the partition key, which would let a replayed eventId
-- with another occurredAt in twice; this ledger makes (tenant, eventId) unique across all partitions.
CREATE TABLE IF NOT EXISTS events.event_ids (
    tenant_id text NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);

-- Active users set by hand (PUT /api/analysis/active-users); they win over the values computed from events.
CREATE TABLE IF NOT EXISTS events.active_users (
    tenant_id      text    NOT NULL,
    saas_tenant_id text    NOT NULL,
    env_id         integer NOT NULL,
    period_type    text    NOT NULL CHECK (period_type IN ('daily', 'monthly')),
    period         text    NOT NULL,
    active_users   integer NOT NULL CHECK (active_users >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, saas_tenant_id, env_id, period_type, period)
);
