-- nova_count_lexemes deleted the lexemes whose count reached 0 by scanning all of the agent's lexemes
-- (the planner cannot use the key for 'lexeme IN (unnest ...)'): ~10 ms on every episode update at
-- 12,800 episodes. It now deletes exactly the rows its upsert brought to 0, by key.
CREATE OR REPLACE FUNCTION nova_count_lexemes(added_tsv tsvector[], added_agents text[], removed_tsv tsvector[],
                                   removed_agents text[], table_name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    zero_agents text[];
    zero_lexemes text[];
BEGIN
    WITH counted AS (
        INSERT INTO lexeme_frequencies AS f (agent_id, tbl, lexeme, n_rows)
        SELECT c.agent_id, table_name, c.lexeme, sum(c.n) FROM (
            SELECT a.agent_id, l.lexeme, 1 AS n FROM unnest(added_agents, added_tsv) AS a(agent_id, tsv),
                   unnest(array_append(tsvector_to_array(a.tsv), '')) AS l(lexeme)
            UNION ALL
            SELECT r.agent_id, l.lexeme, -1 FROM unnest(removed_agents, removed_tsv) AS r(agent_id, tsv),
                   unnest(array_append(tsvector_to_array(r.tsv), '')) AS l(lexeme)) c
         GROUP BY c.agent_id, c.lexeme HAVING sum(c.n) <> 0 ORDER BY c.agent_id, c.lexeme
        ON CONFLICT (agent_id, tbl, lexeme) DO UPDATE SET n_rows = f.n_rows + excluded.n_rows
        RETURNING f.agent_id, f.lexeme, f.n_rows)
    SELECT array_agg(agent_id), array_agg(lexeme) INTO zero_agents, zero_lexemes FROM counted WHERE n_rows <= 0;
    -- A lexeme no row holds any more leaves no trace (nova forget: the forgotten words in no table).
    -- Deleted by key, in a statement of its own (one statement cannot update a row and delete it).
    IF zero_lexemes IS NOT NULL THEN
        DELETE FROM lexeme_frequencies f USING unnest(zero_agents, zero_lexemes) AS z(agent_id, lexeme)
         WHERE f.agent_id = z.agent_id AND f.tbl = table_name AND f.lexeme = z.lexeme AND f.n_rows <= 0;
    END IF;
END $$;
