"""The dense pass: the dense model's vectors for memories that so far have only their static vector.

With the static tier (``nova.memory.static_embed``) a memory's transaction writes its static vector
and leaves ``embedding`` NULL, so ingest never waits on the dense model (about 100 texts/s on two
cores). This pass fills the dense vectors in behind: ``nova serve`` and ``nova watch`` run it when
idle, ``nova catchup`` / ``nova reextract`` at their tail. It is resumable and idempotent: what is
pending is exactly the rows whose ``embedding`` is NULL, so a killed pass loses at most one batch
of work and a second pass over a complete store does nothing.

Each round reads up to eight batches of pending rows and encodes them ``batch`` at a time outside any
transaction (the next batch encodes on a thread while the one before is written, so the pass runs at
about the dense model's own batched rate), writing each batch in one short transaction. It never
waits on a writer: rows a writer holds are skipped (``FOR UPDATE SKIP LOCKED``), and a vector is
written only when the row's text is still the text that was encoded (a writer that re-rendered it
in between left it pending again, and a later round takes it). Writers never wait on it for longer
than that one write. No agent lock is taken: catch-up holds its agent's lock for minutes.

The same pass recomputes static vectors when the store has rows without them (the static tier
turned on for an existing store, or another static model: ``nova_meta.static_fill``).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import psycopg

from nova.memory.embed import Embedder
from nova.memory.entities import aliases_of
from nova.memory.texts import entity_text, relationship_text

__all__ = ["FillStats", "fill_vectors", "fill_static", "static_fill_pending", "pending_dense", "has_pending_dense",
           "last_fill_rate"]

log = logging.getLogger(__name__)

# Per table: how a row's text is read (id, text parts), rendered and matched back. Episode keys are
# per transcript entry (their text never changes); relationships and entities are re-rendered by
# projection when a fact closes or an entity gains a summary or an alias.
_TABLES = ("episode_keys", "relationships", "entities")
_READ_AHEAD = 8  # batches read at once: the next batch encodes while this one is written


@dataclass
class FillStats:
    """What one ``fill_vectors`` call did."""

    dense: int = 0                 # dense vectors written
    static: int = 0                # static vectors written (static_fill)
    skipped: int = 0               # rows a writer changed or held while they were encoded (taken again later)
    seconds: float = 0.0

    def merge(self, other: "FillStats") -> "FillStats":
        self.dense += other.dense
        self.static += other.static
        self.skipped += other.skipped
        self.seconds += other.seconds
        return self

    @property
    def texts_per_s(self) -> float:
        return self.dense / self.seconds if self.seconds else 0.0


def pending_dense(conn: psycopg.Connection, agent_id: str | None = None) -> dict[str, int]:
    """``{agent: rows waiting for their dense vector}`` (entities, relationships, episode keys), agents with
    none left out. Reads the ``*_dense_pending`` partial indexes: cheap at any store size."""
    where = "embedding IS NULL" + (" AND agent_id = %(agent)s" if agent_id else "")
    rows = conn.execute(
        f"SELECT agent_id, sum(n)::bigint FROM ("
        + " UNION ALL ".join(f"SELECT agent_id, count(*) AS n FROM {t} WHERE {where} GROUP BY agent_id" for t in _TABLES)
        + ") x GROUP BY agent_id ORDER BY agent_id", {"agent": agent_id}).fetchall()
    return {agent: n for agent, n in rows if n}


def has_pending_dense(conn: psycopg.Connection, agent_id: str) -> bool:
    """Whether any memory of ``agent_id`` that recall can return waits for its dense vector (an entity
    counts only with a summary). One ``EXISTS`` per table over the partial indexes: for every recall."""
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM episode_keys WHERE agent_id = %(a)s AND embedding IS NULL)"
        " OR EXISTS (SELECT 1 FROM relationships WHERE agent_id = %(a)s AND embedding IS NULL)"
        " OR EXISTS (SELECT 1 FROM entities WHERE agent_id = %(a)s AND embedding IS NULL AND summary IS NOT NULL)",
        {"a": agent_id}).fetchone()[0]


def last_fill_rate(conn: psycopg.Connection) -> dict | None:
    """The last dense pass that wrote anything: ``{"texts_per_s", "texts", "at"}`` (``nova_meta``), or None."""
    row = conn.execute("SELECT value FROM nova_meta WHERE key = 'dense_fill_rate'").fetchone()
    return json.loads(row[0]) if row else None


def fill_vectors(conn: psycopg.Connection, embedder: Embedder, *, agent_id: str | None = None, batch: int = 256,
                 max_rows: int | None = None, stop: Callable[[], bool] | None = None,
                 progress: Callable[[int], None] | None = None) -> FillStats:
    """Fill pending dense vectors of ``agent_id``
    (default: every agent), ``batch`` texts per model call, until none are left, ``max_rows`` are done,
    or ``stop()`` (asked between batches). ``progress(n)``: called with the dense vectors each batch wrote.

    Runs its own short transactions on ``conn`` (which must not be inside one)."""
    stats = FillStats()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nova-dense-encode") as encoder:
        while max_rows is None or stats.dense < max_rows:
            want = batch * _READ_AHEAD if max_rows is None else min(batch * _READ_AHEAD, max_rows - stats.dense)
            rows = _pending(conn, "embedding", agent_id, want)
            if not rows:
                break
            batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
            written_now = 0
            # The model encodes the next batch on a thread while this one is written (torch leaves
            # the interpreter free while it computes): the pass runs at about the model's own rate.
            pending = encoder.submit(_encode, embedder, batches[0])
            for k, rows_k in enumerate(batches):
                vectors = pending.result()
                stopping = stop is not None and stop()
                if k + 1 < len(batches) and not stopping:
                    pending = encoder.submit(_encode, embedder, batches[k + 1])
                written = _write(conn, "embedding", rows_k, vectors, stats)
                stats.dense += written
                written_now += written
                if progress is not None:
                    progress(written)
                if stopping:
                    break
            if (stop is not None and stop()) or written_now == 0:
                break  # stopped, or every row changed under us: leave them to the next pass rather than spin
    stats.seconds = time.monotonic() - started
    if stats.dense:
        with conn.transaction():
            conn.execute("INSERT INTO nova_meta (key, value) VALUES ('dense_fill_rate', %s)"
                         " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                         (json.dumps({"texts_per_s": round(stats.texts_per_s, 1), "texts": stats.dense,
                                      "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}),))
    return stats


def _encode(embedder: Embedder, rows: list):
    return embedder.encode([r[3] for r in rows])


def static_fill_pending(conn: psycopg.Connection) -> bool:
    """Whether rows may lack their static vector (``nova_meta.static_fill``, set by
    ``nova.store.migrations.ensure_static_indexes``)."""
    with conn.transaction():
        return conn.execute("SELECT 1 FROM nova_meta WHERE key = 'static_fill'").fetchone() is not None


def fill_static(conn: psycopg.Connection, embedder: Embedder, *, batch: int = 2048,
                stop: Callable[[], bool] | None = None) -> FillStats:
    """Static vectors for every row without one, of every agent (each row's from its own text), then
    clear ``static_fill``. Runs once per static model, so it scans rather than keep an index."""
    stats = FillStats()
    started = time.monotonic()
    while stop is None or not stop():
        rows = _pending(conn, "static_embedding", None, batch)
        if not rows:
            with conn.transaction():
                conn.execute("DELETE FROM nova_meta WHERE key = 'static_fill'")
            break
        written = _write(conn, "static_embedding", rows, embedder.static.encode([r[3] for r in rows]), stats)
        stats.static += written
        if written == 0:
            break
    stats.seconds = time.monotonic() - started
    return stats


def _pending(conn, column: str, agent_id: str | None, limit: int) -> list[tuple[str, str, tuple, str]]:
    """Up to ``limit`` rows whose ``column`` is NULL: ``(table, agent, key, text)``, episode keys first."""
    out: list[tuple[str, str, tuple, str]] = []
    agent = " AND t.agent_id = %(agent)s" if agent_id else ""
    params = {"agent": agent_id}
    with conn.transaction():
        for table in _TABLES:
            left = limit - len(out)
            if left <= 0:
                break
            params["n"] = left
            if table == "episode_keys":
                sql = ("SELECT t.agent_id, t.session_id, t.entry_id, coalesce(t.key_text, e.speaker || ': ' || e.text)"
                       " FROM episode_keys t JOIN entries e USING (agent_id, session_id, entry_id)"
                       f" WHERE t.{column} IS NULL{agent} ORDER BY t.agent_id, t.session_id, t.entry_id LIMIT %(n)s")
                out += [(table, r[0], (r[1], r[2]), r[3]) for r in conn.execute(sql, params)]
            else:
                out += [(table, r[0], (r[1],), r[2]) for r in _texts(conn, table, f"t.{column} IS NULL{agent}", params,
                                                                      " ORDER BY t.agent_id, t.id LIMIT %(n)s")]
    return out


def _texts(conn, table: str, where: str, params: dict, tail: str = "") -> list[tuple[str, int, str]]:
    """``(agent, id, text)`` of relationships or entities matching ``where``, rendered as projection renders them."""
    if table == "relationships":
        return [(a, i, relationship_text(fact, vf, vt)) for a, i, fact, vf, vt in conn.execute(
            f"SELECT t.agent_id, t.id, t.fact, t.valid_from, t.valid_to FROM relationships t WHERE {where}{tail}", params)]
    return [(a, i, entity_text(name, kind, summary, aliases)) for a, i, name, kind, summary, aliases in conn.execute(
        f"SELECT t.agent_id, t.id, t.name, t.kind, t.summary, {aliases_of('t')} FROM entities t WHERE {where}{tail}",
        params)]


def _write(conn, column: str, rows: list, vectors, stats: FillStats) -> int:
    """Write each row's vector when its text is unchanged and no writer holds it; returns how many."""
    written = 0
    with conn.transaction():
        for table in _TABLES:
            mine = [(r, v) for r, v in zip(rows, vectors, strict=True) if r[0] == table]
            if not mine:
                continue
            if table == "episode_keys":
                # A key's text never changes; only a writer that holds it (a forget deleting it) matters.
                locked = {tuple(r) for r in conn.execute(
                    f"SELECT agent_id, session_id, entry_id FROM episode_keys WHERE (agent_id, session_id, entry_id)"
                    f" IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])) AND {column} IS NULL"
                    " FOR UPDATE SKIP LOCKED",
                    ([r[1] for r, _ in mine], [r[2][0] for r, _ in mine], [r[2][1] for r, _ in mine]))}
                todo = [(r, v) for r, v in mine if (r[1], *r[2]) in locked]
                conn.cursor().executemany(
                    f"UPDATE episode_keys SET {column} = %s WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
                    [(v, r[1], *r[2]) for r, v in todo])
            else:
                ids = [r[2][0] for r, _ in mine]
                # Lock first, then read the texts in a statement of its own: it sees every write that
                # committed before the lock was granted (an alias added to an entity included).
                locked = [i for (i,) in conn.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) AND {column} IS NULL"
                                                     " ORDER BY id FOR UPDATE SKIP LOCKED", (ids,))]
                now = {(a, i): text for a, i, text in _texts(conn, table, "t.id = ANY(%(ids)s)", {"ids": locked})}
                todo = [(r, v) for r, v in mine if now.get((r[1], r[2][0])) == r[3]]
                conn.cursor().executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s AND agent_id = %s",
                                          [(v, r[2][0], r[1]) for r, v in todo])
            written += len(todo)
            stats.skipped += len(mine) - len(todo)
    return written
