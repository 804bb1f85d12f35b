-- A definition's edit time is not usage. Superset charts, Tableau sheets and Power BI reports used to store
-- their modification time as executed_at, so a chart viewed every day but edited two years ago counted no
-- queries (and one edited yesterday but never opened looked busy). Edit times now live in modified_at;
-- executed_at holds only times a tool says a resource was run or viewed (docs/usage-analytics.md, "Activity").

ALTER TABLE usage.bi_queries ADD COLUMN IF NOT EXISTS modified_at timestamptz;

-- Rows written before: move the edit times those scrapers put into executed_at (the upsert keeps an old
-- executed_at when a sync brings none, so they would otherwise stay forever).
UPDATE usage.bi_queries q
SET modified_at = q.executed_at, executed_at = NULL
FROM usage.connectors c
WHERE c.id = q.connector_id
  AND q.executed_at IS NOT NULL
  AND q.modified_at IS NULL
  AND ((c.type = 'superset' AND q.resource_type IN ('chart', 'dashboard_chart'))
       OR (c.type = 'tableau' AND q.resource_type IN ('chart', 'dashboard_chart'))
       OR (c.type = 'power_bi' AND q.resource_type = 'chart'));

-- Usage windows now filter on executed_at alone.
DROP INDEX IF EXISTS usage.bi_queries_tenant_activity;
CREATE INDEX IF NOT EXISTS bi_queries_tenant_executed ON usage.bi_queries (tenant_id, executed_at);
