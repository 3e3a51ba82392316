"""The operator's entity rules (table ``entity_rules``, sql/015): merges and splits made in ``nova ui``
(nova.memory.curation), read by entity resolution (nova.memory.entities) on every projection and
re-extraction, so a curation is re-made from the entry log rather than lost by a rebuild.

- **merge**: a mention whose normalised name is ``alias_norm`` is the entity ``(entity_kind,
  entity_norm)``, created under ``entity_name`` when the rebuild has not made it yet;
- **split**: a mention named ``alias_norm`` is never the entity ``(entity_kind, entity_norm)``; it
  becomes an entity of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

__all__ = ["RuleTarget", "EntityRules"]


@dataclass(frozen=True)
class RuleTarget:
    """The entity a rule names: its kind, normalised name (the ``entities`` unique key) and display name."""

    kind: str
    norm: str
    name: str


class EntityRules:
    """An agent's entity rules, read once per resolver (a few rows per agent)."""

    def __init__(self, merges: dict[str, RuleTarget] | None = None,
                 splits: dict[str, set[tuple[str, str]]] | None = None):
        self._merges, self._splits = merges or {}, splits or {}

    @classmethod
    def load(cls, conn: psycopg.Connection, agent_id: str) -> "EntityRules":
        merges: dict[str, RuleTarget] = {}
        splits: dict[str, set[tuple[str, str]]] = {}
        for action, alias_norm, kind, norm, name in conn.execute(
                "SELECT action, alias_norm, entity_kind, entity_norm, entity_name FROM entity_rules"
                " WHERE agent_id = %s ORDER BY id", (agent_id,)):
            if action == "merge":
                merges[alias_norm] = RuleTarget(kind, norm, name)
            else:
                splits.setdefault(alias_norm, set()).add((kind, norm))
        return cls(merges, splits)

    def merged_into(self, alias_norm: str) -> RuleTarget | None:
        """The entity a mention named ``alias_norm`` was merged into, if any."""
        return self._merges.get(alias_norm)

    def split_from(self, alias_norm: str) -> set[tuple[str, str]]:
        """``(kind, norm_name)`` of each entity a mention named ``alias_norm`` was split off."""
        return self._splits.get(alias_norm, set())
