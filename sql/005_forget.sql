-- `nova forget` scopes: which entries must never be logged again (catch-up, live entries).
-- A row holds the scope only (agent id, session-key glob, cut-off time), never memory content.
CREATE TABLE forgotten (
    id              bigserial PRIMARY KEY,
    agent_id        text NOT NULL,
    session_key     text,                    -- glob; NULL = every session of the agent
    before          timestamptz NOT NULL,    -- entries that occurred before this are forgotten
    forgotten_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX forgotten_agent ON forgotten (agent_id);
