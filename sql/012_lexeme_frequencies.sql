-- NOVA's own document frequencies of full-text lexemes, per agent and table: recall leaves a query
-- word out of its full-text query when more than COMMON_WORD_SHARE (nova.recall) of the agent's rows
-- hold it. The column statistics used before (pg_stats) exist only after ANALYZE, sample big tables
-- at random and count every agent's rows together, so recall depended on ingest history and on
-- other agents. These counts follow the rows in the same transaction: a function of content.
-- The lexeme '' counts the agent's rows in the table.
CREATE TABLE lexeme_frequencies (
    agent_id text   NOT NULL,
    tbl      text   NOT NULL CHECK (tbl IN ('episodes', 'relationships')),
    lexeme   text   NOT NULL,
    n_rows   bigint NOT NULL,
    PRIMARY KEY (agent_id, tbl, lexeme)
);

-- Statement-level triggers with transition tables: one upsert per statement, not per row and lexeme.
-- Upserts go in key order, so two statements touching the same rows cannot deadlock.
CREATE FUNCTION nova_count_lexemes(added_tsv tsvector[], added_agents text[], removed_tsv tsvector[],
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

CREATE FUNCTION nova_lexemes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nova_count_lexemes((SELECT array_agg(tsv) FROM new_rows), (SELECT array_agg(agent_id) FROM new_rows),
                               NULL, NULL, TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE FUNCTION nova_lexemes_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nova_count_lexemes(NULL, NULL, (SELECT array_agg(tsv) FROM old_rows),
                               (SELECT array_agg(agent_id) FROM old_rows), TG_TABLE_NAME);
    RETURN NULL;
END $$;

-- An update counts only rows whose words changed (an episode's reply appended), old out, new in.
CREATE FUNCTION nova_lexemes_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nova_count_lexemes(array_agg(n.tsv), array_agg(n.agent_id), array_agg(o.tsv), array_agg(o.agent_id),
                               TG_TABLE_NAME)
       FROM old_rows o JOIN new_rows n USING (id) WHERE o.tsv IS DISTINCT FROM n.tsv HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER episodes_lexemes_inserted AFTER INSERT ON episodes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_inserted();
CREATE TRIGGER episodes_lexemes_deleted AFTER DELETE ON episodes
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_deleted();
CREATE TRIGGER episodes_lexemes_updated AFTER UPDATE ON episodes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_updated();
CREATE TRIGGER relationships_lexemes_inserted AFTER INSERT ON relationships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_inserted();
CREATE TRIGGER relationships_lexemes_deleted AFTER DELETE ON relationships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_deleted();
CREATE TRIGGER relationships_lexemes_updated AFTER UPDATE ON relationships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION nova_lexemes_updated();

-- The rows stored before this migration.
INSERT INTO lexeme_frequencies (agent_id, tbl, lexeme, n_rows)
SELECT agent_id, 'episodes', l.lexeme, count(*)
  FROM episodes, unnest(array_append(tsvector_to_array(tsv), '')) AS l(lexeme) GROUP BY agent_id, l.lexeme;
INSERT INTO lexeme_frequencies (agent_id, tbl, lexeme, n_rows)
SELECT agent_id, 'relationships', l.lexeme, count(*)
  FROM relationships, unnest(array_append(tsvector_to_array(tsv), '')) AS l(lexeme) GROUP BY agent_id, l.lexeme;
