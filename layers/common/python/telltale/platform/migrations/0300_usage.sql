-- Usage analytics (spec 001): connectors, spaces, data products, BI queries, sync jobs and usage stats.
-- Everything lives in its own schema "usage"; every row carries tenant_id and every read filters by it.
-- Connector credentials live in Secrets Manager only (secret_name says where).

CREATE SCHEMA IF NOT EXISTS usage;

CREATE TABLE IF NOT EXISTS usage.connectors (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL CHECK (type IN ('superset', 'metabase', 'looker', 'tableau', 'power_bi',
                                              'snowflake', 'bigquery', 'postgres')),
    config      jsonb NOT NULL DEFAULT '{}',
    secret_name text NOT NULL,
    -- Where incremental mining stopped (high-water mark, or pg_stat_statements call counts).
    mining_state jsonb NOT NULL DEFAULT '{}',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX IF NOT EXISTS connectors_tenant_type ON usage.connectors (tenant_id, type);

CREATE TABLE IF NOT EXISTS usage.spaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL,
    slug        text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, slug)
);

CREATE TABLE IF NOT EXISTS usage.products (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL,
    space_id    uuid NOT NULL REFERENCES usage.spaces(id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    tables      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (space_id, name)
);

-- The tables a product owns, split for matching: "Sales.Orders" -> sch 'sales', tbl 'orders' ('' = any schema).
CREATE TABLE IF NOT EXISTS usage.product_tables (
    product_id uuid NOT NULL REFERENCES usage.products(id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    sch        text NOT NULL DEFAULT '',
    tbl        text NOT NULL,
    PRIMARY KEY (product_id, tbl, sch)
);
CREATE INDEX IF NOT EXISTS product_tables_tenant_tbl ON usage.product_tables (tenant_id, tbl);

CREATE TABLE IF NOT EXISTS usage.bi_queries (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          text NOT NULL,
    connector_id       uuid NOT NULL REFERENCES usage.connectors(id) ON DELETE CASCADE,
    resource_type      text NOT NULL CHECK (resource_type IN ('saved_query', 'chart', 'dashboard_chart', 'query_log')),
    resource_id        text NOT NULL,
    title              text,
    sql_text           text,
    sql_hash           text,
    parse_failed       boolean NOT NULL DEFAULT false,
    referenced_tables  text[] NOT NULL DEFAULT '{}',
    referenced_columns text[] NOT NULL DEFAULT '{}',
    executed_by        text,
    executed_at        timestamptz,
    -- How many executions this row stands for (pg_stat_statements deltas); 1 for a chart or a logged query.
    execution_count    bigint NOT NULL DEFAULT 1,
    dashboard_id       text,
    dashboard_title    text,
    dashboard_url      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- When a sync last saw the resource: the activity time of rows the tool gives no execution time for.
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connector_id, resource_type, resource_id)
);
CREATE INDEX IF NOT EXISTS bi_queries_tenant_activity
    ON usage.bi_queries (tenant_id, (COALESCE(executed_at, last_seen_at)));

CREATE TABLE IF NOT EXISTS usage.sync_jobs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      text NOT NULL,
    connector_id   uuid REFERENCES usage.connectors(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('bi_sync', 'query_log_mining')),
    trigger        text NOT NULL DEFAULT 'api' CHECK (trigger IN ('api', 'schedule')),
    status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    items_seen     integer NOT NULL DEFAULT 0,
    items_upserted integer NOT NULL DEFAULT 0,
    items_failed   integer NOT NULL DEFAULT 0,
    errors         jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS sync_jobs_connector ON usage.sync_jobs (tenant_id, connector_id, started_at DESC);

CREATE TABLE IF NOT EXISTS usage.product_usage_stats (
    product_id        uuid PRIMARY KEY REFERENCES usage.products(id) ON DELETE CASCADE,
    tenant_id         text NOT NULL,
    space_id          uuid NOT NULL REFERENCES usage.spaces(id) ON DELETE CASCADE,
    query_count_30d   bigint NOT NULL DEFAULT 0,
    unique_users_30d  integer NOT NULL DEFAULT 0,
    last_queried_at   timestamptz,
    popularity_score  double precision NOT NULL DEFAULT 0,
    top_columns       text[] NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now()
);
