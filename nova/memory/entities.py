"""Entity resolution: one row per real-world thing per agent, cheapest evidence first.

Order (PEERS.md: Graphiti left duplicates because its candidate search was embedding-only):
0. the operator's rules (nova.memory.entity_rules): a name merged into an entity resolves to it; a
   name split off an entity never does, whatever the steps below find;
1. exact normalised name or a known alias ("melanie", "Melanie's" → Melanie);
2. a unique person whose first name is the mention ("Dana" → Dana Okafor) or, for mentions
   tagged as people, a nickname of it or it of the mention ("Mel" ↔ Melanie): at least 3 letters,
   2 fewer than the full name (Dan and Dana are two people), one full name per nickname;
3. trigram similarity (pg_trgm) ≥ 0.6 within the same kind, for names of 5+ letters;
4. otherwise a new entity.
"""

from __future__ import annotations

import re
from datetime import datetime

import psycopg

from nova.memory.entity_rules import EntityRules, RuleTarget
from nova.memory.names import normalize_name

__all__ = ["EntityResolver", "WEAK_KINDS", "aliases_of"]

# Kinds a pattern may overwrite: NER's guesses are weaker than "a guinea pig named Oscar".
WEAK_KINDS = {"person", "organization", "thing", "work", "group"}
_TRIGRAM_THRESHOLD = 0.6
# Letters a nickname drops at least ("Mel" of Melanie drops 4, "Chris" of Christine 4): one letter
# more or less is another name (Dan / Dana, Fran / Frank, Paul / Paula, Eric / Erica).
_NICKNAME_DROPS = 2


def aliases_of(entity: str) -> str:
    """SQL for the aliases of the ``entities`` row aliased ``entity``, as a sorted text array (what
    ``nova.memory.texts.entity_text`` shows as "aka")."""
    return (f"array(SELECT alias FROM entity_aliases a WHERE a.agent_id = {entity}.agent_id"
            f" AND a.entity_id = {entity}.id ORDER BY alias)")


class EntityResolver:
    """Resolves names to entity ids for one agent inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, agent_id: str, extractor_version: int):
        self.conn = conn
        self.agent_id = agent_id
        self.extractor_version = extractor_version
        self._cache: dict[str, int] = {}
        self._cached_order: list[str] = []  # names in the order they entered the cache (for rollback_to)
        self.created = 0
        self.aliased = 0  # alias rows written (a new entity's first, or one more of a known one): its text changed
        self.rules = EntityRules.load(conn, agent_id)

    def savepoint(self) -> tuple[int, int]:
        """A mark to return to when the caller's savepoint rolls back (``rollback_to``)."""
        return len(self._cached_order), self.created

    def rollback_to(self, mark: tuple[int, int]) -> None:
        """Forget what was resolved since ``mark``: the entities created then were rolled back with
        the caller's savepoint, and a cached id of theirs would point later entries at nothing."""
        cached, created = mark
        for norm in self._cached_order[cached:]:
            self._cache.pop(norm, None)
        del self._cached_order[cached:]
        self.created = created

    def resolve(self, name: str, kind: str, *, strong: bool = False, seen_at: datetime | None = None) -> int:
        norm = normalize_name(name)
        if not norm:
            raise ValueError(f"empty entity name {name!r}")
        entity_id = self._cache.get(norm)
        if entity_id is not None and not (strong and kind not in WEAK_KINDS):
            return entity_id  # its alias was written when it was cached
        if entity_id is None:
            entity_id = self._found(norm, kind, seen_at)
        if entity_id is None:
            entity_id = self._create(name, norm, kind, seen_at)
        else:
            if strong and kind not in WEAK_KINDS:
                self.conn.execute(
                    "UPDATE entities SET kind = %s WHERE id = %s AND agent_id = %s AND kind = ANY(%s)"
                    " AND NOT EXISTS (SELECT 1 FROM entities e2 WHERE e2.agent_id = %s AND e2.kind = %s"
                    "   AND e2.norm_name = entities.norm_name)",
                    (kind, entity_id, self.agent_id, list(WEAK_KINDS), self.agent_id, kind),
                )
            self._add_alias(entity_id, norm, name)
        self._remember(norm, entity_id)
        return entity_id

    def alias(self, entity_id: int, name: str) -> bool:
        """Make ``name`` an alias of the entity ``entity_id`` (a speaker's "I'm Jenny", "call me Jen"):
        later mentions of it resolve there. True when the alias is new. Not when the operator split that
        name off the entity (``nova.memory.entity_rules``) or merged it into another."""
        norm = normalize_name(name)
        if not norm or self.rules.merged_into(norm) is not None or self._key_of(entity_id) in self.rules.split_from(norm):
            return False
        before = self.aliased
        self._add_alias(entity_id, norm, name)
        self._remember(norm, entity_id)
        return self.aliased != before

    def _remember(self, norm: str, entity_id: int) -> None:
        """Cache what ``norm`` resolves to, in the order ``rollback_to`` undoes."""
        if norm not in self._cache:
            self._cached_order.append(norm)
        self._cache[norm] = entity_id

    def _found(self, norm: str, kind: str, seen_at: datetime | None) -> int | None:
        """The entity a mention named ``norm`` resolves to under the rules and steps 1-3, or None for a new one."""
        target = self.rules.merged_into(norm)
        if target is not None:
            return self._by_rule(target) or self._create(target.name, target.norm, target.kind, seen_at)
        found = (self._by_alias(norm, kind)
                 or self._by_first_name(norm, prefix_ok=kind == "person")
                 or self._by_trigram(norm, kind))
        excluded = self.rules.split_from(norm)
        if found is not None and excluded and self._key_of(found) in excluded:
            return None
        return found

    def _by_rule(self, target: RuleTarget) -> int | None:
        """The entity a merge rule names; of another kind when a rebuild typed it otherwise."""
        row = self.conn.execute(
            "SELECT id FROM entities WHERE agent_id = %s AND norm_name = %s ORDER BY kind = %s DESC, id LIMIT 1",
            (self.agent_id, target.norm, target.kind)).fetchone()
        return row[0] if row else None

    def _key_of(self, entity_id: int) -> tuple[str, str]:
        return tuple(self.conn.execute("SELECT kind, norm_name FROM entities WHERE id = %s AND agent_id = %s",
                                       (entity_id, self.agent_id)).fetchone())

    def _by_alias(self, norm: str, kind: str) -> int | None:
        rows = self.conn.execute(
            "SELECT a.entity_id, e.kind FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            " WHERE a.agent_id = %s AND a.alias_norm = %s ORDER BY e.mention_count DESC",
            (self.agent_id, norm),
        ).fetchall()
        if not rows:
            return None
        same_kind = [r[0] for r in rows if r[1] == kind]
        return same_kind[0] if same_kind else rows[0][0]

    def _by_first_name(self, norm: str, prefix_ok: bool) -> int | None:
        """A lone name that is a known person's first name ("Dana" → Dana Okafor), or for mentions
        tagged as people a nickname of one: only when unambiguous.

        A nickname drops at least a syllable (``_NICKNAME_DROPS`` letters): "Mel" → Melanie and
        "Chris" → Christine, but "Dan" and "Dana" are two names, as are "Fran" and "Frank". It works
        both ways (the nickname may be seen first: "Melanie" → Mel), but a nickname stands for one
        full name: once "Chris" has taken in Christine, Christopher is someone else."""
        if len(norm) < 3 or " " in norm:
            return None
        # Both forms use an index (entities_person_first_name; the unique key): a first name that
        # starts with the mention, or a known name the mention starts with ("Melanie" → "Mel").
        first = "split_part(norm_name, ' ', 1)"
        if prefix_ok:
            condition = f"({first} = %s OR ({first} LIKE %s AND length({first}) >= %s) OR norm_name = ANY(%s))"
            params = (norm, re.sub(r"([\\%_])", r"\\\1", norm) + "%", len(norm) + _NICKNAME_DROPS,
                      [norm[:n] for n in range(3, len(norm) - _NICKNAME_DROPS + 1)])
        else:  # NER called it something else: trust an exact first name only
            condition, params = f"{first} = %s", (norm,)
        rows = self.conn.execute(
            f"SELECT id, norm_name FROM entities WHERE agent_id = %s AND kind = 'person' AND {condition} LIMIT 2",
            (self.agent_id, *params),
        ).fetchall()
        if len(rows) != 1:
            return None
        entity_id, known = rows[0]
        if len(known) < len(norm) and self._nickname_taken(entity_id, known, norm):
            return None
        return entity_id

    def _nickname_taken(self, entity_id: int, nickname: str, name: str) -> bool:
        """Whether the person known as ``nickname`` already took in a full name other than ``name``
        (an alias that is longer than the nickname, starts with it, and is not ``name`` or a form of it)."""
        return self.conn.execute(
            "SELECT 1 FROM entity_aliases WHERE agent_id = %s AND entity_id = %s"
            " AND length(split_part(alias_norm, ' ', 1)) > length(%s) AND split_part(alias_norm, ' ', 1) <> %s"
            " AND NOT starts_with(%s, split_part(alias_norm, ' ', 1)) AND NOT starts_with(split_part(alias_norm, ' ', 1), %s)"
            " LIMIT 1",
            (self.agent_id, entity_id, nickname, name, name, name),
        ).fetchone() is not None

    def _by_trigram(self, norm: str, kind: str) -> int | None:
        if len(norm) < 5:
            return None
        # `%%` (pg_trgm's similarity operator) uses the GIN trigram index. At its default threshold (0.3)
        # the index yields thousands of rows to recheck in a large store (157 ms at 72k entities);
        # at ours, a few hundred (11 ms). Transaction-local: other queries keep the default.
        self.conn.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", (str(_TRIGRAM_THRESHOLD),))
        row = self.conn.execute(
            "SELECT id FROM entities WHERE agent_id = %s AND kind = %s AND norm_name %% %s"
            " AND similarity(norm_name, %s) >= %s ORDER BY similarity(norm_name, %s) DESC LIMIT 1",
            (self.agent_id, kind, norm, norm, _TRIGRAM_THRESHOLD, norm),
        ).fetchone()
        return row[0] if row else None

    def _create(self, name: str, norm: str, kind: str, seen_at: datetime | None) -> int:
        row = self.conn.execute(
            "INSERT INTO entities (agent_id, kind, name, norm_name, first_seen, last_seen, extractor_version)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (agent_id, kind, norm_name) DO UPDATE SET last_seen = entities.last_seen"
            " RETURNING id, (xmax = 0)",
            (self.agent_id, kind, name, norm, seen_at, seen_at, self.extractor_version),
        ).fetchone()
        if row[1]:
            self.created += 1
        self._add_alias(row[0], norm, name)
        return row[0]

    def _add_alias(self, entity_id: int, norm: str, name: str) -> None:
        added = self.conn.execute(
            "INSERT INTO entity_aliases (agent_id, alias_norm, entity_id, alias) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (self.agent_id, norm, entity_id, name),
        ).rowcount
        self.aliased += added
