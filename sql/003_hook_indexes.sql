-- Indexes for the service's per-request queries (nova/service.py, nova/profile.py), so the
-- hooks' latency does not grow with the store.
-- Exact-text lookups of a message: is it already logged (live or from the transcript)?
-- Hash, not btree: message texts can exceed a btree entry's size limit.
CREATE INDEX entries_text_hash ON entries USING hash (text);
-- Session profile: recently seen entities, recent facts and threads, recent episodes.
CREATE INDEX entities_recent ON entities (agent_id, last_seen DESC NULLS LAST);
CREATE INDEX relationships_recent ON relationships (agent_id, valid_from DESC NULLS LAST);
CREATE INDEX episodes_recent ON episodes (agent_id, occurred_at DESC NULLS LAST);
