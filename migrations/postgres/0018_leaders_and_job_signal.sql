-- Singleton work across instances: one row per kind of work (a PBX poller, the digest schedule,
-- the campaign tick, Telegram long polling). The instance whose lease has not expired leads; the
-- token grows by one at every change of leader and fences the old one out. last_run_at is when
-- the work last ran for real (a PBX request, say), so a new leader keeps the old one's pace.
CREATE TABLE leader_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_run_at TIMESTAMPTZ
);

-- A new job wakes the idle workers of every instance at once. The channel is named after the
-- schema so that databases shared by several deployments (or tests) do not wake each other.
CREATE FUNCTION callops_job_signal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callops_jobs_' || current_schema(), '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_signal AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION callops_job_signal();
