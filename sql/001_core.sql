-- NOVA core schema: entry log, session registry, cursors, entities, episodes, relationships, provenance.
-- Every table carries agent_id and every query filters by it.
-- Embedding columns are untyped `vector`; the HNSW indexes are expression indexes on
-- `embedding::vector(<dim>)`, created at run time for the configured model's dimension
-- (see nova/store.py: ensure_vector_indexes), so one migration serves any model.

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE nova_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Session registry: how each session id maps to a session key, and how we knew it.
CREATE TABLE sessions (
    agent_id    text NOT NULL,
    session_id  text NOT NULL,
    session_key text NOT NULL,
    key_source  text NOT NULL CHECK (key_source IN ('sessions.json', 'registry', 'content', 'default', 'live')),
    files       text[] NOT NULL DEFAULT '{}',
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, session_id)
);

-- How far catch-up got in each transcript file. Advanced in the same transaction as
-- the rows produced from the lines before byte_offset.
CREATE TABLE transcript_cursors (
    agent_id    text NOT NULL,
    file_name   text NOT NULL,
    session_id  text NOT NULL,
    byte_offset bigint NOT NULL,
    line_no     integer NOT NULL, -- lines before byte_offset: the next line's seq
    head_hash   text NOT NULL,   -- sha256 of the file's first line: detects a rewritten file
    filtered_by text,            -- the filter rule that skipped this session, NULL when ingested
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, file_name)
);

-- The immutable transcript entry log: the source of truth that re-extraction replays.
CREATE TABLE entries (
    agent_id    text NOT NULL,
    session_id  text NOT NULL,
    entry_id    text NOT NULL,
    seq         integer NOT NULL,          -- position in the transcript (line number)
    session_key text NOT NULL,
    role        text NOT NULL CHECK (role IN ('user', 'assistant')),
    speaker     text NOT NULL,             -- resolved name (envelope sender, USER.md, IDENTITY.md)
    addressee   text NOT NULL,             -- who it was said to: resolves "you"
    channel     text,                      -- from the channel envelope, when present
    text        text NOT NULL,             -- message text without envelope or injected memory blocks
    occurred_at timestamptz,
    parent_id   text,
    source_file text NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, session_id, entry_id)
);
CREATE INDEX entries_agent_time ON entries (agent_id, occurred_at);

-- Names of who speaks and is spoken to in an agent's entries (few per agent). Recall drops them
-- from full-text queries: they occur in nearly every memory, so they match everything.
CREATE TABLE agent_speakers (
    agent_id text NOT NULL,
    name     text NOT NULL,
    PRIMARY KEY (agent_id, name)
);

-- Extraction status per entry: failures are kept with their error and retried.
CREATE TABLE entry_extraction (
    agent_id          text NOT NULL,
    session_id        text NOT NULL,
    entry_id          text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    error             text,
    extractor_version integer,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, session_id, entry_id),
    FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE
);
CREATE INDEX entry_extraction_open ON entry_extraction (agent_id, status) WHERE status <> 'done';

CREATE TABLE entities (
    id            bigserial PRIMARY KEY,
    agent_id      text NOT NULL,
    kind          text NOT NULL,
    name          text NOT NULL,
    norm_name     text NOT NULL,
    summary       text,
    summary_session_id text,     -- the transcript entry the summary came from (its provenance)
    summary_entry_id   text,
    embedding     vector,
    tokens        integer NOT NULL DEFAULT 0,
    first_seen    timestamptz,
    last_seen     timestamptz,
    mention_count integer NOT NULL DEFAULT 0,
    extractor_version integer NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', name || ' ' || coalesce(summary, ''))) STORED,
    UNIQUE (agent_id, kind, norm_name)
);
CREATE INDEX entities_norm_trgm ON entities USING gin (norm_name gin_trgm_ops);
CREATE INDEX entities_tsv ON entities USING gin (tsv);

-- Every name an entity was seen under (normalised), for cheap exact resolution.
CREATE TABLE entity_aliases (
    agent_id   text NOT NULL,
    alias_norm text NOT NULL,
    entity_id  bigint NOT NULL REFERENCES entities ON DELETE CASCADE,
    alias      text NOT NULL,
    PRIMARY KEY (agent_id, alias_norm, entity_id)
);

CREATE TABLE episodes (
    id              bigserial PRIMARY KEY,
    agent_id        text NOT NULL,
    session_id      text NOT NULL,
    session_key     text NOT NULL,
    anchor_entry_id text NOT NULL,   -- first entry of the exchange
    first_seq       integer NOT NULL,
    last_seq        integer NOT NULL,
    has_reply       boolean NOT NULL DEFAULT false,
    text            text NOT NULL,
    occurred_at     timestamptz,
    tokens          integer NOT NULL DEFAULT 0,
    extractor_version integer NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (agent_id, session_id, anchor_entry_id)
);
CREATE INDEX episodes_tsv ON episodes USING gin (tsv);
CREATE INDEX episodes_session ON episodes (agent_id, session_id, last_seq);

-- Retrieval keys of an episode: one embedding per entry, so a question that matches one turn
-- of an exchange finds the episode even when the other turns dilute its own embedding.
CREATE TABLE episode_keys (
    agent_id   text NOT NULL,
    session_id text NOT NULL,
    entry_id   text NOT NULL,
    episode_id bigint NOT NULL REFERENCES episodes ON DELETE CASCADE,
    embedding  vector NOT NULL,
    PRIMARY KEY (agent_id, session_id, entry_id),
    FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE
);
CREATE INDEX episode_keys_episode ON episode_keys (episode_id);

CREATE TABLE relationships (
    id           bigserial PRIMARY KEY,
    agent_id     text NOT NULL,
    subject_id   bigint NOT NULL REFERENCES entities ON DELETE CASCADE,
    predicate    text NOT NULL,
    object_id    bigint REFERENCES entities ON DELETE CASCADE,
    object_value text,
    object_key   text NOT NULL,      -- object_id or normalised object_value: the dedup key
    fact         text NOT NULL,      -- natural-language statement with names and dates resolved
    valid_from   timestamptz,
    valid_to     timestamptz,        -- set when a later fact with the same subject and predicate supersedes it
    confidence   real NOT NULL,
    embedding    vector,
    tokens       integer NOT NULL DEFAULT 0,
    extractor_version integer NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', fact)) STORED,
    UNIQUE (agent_id, subject_id, predicate, object_key, fact)
);
CREATE INDEX relationships_tsv ON relationships USING gin (tsv);
CREATE INDEX relationships_subject ON relationships (agent_id, subject_id);
CREATE INDEX relationships_object ON relationships (agent_id, object_id);

-- Provenance: the transcript entries each derived row came from.
CREATE TABLE provenance (
    agent_id   text NOT NULL,
    item_kind  text NOT NULL CHECK (item_kind IN ('entity', 'episode', 'relationship')),
    item_id    bigint NOT NULL,
    session_id text NOT NULL,
    entry_id   text NOT NULL,
    PRIMARY KEY (agent_id, item_kind, item_id, session_id, entry_id),
    FOREIGN KEY (agent_id, session_id, entry_id) REFERENCES entries ON DELETE CASCADE
);
CREATE INDEX provenance_entry ON provenance (agent_id, session_id, entry_id);
