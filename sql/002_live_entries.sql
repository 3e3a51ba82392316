-- Live entries: the memory-extract hook stores an inbound message before OpenClaw writes it
-- to the transcript, under a provisional id (session_id from sessions.json or 'live:<key>',
-- entry_id 'live:<message id>'). When catch-up later reads the same message from the
-- transcript it re-keys the live row to the transcript's ids, and these cascades carry the
-- provenance, extraction status and retrieval keys along: no duplicate, nothing re-extracted.
ALTER TABLE entry_extraction DROP CONSTRAINT entry_extraction_agent_id_session_id_entry_id_fkey,
    ADD FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE episode_keys DROP CONSTRAINT episode_keys_agent_id_session_id_entry_id_fkey,
    ADD FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE provenance DROP CONSTRAINT provenance_agent_id_session_id_entry_id_fkey,
    ADD FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE entries ADD COLUMN live boolean NOT NULL DEFAULT false;
-- Unreconciled live entries of a session, looked up for every user entry catch-up appends.
CREATE INDEX entries_live ON entries (agent_id, session_key) WHERE live;
