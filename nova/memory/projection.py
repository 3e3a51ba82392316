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
from contextlib import nullcontext
from dataclasses import dataclass, field

import psycopg

from nova.memory.embed import Embedder, ingest_vectors
from nova.memory.entities import EntityResolver, aliases_of
from nova.memory.entry_log import LoggedEntry, mark_done, mark_extraction
from nova.memory.extract import Extraction, ExtractionInput, Extractor
from nova.memory.extract_ahead import ExtractAhead
from nova.memory.forget_one import ForgottenMemoryRules
from nova.memory.texts import entity_text, episode_text, relationship_text
from nova.memory.writes import ChangedRows, WriteCounts, write_entry

__all__ = ["ProjectionStats", "Projector", "extraction_input"]

log = logging.getLogger(__name__)


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


def extraction_input(entry: LoggedEntry) -> ExtractionInput:
    """What extraction reads of a logged entry."""
    return ExtractionInput(entry.text, entry.speaker, entry.addressee, entry.occurred_at, entry.role)


class Projector:
    """Extraction, then the rows it becomes (``nova.memory.writes``), then one embedding call for
    every row the batch changed (the static tier's when the embedder has one, else the dense model's)."""

    def __init__(self, extractor: Extractor, embedder: Embedder):
        self.extractor = extractor
        self.embedder = embedder

    def prepare(self) -> None:
        """Nothing to load: the models were given. (A lazy projector loads them here.)"""

    def project(self, conn: psycopg.Connection, agent_id: str, entries: list[LoggedEntry],
                ahead: ExtractAhead | None = None, *, in_order: bool = False) -> ProjectionStats:
        """Extract and write derived rows for ``entries`` (one agent, any sessions). ``ahead``: a bulk
        run's workers, whose extractions of these entries are taken when they have them. ``in_order``:
        the entries come in the order to write them (a rebuild's, ``nova.memory.reextract.REBUILD_ORDER``);
        else they are written session by session, each in transcript order."""
        stats = ProjectionStats()
        if not entries:
            return stats
        if not in_order:
            entries = sorted(entries, key=lambda e: (e.session_id, e.seq))
        results = self._extract(entries, ahead)
        resolver = EntityResolver(conn, agent_id, self.extractor.version)
        forgotten = ForgottenMemoryRules.load(conn, agent_id)
        start = resolver.savepoint()
        try:
            # The whole batch in one savepoint: a subtransaction per entry costs two round trips
            # each, and past 64 of them in a transaction PostgreSQL's snapshots overflow to pg_subtrans.
            with conn.transaction():
                changed, done = self._write(conn, resolver, entries, results, forgotten, stats, isolate=False)
        except Exception:
            # Some entry's rows were refused: the batch again, each entry in a savepoint of its own, so
            # that only that entry fails (and is retried by the next run).
            resolver.rollback_to(start)
            stats = ProjectionStats()
            changed, done = self._write(conn, resolver, entries, results, forgotten, stats, isolate=True)
        stats.entities += resolver.created
        for error in stats.errors:  # logged once, after the pass that counts (a redo would log twice)
            log.warning("extraction failed for %s", error)
        mark_done(conn, done, self.extractor.version)
        self._embed(conn, agent_id, changed)
        return stats

    def _write(self, conn, resolver: EntityResolver, entries: list[LoggedEntry], results: list,
               forgotten: ForgottenMemoryRules, stats: ProjectionStats, isolate: bool
               ) -> tuple[ChangedRows, list[LoggedEntry]]:
        """Write each entry's rows; returns what changed (to embed) and the entries done. ``isolate``:
        each entry in a savepoint, a failing one recorded as failed; else a failure while writing
        raises (the caller's savepoint takes the batch back)."""
        changed = ChangedRows()
        done: list[LoggedEntry] = []
        for entry, result in zip(entries, results, strict=True):
            # What one entry writes is kept apart until it is written: a failing entry must leave no
            # entity id in the resolver's cache, no row to embed and no count behind.
            mark, written, counts = resolver.savepoint(), ChangedRows(), WriteCounts()
            try:
                if isinstance(result, Exception):  # extraction failed: nothing was written for it
                    raise result
                with conn.transaction() if isolate else nullcontext():
                    self._write_one(conn, resolver, entry, result, written, counts, forgotten)
            except Exception as err:  # recorded and retried next run, never dropped
                if not isolate and not isinstance(result, Exception):
                    raise
                resolver.rollback_to(mark)
                message = f"{type(err).__name__}: {err}"[:1000]
                mark_extraction(conn, entry, "failed", message, self.extractor.version)
                stats.failed += 1
                stats.errors.append(f"{entry.session_id}/{entry.entry_id}: {message}")
                continue
            changed.merge(written)
            done.append(entry)
            stats.episodes += counts.episodes
            stats.relationships += counts.relationships
            stats.done += 1
        return changed, done

    def _write_one(self, conn, resolver: EntityResolver, entry: LoggedEntry, result: Extraction,
                   written: ChangedRows, counts: WriteCounts, forgotten: ForgottenMemoryRules) -> None:
        # Speakers exist before anyone mentions them by first name or nickname.
        for name in (entry.speaker, entry.addressee):
            known = resolver.created, resolver.aliased
            entity_id = resolver.resolve(name, "person", seen_at=entry.occurred_at)
            # A new person gets its vectors like any entity; a known one is re-embedded when it gained
            # an alias ("Dan" for Daniel): its text names up to three, and its vector and token count follow it.
            if (resolver.created, resolver.aliased) != known:
                written.entities.add(entity_id)
        write_entry(conn, resolver, entry, result, written, counts, self.extractor.version, forgotten)

    def _extract(self, entries: list[LoggedEntry], ahead: ExtractAhead | None) -> list[Extraction | Exception]:
        inputs = [extraction_input(e) for e in entries]
        done = ahead.take(inputs) if ahead is not None else [None] * len(inputs)
        here = iter(self._extract_here([i for i, d in zip(inputs, done) if d is None]))
        return [d if d is not None else next(here) for d in done]

    def _extract_here(self, inputs: list[ExtractionInput]) -> list[Extraction | Exception]:
        if not inputs:
            return []
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

    # -- embeddings ---------------------------------------------------------------------

    def _embed(self, conn, agent_id: str, changed: ChangedRows) -> None:
        """Re-render, count and embed every row this batch changed, in one model call; the writes go
        as one pipeline per statement (``executemany``), not a round trip per row."""
        jobs: list[tuple[str, int, str]] = [
            ("episodes", episode_id, text) for episode_id, text in self._episode_texts(conn, agent_id, changed)]
        if changed.relationships:
            for rid, fact, vf, vt in conn.execute(
                "SELECT id, fact, valid_from, valid_to FROM relationships WHERE agent_id = %s AND id = ANY(%s)",
                (agent_id, sorted(changed.relationships)),
            ):
                jobs.append(("relationships", rid, relationship_text(fact, vf, vt)))
        if changed.entities:
            for eid, name, kind, summary, aliases in conn.execute(
                f"SELECT e.id, e.name, e.kind, e.summary, {aliases_of('e')}"
                " FROM entities e WHERE e.agent_id = %s AND e.id = ANY(%s)",
                (agent_id, sorted(changed.entities)),
            ):
                jobs.append(("entities", eid, entity_text(name, kind, summary, aliases)))
        # Episodes are found through their per-turn keys, so their full text is counted, not embedded.
        embedded = [j for j in jobs if j[0] != "episodes"]
        texts = [j[2] for j in embedded] + [k[2] for k in changed.episode_keys]
        dense, static = ingest_vectors(self.embedder, texts)
        n = len(embedded)
        tokens = dict(zip([(j[0], j[1]) for j in jobs], self.embedder.count_tokens([j[2] for j in jobs]), strict=True))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO episode_keys (agent_id, session_id, entry_id, episode_id, embedding, static_embedding, key_text)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(entry.agent_id, entry.session_id, entry.entry_id, episode_id, vec, svec, text)
                 for (entry, episode_id, text), vec, svec in zip(changed.episode_keys, dense[n:], static[n:], strict=True)],
            )
            # One UPDATE per row: each new row version is inserted into every index, HNSW included,
            # which costs ~10 ms per insert in a store of a million memories. Both tiers are written:
            # the text changed, so the other tier's vector (if any) is stale and goes. A row whose text
            # did not change (an entity mentioned again: most of them) keeps its row version and its
            # dense vector: the vector this batch computed and the token count are both what it has.
            # (The static model is deterministic, so with that tier this skips every unchanged text.)
            same = "static_embedding" if self.embedder.static is not None else "embedding"
            compared = "static" if self.embedder.static is not None else "dense"
            for table in ("relationships", "entities"):
                rows = [{"dense": vec, "static": svec, "tokens": tokens[(t, row_id)], "id": row_id, "agent": agent_id}
                        for (t, row_id, _), vec, svec in zip(embedded, dense[:n], static[:n], strict=True) if t == table]
                cur.executemany(
                    f"UPDATE {table} SET embedding = %(dense)s, static_embedding = %(static)s, tokens = %(tokens)s"
                    f" WHERE id = %(id)s AND agent_id = %(agent)s AND (tokens IS DISTINCT FROM %(tokens)s"
                    f"  OR {same} IS DISTINCT FROM %({compared})s)", rows)
            cur.executemany("UPDATE episodes SET text = %s, tokens = %s WHERE id = %s AND agent_id = %s",
                            [(text, tokens[(table, row_id)], row_id, agent_id)
                             for table, row_id, text in jobs if table == "episodes"])

    def _episode_texts(self, conn, agent_id: str, changed: ChangedRows) -> list[tuple[int, str]]:
        """(episode id, full text) for every episode the batch changed, in id order, read in one query.
        Lines for entries projected earlier (another batch) are rebuilt from the entry log; their date
        annotations came from the same extractor, so they are annotated again (in one batch)."""
        if not changed.episodes:
            return []
        lines: defaultdict[int, list[tuple]] = defaultdict(list)
        started: dict[int, object] = {}
        for episode_id, seq, speaker, text, at, role, episode_at in conn.execute(
            "SELECT p.item_id, en.seq, en.speaker, en.text, en.occurred_at, en.role, ep.occurred_at FROM provenance p"
            " JOIN entries en USING (agent_id, session_id, entry_id)"
            " JOIN episodes ep ON ep.id = p.item_id AND ep.agent_id = p.agent_id"
            " WHERE p.agent_id = %s AND p.item_kind = 'episode' AND p.item_id = ANY(%s) ORDER BY p.item_id, en.seq",
            (agent_id, sorted(changed.episodes)),
        ):
            lines[episode_id].append((seq, speaker, text, at, role))
            started[episode_id] = episode_at
        missing = [(episode_id, line) for episode_id, rows in lines.items() for line in rows
                   if line[0] not in changed.episode_lines[episode_id]]
        if missing:
            inputs = [ExtractionInput(text, speaker, "", at, role) for _, (_, speaker, text, at, role) in missing]
            for (episode_id, (seq, speaker, _, _, _)), res in zip(
                    missing, self.extractor.extract_batch(inputs), strict=True):
                changed.episode_lines[episode_id][seq] = (speaker, res.annotated_text)
        return [(episode_id, episode_text(started.get(episode_id),
                                          [changed.episode_lines[episode_id][line[0]] for line in lines.get(episode_id, [])]))
                for episode_id in sorted(changed.episodes)]
