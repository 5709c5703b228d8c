-- Jobs that finish user-visible work (posting a protocol) go ahead of queued analyses.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (priority DESC, run_after, id) WHERE state IN ('queued', 'failed');
