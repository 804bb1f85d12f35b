-- API request analytics (spec 002): API keys (stored hashed), logged requests, uptime monitors and
-- their results. Every row carries its tenant; every read filters by tenant and key.

CREATE TABLE IF NOT EXISTS platform.api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    key_prefix   text NOT NULL,
    name         text NOT NULL DEFAULT '',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Retention: keys idle (no ingest, no read) for 6 months are deleted with their data.
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON platform.api_keys (tenant_id);
CREATE INDEX IF NOT EXISTS api_keys_last_used ON platform.api_keys (last_used_at);

CREATE TABLE IF NOT EXISTS platform.api_requests (
    id            bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    api_key_id    uuid NOT NULL REFERENCES platform.api_keys(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    hostname      text,
    ip_address    text,
    path          text NOT NULL,
    method        text NOT NULL,
    status        smallint NOT NULL,
    response_time integer NOT NULL,
    user_agent    text,
    browser       text,
    os            text,
    location      char(2),
    user_id       text,
    framework     text
);
CREATE INDEX IF NOT EXISTS api_requests_key_time ON platform.api_requests (api_key_id, created_at);

CREATE TABLE IF NOT EXISTS platform.api_monitors (
    id               uuid PRIMARY KEY,
    tenant_id        text NOT NULL,
    api_key_id       uuid NOT NULL REFERENCES platform.api_keys(id) ON DELETE CASCADE,
    url              text NOT NULL,
    method           text NOT NULL DEFAULT 'GET',
    expected_status  smallint NOT NULL DEFAULT 200,
    interval_minutes integer NOT NULL DEFAULT 5,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_checked_at  timestamptz,
    UNIQUE (api_key_id, url, method)
);
CREATE INDEX IF NOT EXISTS api_monitors_due ON platform.api_monitors (last_checked_at);

CREATE TABLE IF NOT EXISTS platform.api_monitor_results (
    id            bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    monitor_id    uuid NOT NULL REFERENCES platform.api_monitors(id) ON DELETE CASCADE,
    checked_at    timestamptz NOT NULL DEFAULT now(),
    status        smallint,
    response_time integer,
    up            boolean NOT NULL,
    error         text
);
CREATE INDEX IF NOT EXISTS api_monitor_results_time ON platform.api_monitor_results (monitor_id, checked_at);
