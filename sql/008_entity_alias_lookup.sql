-- An entity's aliases by entity: recall lists them with each entity it shows, and deleting an
-- entity (forget, re-extraction) cascades to them. The primary key starts with the alias.
CREATE INDEX entity_aliases_entity ON entity_aliases (entity_id);
