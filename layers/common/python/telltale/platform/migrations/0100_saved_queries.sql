-- Saved queries (spec 000): templates per tenant and app, their tags, and a record of every execution.

CREATE TABLE IF NOT EXISTS platform.saved_queries (
    id              uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    app_slug        text NOT NULL,
    slug            text NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    connection_type text NOT NULL CHECK (connection_type IN ('external', 'internal')),
    secret_key      text,
    query_text      text NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, app_slug, slug),
    FOREIGN KEY (tenant_id, app_slug) REFERENCES platform.apps(tenant_id, slug) ON DELETE CASCADE,
    CHECK ((connection_type = 'external') = (secret_key IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS saved_queries_tags ON platform.saved_queries USING gin (tags);

-- One row per execution, success or failure; the reply's execution_key finds it again.
-- No parameter values or rendered SQL are stored: they may hold secrets or personal data.
CREATE TABLE IF NOT EXISTS platform.query_executions (
    execution_key text PRIMARY KEY,
    tenant_id     text NOT NULL,
    app_slug      text NOT NULL,
    query_slug    text NOT NULL,
    query_id      uuid,
    driver        text,
    executed_by   text NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_ms   double precision NOT NULL,
    row_count     integer NOT NULL DEFAULT 0,
    truncated     boolean NOT NULL DEFAULT false,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'error')),
    error_code    text,
    error_message text
);

CREATE INDEX IF NOT EXISTS query_executions_by_query
    ON platform.query_executions (tenant_id, app_slug, query_slug, started_at DESC);
