"""Wake the dispatchers when a job waits for its hand-off to django-q2.

The NOTIFY is delivered when the writing transaction commits (never after a rollback), so
enqueueing costs no round trip beyond its INSERT. Identical notifications of one
transaction are folded into one by PostgreSQL.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION jobs_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobs_due', '');
    RETURN NULL;
END
$$;

-- Every INSERT: new jobs wait for their hand-off (one call per statement, bulk included).
CREATE TRIGGER jobs_job_inserted_notify
    AFTER INSERT ON jobs_job
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_due();

-- A retried or run-now job is handed off again: staff actions clear handed_off_at.
CREATE TRIGGER jobs_job_handoff_cleared_notify
    AFTER UPDATE OF handed_off_at ON jobs_job
    FOR EACH ROW WHEN (NEW.handed_off_at IS NULL)
    EXECUTE FUNCTION jobs_notify_due();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS jobs_job_handoff_cleared_notify ON jobs_job;
DROP TRIGGER IF EXISTS jobs_job_inserted_notify ON jobs_job;
DROP FUNCTION IF EXISTS jobs_notify_due();
"""


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_leaner_indexes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
