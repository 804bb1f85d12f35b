-- BI syncs run asynchronously: POST /connectors/{id}/bi-sync queues a job (202) and a worker runs it, so a
-- sync is no longer cut off by API Gateway's 29 s (a Power BI scan alone may poll for 10 minutes), and the
-- schedule queues one job per connector instead of running every tenant's connectors in one invocation.

ALTER TABLE usage.sync_jobs DROP CONSTRAINT IF EXISTS sync_jobs_status_check;
ALTER TABLE usage.sync_jobs ADD CONSTRAINT sync_jobs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed'));
ALTER TABLE usage.sync_jobs ADD COLUMN IF NOT EXISTS queued_at timestamptz;
-- What went wrong after the sync itself (the usage aggregation that follows it).
ALTER TABLE usage.sync_jobs ADD COLUMN IF NOT EXISTS warnings jsonb NOT NULL DEFAULT '[]';

-- At most one queued job per connector: two requests racing each other get one job and one 409.
CREATE UNIQUE INDEX IF NOT EXISTS sync_jobs_one_queued ON usage.sync_jobs (connector_id) WHERE status = 'queued';
