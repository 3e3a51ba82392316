-- Entity resolution matches a lone name against known people's first names ("Dana" → Dana Okafor,
-- "Mel" → Melanie). Without an index that is a scan of the agent's people, which grows with the store.
CREATE INDEX entities_person_first_name ON entities (agent_id, split_part(norm_name, ' ', 1) text_pattern_ops)
    WHERE kind = 'person';
