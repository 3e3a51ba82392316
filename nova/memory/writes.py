"""The rows an extraction becomes: entities (resolved, with mention counts and summaries), relationships
(time-aware: a functional predicate closes the older fact), episodes (an exchange of at most
``MAX_EPISODE_ENTRIES`` entries), each with provenance to its transcript entry. Runs inside the
projection's savepoint (one per batch, or one per entry when a batch is written again after a failure);
each row is written together with its provenance, one statement per row. ``nova.memory.projection``
embeds what changed afterwards.
"""

from __future__ import annotations

import re
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
# A count of things with one of these predicates closes an older count of the same things ("has 3 tanks").
COUNTED_PREDICATES = {"have", "own"}


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
    if result.speaker_aliases:  # before the mentions: "I'm Jenny" mentions Jenny, who is the speaker
        speaker_id = resolver.resolve(entry.speaker, "person", seen_at=entry.occurred_at)
        for alias in result.speaker_aliases:
            if resolver.alias(speaker_id, alias):
                changed.entities.add(speaker_id)  # its text names its aliases: re-embedded
    mentioned = list(dict.fromkeys(
        resolver.resolve(m.name, m.kind, strong=m.strong, seen_at=entry.occurred_at) for m in result.mentions))
    if mentioned:
        # Provenance and mention counts in one statement: only an entity this entry had not yet
        # given provenance to counts one more mention (re-projection counts nothing twice).
        conn.execute(
            "WITH added AS (INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            "   SELECT %(agent)s, 'entity', id, %(session)s, %(entry)s FROM unnest(%(ids)s::bigint[]) AS id"
            "   ON CONFLICT DO NOTHING RETURNING item_id)"
            " UPDATE entities SET mention_count = mention_count + 1,"
            " first_seen = LEAST(first_seen, %(at)s), last_seen = GREATEST(last_seen, %(at)s)"
            " WHERE agent_id = %(agent)s AND id IN (SELECT item_id FROM added)",
            {"agent": entry.agent_id, "session": entry.session_id, "entry": entry.entry_id, "ids": mentioned,
             "at": entry.occurred_at},
        )
        changed.entities.update(mentioned)
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
    # The relationship and its provenance in one statement (a data-modifying CTE runs once).
    rel_id, inserted = conn.execute(
        "WITH rel AS (INSERT INTO relationships (agent_id, subject_id, predicate, object_id, object_value, object_key,"
        "   fact, valid_from, confidence, extractor_version)"
        "   VALUES (%(agent)s, %(subject)s, %(predicate)s, %(object)s, %(value)s, %(key)s, %(fact)s, %(from)s,"
        "   %(confidence)s, %(version)s)"
        "   ON CONFLICT (agent_id, subject_id, predicate, object_key, fact)"
        "   DO UPDATE SET confidence = GREATEST(relationships.confidence, EXCLUDED.confidence)"
        "   RETURNING id, (xmax = 0) AS inserted),"
        " source AS (INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
        "   SELECT %(agent)s, 'relationship', id, %(session)s, %(entry)s FROM rel ON CONFLICT DO NOTHING)"
        " SELECT id, inserted FROM rel",
        {"agent": entry.agent_id, "subject": subject_id, "predicate": fact.predicate, "object": object_id,
         "value": fact.object_value, "key": object_key, "fact": fact.text, "from": fact.valid_from,
         "confidence": fact.confidence, "version": version, "session": entry.session_id, "entry": entry.entry_id},
    ).fetchone()
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
    counted = _counted(fact) if fact.valid_from is not None else None
    if counted is not None:
        # "I now have 3 tanks" after "I have two tanks": a count of the same things is one value at a time.
        # The other relationships the same old sentence gave ("has two tanks at home": have_at home) go with it.
        closed = conn.execute(
            "WITH counts AS (UPDATE relationships SET valid_to = %(at)s WHERE agent_id = %(agent)s"
            "   AND subject_id = %(subject)s AND predicate = %(predicate)s AND object_value ~* %(same)s"
            "   AND object_value IS DISTINCT FROM %(value)s AND valid_to IS NULL AND valid_from < %(at)s RETURNING id, fact)"
            " , siblings AS (UPDATE relationships SET valid_to = %(at)s WHERE agent_id = %(agent)s"
            "   AND subject_id = %(subject)s AND fact IN (SELECT fact FROM counts) AND valid_to IS NULL"
            "   AND valid_from < %(at)s AND id NOT IN (SELECT id FROM counts) RETURNING id)"
            " SELECT id FROM counts UNION ALL SELECT id FROM siblings",
            {"at": fact.valid_from, "agent": entry.agent_id, "subject": subject_id, "predicate": fact.predicate,
             "same": counted, "value": fact.object_value},
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
    # Whether the entry has its episode already, and the session's last episode before it: one query.
    already, last_id, last_seq, has_reply, size = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM provenance WHERE agent_id = %(agent)s AND item_kind = 'episode'"
        "   AND session_id = %(session)s AND entry_id = %(entry)s), last.*"
        " FROM (SELECT 1) one LEFT JOIN LATERAL ("
        "   SELECT id, last_seq, has_reply, (SELECT count(*) FROM provenance p WHERE p.agent_id = e.agent_id"
        "     AND p.item_kind = 'episode' AND p.item_id = e.id)"
        "   FROM episodes e WHERE agent_id = %(agent)s AND session_id = %(session)s AND first_seq < %(seq)s"
        "   ORDER BY first_seq DESC LIMIT 1) last ON true",
        {"agent": entry.agent_id, "session": entry.session_id, "entry": entry.entry_id, "seq": entry.seq},
    ).fetchone()
    if already:
        return False
    attach = (
        last_id is not None
        and last_seq < entry.seq
        and size < MAX_EPISODE_ENTRIES
        and (entry.role == "assistant" or not has_reply)
        # A live message (memory-extract) is a turn of its own: the reply to the one before it
        # is not in the entry log yet, so "no reply" does not mean "said in one breath".
        and not entry.entry_id.startswith(LIVE_ENTRY_PREFIX)
    )
    # The episode row and the entry's provenance to it in one statement each way.
    params = {"agent": entry.agent_id, "session": entry.session_id, "entry": entry.entry_id, "seq": entry.seq,
              "reply": entry.role == "assistant"}
    if attach:
        episode_id, created = last_id, False
        conn.execute(
            "WITH attached AS (UPDATE episodes SET last_seq = %(seq)s, has_reply = has_reply OR %(reply)s"
            "   WHERE id = %(episode)s AND agent_id = %(agent)s)"
            " INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            " VALUES (%(agent)s, 'episode', %(episode)s, %(session)s, %(entry)s)",
            {**params, "episode": episode_id},
        )
    else:
        episode_id = conn.execute(
            "WITH opened AS (INSERT INTO episodes (agent_id, session_id, session_key, anchor_entry_id, first_seq,"
            "   last_seq, has_reply, text, occurred_at, extractor_version)"
            "   VALUES (%(agent)s, %(session)s, %(key)s, %(entry)s, %(seq)s, %(seq)s, %(reply)s, '', %(at)s, %(version)s)"
            "   RETURNING id),"
            " source AS (INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            "   SELECT %(agent)s, 'episode', id, %(session)s, %(entry)s FROM opened)"
            " SELECT id FROM opened",
            {**params, "key": entry.session_key, "at": entry.occurred_at, "version": version},
        ).fetchone()[0]
        created = True
    changed.episode_lines[episode_id][entry.seq] = (entry.speaker, result.annotated_text)
    changed.episode_keys.append((entry, episode_id, f"{entry.speaker}: {result.annotated_text}"))
    changed.episodes.add(episode_id)
    return created


_NUMBER = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_COUNT = re.compile(rf"^{_NUMBER}\s+([a-z][a-z-]*)$", re.IGNORECASE)


def _counted(fact: Fact) -> str | None:
    """For a count of things someone has ("has 3 tanks", ``COUNTED_PREDICATES``): a PostgreSQL regex matching
    any count of the same things (one or several of them), else None."""
    if fact.predicate not in COUNTED_PREDICATES or not fact.object_value:
        return None
    m = _COUNT.match(fact.object_value.strip())
    if m is None:
        return None
    word = m.group(2).lower()
    stems = {word, word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else word}
    return rf"^{_NUMBER}\s+(" + "|".join(sorted(map(re.escape, stems))) + r")(e?s)?$"


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
