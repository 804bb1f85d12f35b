-- The platform's own tables: tenants, their apps, secret types and secret metadata.
-- Secret values live in Secrets Manager only; this table holds where to find them.

CREATE TABLE IF NOT EXISTS platform.tenants (
    id          text PRIMARY KEY,
    schema_name text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS platform.apps (
    tenant_id  text NOT NULL REFERENCES platform.tenants(id) ON DELETE CASCADE,
    slug       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, slug)
);

CREATE TABLE IF NOT EXISTS platform.secret_types (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    fields      jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS platform.secrets (
    tenant_id   text NOT NULL,
    app_slug    text NOT NULL,
    key         text NOT NULL,
    type_slug   text NOT NULL REFERENCES platform.secret_types(slug),
    secret_name text NOT NULL,
    secret_arn  text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, app_slug, key),
    FOREIGN KEY (tenant_id, app_slug) REFERENCES platform.apps(tenant_id, slug) ON DELETE CASCADE
);
