-- A queued job has not started: started_at stays null until a worker claims the job (it used to default to
-- now() on insert, so a queued job showed started_at = queued_at). Existing queued jobs are corrected.
ALTER TABLE usage.sync_jobs ALTER COLUMN started_at DROP NOT NULL;
ALTER TABLE usage.sync_jobs ALTER COLUMN started_at DROP DEFAULT;
UPDATE usage.sync_jobs SET started_at = NULL WHERE status = 'queued';
-- Lists are newest first by when the job was asked for (queued) or, for a job run directly, started.
CREATE INDEX IF NOT EXISTS sync_jobs_connector_requested
    ON usage.sync_jobs (tenant_id, connector_id, (COALESCE(queued_at, started_at)) DESC);
