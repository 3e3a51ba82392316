-- Adoption (nova.live) re-points entity summaries from a live entry to its transcript twin by
-- these columns; without the index that is a scan of the agent's entities per adopted message.
CREATE INDEX entities_summary_source ON entities (agent_id, summary_session_id, summary_entry_id)
    WHERE summary_entry_id IS NOT NULL;
