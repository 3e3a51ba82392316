-- Agents whose derived rows an edit in place left otherwise than a rebuild would make them.
-- `nova forget --memory` (and the nova_forget tool, /forget, the UI) deletes the memory at once, so
-- recall never shows it again; what the memory had done to other rows (the entity summary it gave, the
-- older fact it closed, the kind it gave an entity, the exchange a later reply joined) is re-derived by
-- a rebuild of the agent: the next catch-up's, or the CLI's right away (nova.memory.reextract.rebuild_pending).
CREATE TABLE rebuild_pending (
    agent_id   text PRIMARY KEY,
    reason     text NOT NULL,                 -- what asked for it ("forget --memory", "restore --memory")
    since      timestamptz NOT NULL DEFAULT now()
);
