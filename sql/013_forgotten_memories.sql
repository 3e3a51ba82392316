-- One memory forgotten on request (`nova forget --memory`, the nova_forget agent tool): a rule that
-- projection and re-extraction apply, so the memory is not made again from the entries that remain.
-- No content: a relationship is matched by the sha256 of its fact text, an episode by the sha256 of
-- each "<session_id>/<entry_id>" of its exchange (re-keyed when a live entry is adopted).
CREATE TABLE forgotten_memories (
    id            bigserial PRIMARY KEY,
    agent_id      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('fact', 'entry')),
    key_hash      text NOT NULL,
    via           text NOT NULL,           -- cli | tool: who asked (audit)
    session_key   text,                    -- the session the tool was called from (audit)
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, kind, key_hash)
);
