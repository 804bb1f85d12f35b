-- Where a tenant's events live when it is not where the settings say (TELLTALE_EVENT_STORE,
-- TELLTALE_CLICKHOUSE_TENANTS): written by `telltale events move-tenant` (telltale.events.move).
-- state 'moving': events are written to both stores while the history is copied; 'clickhouse': reads and
-- writes go to ClickHouse only. progress: the copy's last verified day, so an interrupted move resumes.
CREATE TABLE events.tenant_stores (
    tenant_id  text PRIMARY KEY,
    state      text NOT NULL CHECK (state IN ('moving', 'clickhouse')),
    progress   jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
