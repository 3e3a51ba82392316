-- Curation by the operator (`nova ui`): entity rules that entity resolution applies, so a merge or a
-- split is re-made by every projection and `nova reextract` instead of being a one-off edit; and an
-- audit trail of every curation (forget, merge, split) that holds no memory content.

-- merge: a mention normalised to alias_norm resolves to the entity (entity_kind, entity_norm), created
--        under entity_name when missing.
-- split: a mention normalised to alias_norm never resolves to the entity (entity_kind, entity_norm);
--        it becomes an entity of its own.
-- Names are content: the rules go with the agent's other rows when the agent is forgotten.
CREATE TABLE entity_rules (
    id          bigserial PRIMARY KEY,
    agent_id    text NOT NULL,
    action      text NOT NULL CHECK (action IN ('merge', 'split')),
    alias_norm  text NOT NULL,
    entity_kind text NOT NULL,
    entity_norm text NOT NULL,
    entity_name text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, action, alias_norm, entity_kind, entity_norm)  -- a merge's one target: nova.memory.curation
);

-- Who curated what, when: ids, hashes and counts only (``target``), never a name or a memory's text.
CREATE TABLE curation_audit (
    id       bigserial PRIMARY KEY,
    agent_id text NOT NULL,
    action   text NOT NULL CHECK (action IN ('forget', 'merge', 'split')),
    actor    text NOT NULL,           -- "<os user> via ui from <client address>"
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    target   jsonb NOT NULL
);
CREATE INDEX curation_audit_agent ON curation_audit (agent_id, at);
