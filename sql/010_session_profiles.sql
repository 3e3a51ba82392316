-- The session profile (NOVA_MEMORY.md) each session was last served. It sits in the system
-- prompt, whose prefix the provider caches: kept here, the same bytes survive a restart of
-- `nova serve` instead of being rebuilt (and changed) by a new process.
CREATE TABLE session_profiles (
    agent_id    text NOT NULL,
    session_key text NOT NULL,
    session_id  text,
    text        text NOT NULL,
    items       jsonb NOT NULL,          -- [[kind, id], ...] the memories it shows
    user_facts  bigint[] NOT NULL,       -- relationship ids of the facts about the user
    served_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, session_key)
);
