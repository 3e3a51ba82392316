-- Two tiers of embeddings (nova.memory.static_embed, nova.memory.dense_fill): a static (model2vec)
-- vector written in the ingest transaction, so a memory is searchable by meaning at once, and the
-- dense model's vector (`embedding`) filled in behind it, in large batches outside that transaction.
-- `embedding IS NULL` now means "dense vector pending"; recall searches both spaces and fuses them.
-- Like `embedding`, `static_embedding` is an untyped vector: its HNSW indexes are created at run time
-- for the static model's dimension (nova.store.migrations.ensure_vector_indexes).
ALTER TABLE entities ADD COLUMN static_embedding vector;
ALTER TABLE relationships ADD COLUMN static_embedding vector;
ALTER TABLE episode_keys ADD COLUMN static_embedding vector;
ALTER TABLE episode_keys ALTER COLUMN embedding DROP NOT NULL;
-- The text a turn's key embeds ("<speaker>: <annotated text>"): what the dense pass encodes later.
-- NULL for keys written before this migration (they have their dense vector already).
ALTER TABLE episode_keys ADD COLUMN key_text text;

-- What the dense pass has left to do, found without a scan (and counted by `nova status`).
CREATE INDEX entities_dense_pending ON entities (agent_id, id) WHERE embedding IS NULL;
CREATE INDEX relationships_dense_pending ON relationships (agent_id, id) WHERE embedding IS NULL;
CREATE INDEX episode_keys_dense_pending ON episode_keys (agent_id, session_id, entry_id) WHERE embedding IS NULL;
