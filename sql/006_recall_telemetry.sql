-- Sampled recall telemetry (nova.telemetry): how recall behaves in production, never what was asked.
-- No query or memory text is stored; rows older than the retention are pruned as new ones arrive.
CREATE TABLE recall_telemetry (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    agent_id    text NOT NULL,
    source      text NOT NULL,                 -- recall | precompute (service endpoints)
    took_ms     real NOT NULL,
    candidates  jsonb NOT NULL,                -- {"vector": n, "fulltext": n, "graph": n}
    paths_kept  text[] NOT NULL,               -- paths that contributed a recalled item
    items       integer NOT NULL,
    tokens      integer NOT NULL,
    timings_ms  jsonb NOT NULL                 -- per stage
);
CREATE INDEX recall_telemetry_at ON recall_telemetry (at);
CREATE INDEX recall_telemetry_agent ON recall_telemetry (agent_id, at);
