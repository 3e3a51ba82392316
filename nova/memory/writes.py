"""The rows an extraction becomes: entities (resolved, with mention counts and summaries), relationships
(time-aware: a functional predicate closes the older fact), episodes (an exchange of at most
``MAX_EPISODE_ENTRIES`` entries), each with provenance to its transcript entry. Runs in the
projection's savepoint per entry; ``nova.memory.projection`` embeds what changed afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import psycopg

from nova.memory.entities import WEAK_KINDS, EntityResolver
from nova.memory.entry_log import LIVE_ENTRY_PREFIX, LoggedEntry
from nova.memory.extract import Extraction, Fact
from nova.memory.forget_one import ForgottenMemoryRules

__all__ = ["write_entry", "ChangedRows", "WriteCounts", "MAX_EPISODE_ENTRIES", "FUNCTIONAL_PREDICATES"]

MAX_EPISODE_ENTRIES = 6
# A newer fact with one of these predicates closes the older one for the same subject.
FUNCTIONAL_PREDICATES = {"live_in", "work_at", "work_for", "is_married_to", "move_to", "date"}


@dataclass
class WriteCounts:
    """New rows one entry wrote (entities are counted by the resolver)."""

    episodes: int = 0
    relationships: int = 0


def write_entry(conn: psycopg.Connection, resolver: EntityResolver, entry: LoggedEntry, result: Extraction,
                changed: "ChangedRows", counts: WriteCounts, version: int, forgotten: ForgottenMemoryRules) -> None:
    """Write what ``result`` (the extraction of ``entry``) says: its mentions' entities, its facts and its
    episode, each with provenance to the entry; ``changed`` collects the rows to embed, ``counts`` what was new.
    ``forgotten``: the agent's forgotten-memory rules (nova.memory.forget_one): no fact or episode they cover."""
    for m in result.mentions:
        entity_id = resolver.resolve(m.name, m.kind, strong=m.strong, seen_at=entry.occurred_at)
        added = conn.execute(
            "INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            " VALUES (%s, 'entity', %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (entry.agent_id, entity_id, entry.session_id, entry.entry_id),
        ).fetchone()
        if added:
            conn.execute(
                "UPDATE entities SET mention_count = mention_count + 1,"
                " first_seen = LEAST(first_seen, %s), last_seen = GREATEST(last_seen, %s)"
                " WHERE id = %s AND agent_id = %s",
                (entry.occurred_at, entry.occurred_at, entity_id, entry.agent_id),
            )
        changed.entities.add(entity_id)
    for fact in result.facts:
        if forgotten.covers_fact(fact.text):
            continue
        if _write_fact(conn, resolver, entry, fact, changed, version):
            counts.relationships += 1
    if forgotten.covers_entry(entry.session_id, entry.entry_id):
        return
    if _write_episode(conn, entry, result, changed, version):
        counts.episodes += 1

def _write_fact(conn, resolver: EntityResolver, entry: LoggedEntry, fact: Fact, changed: "ChangedRows",
                version: int) -> bool:
    """A relationship with provenance; True when it is new. A functional predicate closes older facts."""
    subject_id = resolver.resolve(fact.subject, fact.subject_kind, seen_at=entry.occurred_at)
    object_id = None
    if fact.object_name:
        kind = fact.object_kind or "thing"
        # "working on X", "I prefer X": the verb says more about X than NER's guess did.
        object_id = resolver.resolve(fact.object_name, kind, strong=kind not in WEAK_KINDS, seen_at=entry.occurred_at)
    object_key = f"#{object_id}" if object_id is not None else (fact.object_value or "")
    rel_id, inserted = conn.execute(
        "INSERT INTO relationships (agent_id, subject_id, predicate, object_id, object_value, object_key,"
        " fact, valid_from, confidence, extractor_version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (agent_id, subject_id, predicate, object_key, fact)"
        " DO UPDATE SET confidence = GREATEST(relationships.confidence, EXCLUDED.confidence)"
        " RETURNING id, (xmax = 0)",
        (entry.agent_id, subject_id, fact.predicate, object_id, fact.object_value, object_key,
         fact.text, fact.valid_from, fact.confidence, version),
    ).fetchone()
    conn.execute(
        "INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
        " VALUES (%s, 'relationship', %s, %s, %s) ON CONFLICT DO NOTHING",
        (entry.agent_id, rel_id, entry.session_id, entry.entry_id),
    )
    if not inserted:
        return False
    changed.relationships.add(rel_id)
    if fact.predicate in FUNCTIONAL_PREDICATES and fact.valid_from is not None:
        # Closes only older facts with the same subject and relation (graphiti#1728).
        closed = conn.execute(
            "UPDATE relationships SET valid_to = %s WHERE agent_id = %s AND subject_id = %s"
            " AND predicate = %s AND object_key <> %s AND valid_to IS NULL AND valid_from < %s"
            " RETURNING id",
            (fact.valid_from, entry.agent_id, subject_id, fact.predicate, object_key, fact.valid_from),
        ).fetchall()
        changed.relationships.update(r[0] for r in closed)
    # An entity's summary says what it is: from "is_a" facts, or the fact that introduced it.
    described = subject_id if fact.predicate == "is_a" else object_id
    if described is not None:
        only_first = "" if fact.predicate == "is_a" else " AND summary IS NULL"
        conn.execute(
            "UPDATE entities SET summary = %s, summary_session_id = %s, summary_entry_id = %s"
            f" WHERE id = %s AND agent_id = %s{only_first}",
            (fact.text, entry.session_id, entry.entry_id, described, entry.agent_id),
        )
        changed.entities.add(described)
    return True

def _write_episode(conn, entry: LoggedEntry, result: Extraction, changed: "ChangedRows", version: int) -> bool:
    """Attach the entry to its exchange (a user turn and the replies to it) or open a new one."""
    already = conn.execute(
        "SELECT 1 FROM provenance WHERE agent_id = %s AND item_kind = 'episode'"
        " AND session_id = %s AND entry_id = %s",
        (entry.agent_id, entry.session_id, entry.entry_id),
    ).fetchone()
    if already:
        return False
    last = conn.execute(
        "SELECT id, last_seq, has_reply, (SELECT count(*) FROM provenance p WHERE p.agent_id = e.agent_id"
        "   AND p.item_kind = 'episode' AND p.item_id = e.id)"
        " FROM episodes e WHERE agent_id = %s AND session_id = %s AND first_seq < %s"
        " ORDER BY first_seq DESC LIMIT 1",
        (entry.agent_id, entry.session_id, entry.seq),
    ).fetchone()
    attach = (
        last is not None
        and last[1] < entry.seq
        and last[3] < MAX_EPISODE_ENTRIES
        and (entry.role == "assistant" or not last[2])
        # A live message (memory-extract) is a turn of its own: the reply to the one before it
        # is not in the entry log yet, so "no reply" does not mean "said in one breath".
        and not entry.entry_id.startswith(LIVE_ENTRY_PREFIX)
    )
    if attach:
        episode_id, created = last[0], False
        conn.execute(
            "UPDATE episodes SET last_seq = %s, has_reply = has_reply OR %s WHERE id = %s AND agent_id = %s",
            (entry.seq, entry.role == "assistant", episode_id, entry.agent_id),
        )
    else:
        episode_id = conn.execute(
            "INSERT INTO episodes (agent_id, session_id, session_key, anchor_entry_id, first_seq, last_seq,"
            " has_reply, text, occurred_at, extractor_version)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s, %s) RETURNING id",
            (entry.agent_id, entry.session_id, entry.session_key, entry.entry_id, entry.seq, entry.seq,
             entry.role == "assistant", entry.occurred_at, version),
        ).fetchone()[0]
        created = True
    conn.execute(
        "INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
        " VALUES (%s, 'episode', %s, %s, %s)",
        (entry.agent_id, episode_id, entry.session_id, entry.entry_id),
    )
    changed.episode_lines[episode_id][entry.seq] = (entry.speaker, result.annotated_text)
    changed.episode_keys.append((entry, episode_id, f"{entry.speaker}: {result.annotated_text}"))
    changed.episodes.add(episode_id)
    return created


class ChangedRows:
    """The derived rows a batch wrote or changed: what projection embeds (and re-renders) afterwards."""

    def __init__(self):
        self.entities: set[int] = set()
        self.relationships: set[int] = set()
        self.episodes: set[int] = set()
        self.episode_keys: list[tuple[LoggedEntry, int, str]] = []  # (entry, episode id, key text)
        # episode id → {seq: (speaker, annotated text)} for entries projected in this batch
        self.episode_lines: defaultdict[int, dict[int, tuple[str, str]]] = defaultdict(dict)

    def merge(self, other: "ChangedRows") -> None:
        self.entities |= other.entities
        self.relationships |= other.relationships
        self.episodes |= other.episodes
        self.episode_keys += other.episode_keys
        for episode_id, lines in other.episode_lines.items():
            self.episode_lines[episode_id].update(lines)
