-- Claims read urgent jobs (priority > 0) first, then the rest, each oldest first from its own
-- index: ordering one index by priority first made every claim slower under load.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE state IN ('queued', 'failed') AND priority = 0;
CREATE INDEX jobs_ready_urgent ON jobs (run_after, id) WHERE state IN ('queued', 'failed') AND priority > 0;
