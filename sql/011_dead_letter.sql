-- An entry whose extraction failed MAX_EXTRACTION_ATTEMPTS times (nova.projection) is dead-lettered:
-- kept with its last error, no longer retried by every catch-up, shown by `nova status`, and
-- retried on request (`nova catchup --retry-failed`).
ALTER TABLE entry_extraction DROP CONSTRAINT entry_extraction_status_check,
    ADD CONSTRAINT entry_extraction_status_check CHECK (status IN ('pending', 'done', 'failed', 'dead'));
