"""From the entry log to memories: extraction, entity resolution, dates, redaction, embeddings,
and the projection that writes entities, episodes and relationships with provenance (also
replayed by re-extraction and forget)."""
