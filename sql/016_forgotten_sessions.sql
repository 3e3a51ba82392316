-- Tombstones of forgotten sessions, keyed by what catch-up sees again whatever happens to the
-- transcript's file: its session id (the same in a live file, its *.jsonl.reset.<iso> or
-- .deleted.<iso> archive, a renamed copy, and OpenClaw's SQLite store). A session-key forget also
-- records each session id it emptied, so a transcript that rotates out of sessions.json (and would be
-- filed under another key) is still not remembered again. No content: ids and the cut-off.
CREATE TABLE forgotten_sessions (
    agent_id      text NOT NULL,
    session_id    text NOT NULL,
    before        timestamptz NOT NULL,    -- entries of the session that occurred before this stay forgotten
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, session_id)
);
