-- Re-extraction (nova/reextract.py): agents a run of one scope has finished, so an interrupted
-- run resumes where it stopped. Cleared when the run completes.
CREATE TABLE reextract_progress (
    run_key     text NOT NULL,   -- hash of the scope and the extractor version
    agent_id    text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, agent_id)
);

-- What extractor produced the rows: `nova status` counts rows older than the running one.
CREATE INDEX entities_version ON entities (agent_id, extractor_version);
CREATE INDEX episodes_version ON episodes (agent_id, extractor_version);
CREATE INDEX relationships_version ON relationships (agent_id, extractor_version);
