"""Projection: logged transcript entries → entities, episodes and relationships, with provenance.

Runs inside the caller's transaction, so derived rows commit together with the entry log rows
and the transcript cursor that produced them. Catch-up and re-extraction share this code: the
entry log is the only input.

An entry whose extraction fails is marked ``failed`` with its error (inside a savepoint, so
nothing half-written survives) and is retried by the next catch-up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from nova.memory.embed import Embedder
from nova.memory.entities import WEAK_KINDS, EntityResolver
from nova.memory.extract import Extraction, ExtractionInput, Extractor, Fact
from nova.memory.texts import entity_text, episode_text, relationship_text

__all__ = ["LoggedEntry", "ProjectionStats", "Projector", "MAX_EPISODE_ENTRIES", "append_entry", "remember_speakers"]

log = logging.getLogger(__name__)

MAX_EPISODE_ENTRIES = 6
# A newer fact with one of these predicates closes the older one for the same subject.
FUNCTIONAL_PREDICATES = {"live_in", "work_at", "work_for", "is_married_to", "move_to", "date"}


# An entry whose extraction fails this often (the same error each run: a text spaCy refuses, a bug)
# is dead-lettered instead of retried by every catch-up for ever; `nova catchup --retry-failed`
# gives it another round. Transient faults roll the whole chunk back and are not counted.
MAX_EXTRACTION_ATTEMPTS = 5
LIVE_ENTRY_PREFIX = "live:"  # entry ids of messages the memory-extract hook logged (nova.ingest.live)


@dataclass
class LoggedEntry:
    """A row of the entry log (table ``entries``)."""

    agent_id: str
    session_id: str
    entry_id: str
    seq: int
    session_key: str
    role: str
    speaker: str
    addressee: str
    text: str
    occurred_at: datetime | None


@dataclass
class ProjectionStats:
    done: int = 0
    failed: int = 0
    entities: int = 0
    episodes: int = 0
    relationships: int = 0
    errors: list[str] = field(default_factory=list)

    def merge(self, other: "ProjectionStats") -> None:
        self.done += other.done
        self.failed += other.failed
        self.entities += other.entities
        self.episodes += other.episodes
        self.relationships += other.relationships
        self.errors += other.errors


ENTRY_COLUMNS = "agent_id, session_id, entry_id, seq, session_key, role, speaker, addressee, text, occurred_at"


def append_entry(conn: psycopg.Connection, row: LoggedEntry, *, parent_id: str | None, channel: str | None,
                 source_file: str, live: bool = False) -> bool:
    """Add ``row`` to the entry log with extraction status ``pending``; False when its id is there already."""
    inserted = conn.execute(
        f"INSERT INTO entries ({ENTRY_COLUMNS}, parent_id, channel, source_file, live)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (row.agent_id, row.session_id, row.entry_id, row.seq, row.session_key, row.role, row.speaker,
         row.addressee, row.text, row.occurred_at, parent_id, channel, source_file, live),
    ).fetchone()
    if inserted:
        conn.execute(
            "INSERT INTO entry_extraction (agent_id, session_id, entry_id, status) VALUES (%s, %s, %s, 'pending')",
            (row.agent_id, row.session_id, row.entry_id),
        )
    return inserted is not None


def remember_speakers(conn: psycopg.Connection, rows: list[LoggedEntry]) -> None:
    """Record who speaks and is spoken to in ``rows`` (table ``agent_speakers``, used by recall)."""
    names = sorted({(row.agent_id, n) for row in rows for n in (row.speaker, row.addressee)})
    if names:
        conn.cursor().executemany(
            "INSERT INTO agent_speakers (agent_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", names
        )


def fetch_entries(conn: psycopg.Connection, query: str, params) -> list[LoggedEntry]:
    with conn.cursor(row_factory=class_row(LoggedEntry)) as cur:
        return cur.execute(query, params).fetchall()


class Projector:
    def __init__(self, extractor: Extractor, embedder: Embedder):
        self.extractor = extractor
        self.embedder = embedder

    def prepare(self) -> None:
        """Nothing to load: the models were given. (A lazy projector loads them here.)"""

    def project(self, conn: psycopg.Connection, agent_id: str, entries: list[LoggedEntry]) -> ProjectionStats:
        """Extract and write derived rows for ``entries`` (one agent, any sessions)."""
        stats = ProjectionStats()
        if not entries:
            return stats
        entries = sorted(entries, key=lambda e: (e.session_id, e.seq))
        results = self._extract(entries)
        resolver = EntityResolver(conn, agent_id, self.extractor.version)
        touched = _Touched()
        for entry, result in zip(entries, results, strict=True):
            # What one entry writes is kept apart until its savepoint commits: a failing entry must
            # leave no entity id in the resolver's cache, no row to embed and no count behind.
            mark, written, counts = resolver.savepoint(), _Touched(), ProjectionStats()
            try:
                if isinstance(result, Exception):
                    raise result
                with conn.transaction():  # savepoint: a failing entry leaves nothing behind
                    # Speakers exist before anyone mentions them by first name or nickname.
                    for name in (entry.speaker, entry.addressee):
                        resolver.resolve(name, "person", seen_at=entry.occurred_at)
                    self._write_entry(conn, resolver, entry, result, written, counts)
                    _mark(conn, entry, "done", None, self.extractor.version)
                touched.merge(written)
                stats.merge(counts)
                stats.done += 1
            except Exception as err:  # recorded and retried next run, never dropped
                resolver.rollback_to(mark)
                message = f"{type(err).__name__}: {err}"[:1000]
                log.warning("extraction failed for %s/%s: %s", entry.session_id, entry.entry_id, message)
                _mark(conn, entry, "failed", message, self.extractor.version)
                stats.failed += 1
                stats.errors.append(f"{entry.session_id}/{entry.entry_id}: {message}")
        stats.entities += resolver.created
        self._embed(conn, agent_id, touched)
        return stats

    def _extract(self, entries: list[LoggedEntry]) -> list[Extraction | Exception]:
        inputs = [ExtractionInput(e.text, e.speaker, e.addressee, e.occurred_at) for e in entries]
        try:
            return list(self.extractor.extract_batch(inputs))
        except Exception:
            # Find the entries that fail rather than failing the whole batch.
            out: list[Extraction | Exception] = []
            for item in inputs:
                try:
                    out.append(self.extractor.extract_batch([item])[0])
                except Exception as err:
                    out.append(err)
            return out

    # -- writing ------------------------------------------------------------------------

    def _write_entry(self, conn, resolver: EntityResolver, entry: LoggedEntry, result: Extraction,
                     touched: "_Touched", stats: ProjectionStats) -> None:
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
            touched.entities.add(entity_id)
        for fact in result.facts:
            if self._write_fact(conn, resolver, entry, fact, touched):
                stats.relationships += 1
        if self._write_episode(conn, entry, result, touched):
            stats.episodes += 1

    def _write_fact(self, conn, resolver: EntityResolver, entry: LoggedEntry, fact: Fact, touched) -> bool:
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
             fact.text, fact.valid_from, fact.confidence, self.extractor.version),
        ).fetchone()
        conn.execute(
            "INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            " VALUES (%s, 'relationship', %s, %s, %s) ON CONFLICT DO NOTHING",
            (entry.agent_id, rel_id, entry.session_id, entry.entry_id),
        )
        if not inserted:
            return False
        touched.relationships.add(rel_id)
        if fact.predicate in FUNCTIONAL_PREDICATES and fact.valid_from is not None:
            # Closes only older facts with the same subject and relation (graphiti#1728).
            closed = conn.execute(
                "UPDATE relationships SET valid_to = %s WHERE agent_id = %s AND subject_id = %s"
                " AND predicate = %s AND object_key <> %s AND valid_to IS NULL AND valid_from < %s"
                " RETURNING id",
                (fact.valid_from, entry.agent_id, subject_id, fact.predicate, object_key, fact.valid_from),
            ).fetchall()
            touched.relationships.update(r[0] for r in closed)
        # An entity's summary says what it is: from "is_a" facts, or the fact that introduced it.
        described = subject_id if fact.predicate == "is_a" else object_id
        if described is not None:
            only_first = "" if fact.predicate == "is_a" else " AND summary IS NULL"
            conn.execute(
                "UPDATE entities SET summary = %s, summary_session_id = %s, summary_entry_id = %s"
                f" WHERE id = %s AND agent_id = %s{only_first}",
                (fact.text, entry.session_id, entry.entry_id, described, entry.agent_id),
            )
            touched.entities.add(described)
        return True

    def _write_episode(self, conn, entry: LoggedEntry, result: Extraction, touched) -> bool:
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
                 entry.role == "assistant", entry.occurred_at, self.extractor.version),
            ).fetchone()[0]
            created = True
        conn.execute(
            "INSERT INTO provenance (agent_id, item_kind, item_id, session_id, entry_id)"
            " VALUES (%s, 'episode', %s, %s, %s)",
            (entry.agent_id, episode_id, entry.session_id, entry.entry_id),
        )
        touched.episode_lines[episode_id][entry.seq] = (entry.speaker, result.annotated_text)
        touched.episode_keys.append((entry, episode_id, f"{entry.speaker}: {result.annotated_text}"))
        touched.episodes.add(episode_id)
        return created

    # -- embeddings ---------------------------------------------------------------------

    def _embed(self, conn, agent_id: str, touched: "_Touched") -> None:
        """Re-render, count and embed every row this batch changed, in one model call."""
        jobs: list[tuple[str, int, str]] = []
        for episode_id in sorted(touched.episodes):
            jobs.append(("episodes", episode_id, self._episode_text(conn, agent_id, episode_id, touched)))
        if touched.relationships:
            for rid, fact, vf, vt in conn.execute(
                "SELECT id, fact, valid_from, valid_to FROM relationships WHERE agent_id = %s AND id = ANY(%s)",
                (agent_id, sorted(touched.relationships)),
            ):
                jobs.append(("relationships", rid, relationship_text(fact, vf, vt)))
        if touched.entities:
            for eid, name, kind, summary, aliases in conn.execute(
                "SELECT e.id, e.name, e.kind, e.summary, array(SELECT alias FROM entity_aliases a"
                "   WHERE a.agent_id = e.agent_id AND a.entity_id = e.id ORDER BY alias)"
                " FROM entities e WHERE e.agent_id = %s AND e.id = ANY(%s)",
                (agent_id, sorted(touched.entities)),
            ):
                jobs.append(("entities", eid, entity_text(name, kind, summary, aliases)))
        # Episodes are found through their per-turn keys, so their full text is counted, not embedded.
        embedded = [j for j in jobs if j[0] != "episodes"]
        vectors = self.embedder.encode([j[2] for j in embedded] + [k[2] for k in touched.episode_keys])
        for (entry, episode_id, _), vec in zip(touched.episode_keys, vectors[len(embedded):], strict=True):
            conn.execute(
                "INSERT INTO episode_keys (agent_id, session_id, entry_id, episode_id, embedding)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (entry.agent_id, entry.session_id, entry.entry_id, episode_id, vec),
            )
        tokens = dict(zip([(j[0], j[1]) for j in jobs], self.embedder.count_tokens([j[2] for j in jobs]), strict=True))
        # One UPDATE per row: each new row version is inserted into every index, HNSW included,
        # which costs ~10 ms per insert in a store of a million memories.
        for (table, row_id, _), vec in zip(embedded, vectors[: len(embedded)], strict=True):
            conn.execute(f"UPDATE {table} SET embedding = %s, tokens = %s WHERE id = %s AND agent_id = %s",
                         (vec, tokens[(table, row_id)], row_id, agent_id))
        for table, row_id, text in jobs:
            if table == "episodes":
                conn.execute("UPDATE episodes SET text = %s, tokens = %s WHERE id = %s AND agent_id = %s",
                             (text, tokens[(table, row_id)], row_id, agent_id))

    def _episode_text(self, conn, agent_id: str, episode_id: int, touched: "_Touched") -> str:
        # Lines for entries projected earlier (another batch) are rebuilt from the entry log;
        # their date annotations came from the same extractor, so we re-annotate them.
        rows = conn.execute(
            "SELECT en.seq, en.speaker, en.text, en.occurred_at, ep.occurred_at FROM provenance p"
            " JOIN entries en USING (agent_id, session_id, entry_id)"
            " JOIN episodes ep ON ep.id = p.item_id AND ep.agent_id = p.agent_id"
            " WHERE p.agent_id = %s AND p.item_kind = 'episode' AND p.item_id = %s ORDER BY en.seq",
            (agent_id, episode_id),
        ).fetchall()
        known = touched.episode_lines[episode_id]
        missing = [r for r in rows if r[0] not in known]
        if missing:
            inputs = [ExtractionInput(r[2], r[1], "", r[3]) for r in missing]
            for r, res in zip(missing, self.extractor.extract_batch(inputs), strict=True):
                known[r[0]] = (r[1], res.annotated_text)
        started = rows[0][4] if rows else None
        return episode_text(started, [known[r[0]] for r in rows])


class _Touched:
    def __init__(self):
        self.entities: set[int] = set()
        self.relationships: set[int] = set()
        self.episodes: set[int] = set()
        self.episode_keys: list[tuple[LoggedEntry, int, str]] = []  # (entry, episode id, key text)
        # episode id → {seq: (speaker, annotated text)} for entries projected in this batch
        self.episode_lines: defaultdict[int, dict[int, tuple[str, str]]] = defaultdict(dict)

    def merge(self, other: "_Touched") -> None:
        self.entities |= other.entities
        self.relationships |= other.relationships
        self.episodes |= other.episodes
        self.episode_keys += other.episode_keys
        for episode_id, lines in other.episode_lines.items():
            self.episode_lines[episode_id].update(lines)


def _mark(conn, entry: LoggedEntry, status: str, error: str | None, version: int) -> None:
    """Record an extraction attempt; the ``MAX_EXTRACTION_ATTEMPTS``-th failure dead-letters the entry."""
    conn.execute(
        "INSERT INTO entry_extraction (agent_id, session_id, entry_id, status, attempts, error, extractor_version)"
        " VALUES (%s, %s, %s, %s, 1, %s, %s)"
        " ON CONFLICT (agent_id, session_id, entry_id) DO UPDATE SET"
        " status = CASE WHEN EXCLUDED.status = 'failed' AND entry_extraction.attempts + 1 >= %s THEN 'dead'"
        "               ELSE EXCLUDED.status END,"
        " attempts = entry_extraction.attempts + 1, error = EXCLUDED.error,"
        " extractor_version = EXCLUDED.extractor_version, updated_at = now()",
        (entry.agent_id, entry.session_id, entry.entry_id, status, error, version, MAX_EXTRACTION_ATTEMPTS),
    )
