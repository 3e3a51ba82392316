"""Reading the per-agent SQLite transcript store of OpenClaw ≥ 2026.9.

Layout and schema come from the ``openclaw`` npm package (2026.9.6, ``dist/``:
``OPENCLAW_AGENT_SCHEMA_SQL``, ``transcript-payload``, ``session-cold-storage-*``):

- ``<state>/agents/<agentId>/agent/openclaw-agent.sqlite`` (WAL mode)
  - ``session_windows(session_id PK, session_key, …)``: one row per transcript generation.
  - ``transcript_events(session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, …)``:
    one event per row, the same JSON objects as a JSONL transcript line. A large event may be
    stored zstd-compressed in ``event_zstd`` (``event_json`` NULL, ``event_utf8_bytes`` its size).
  - ``session_transcript_cold_archives(session_id, generation, archive_name, last_seq, storage,
    archive_blob, …)``: a cooled transcript whose events left ``transcript_events``. The archive
    is ``<state>/agents/<agentId>/sessions/cold/<sha256>.jsonl.zst`` (``storage = 'file'``) or
    the blob itself (``'sqlite'``): zstd of JSONL records ``{kind: "header"|"event"|…}``, the
    ``event`` records holding ``row: {seq, event_json, created_at}``.
  - ``transcript_rewrite_watermarks(session_id, generation)``: bumped when a transcript is rewritten.

We open the database read-only (``mode=ro``) with one short read transaction per call: in WAL
mode a reader never blocks the gateway's writer. A session's hot rows and its cold archive
share one cursor (``sqlite:<session_id>``, position = next seq), so cooling a session that
catch-up already read costs nothing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from nova.ingest.transcripts_jsonl import ReadResult, collect_entries

__all__ = ["DB_RELATIVE_PATH", "SqliteTranscript", "agent_db_path", "list_sqlite_transcripts", "read_sqlite_index"]

log = logging.getLogger(__name__)

DB_RELATIVE_PATH = Path("agent") / "openclaw-agent.sqlite"
_MAX_EVENT_BYTES = 4 * 1024 * 1024       # OpenClaw's own bound on one event
_MAX_COLD_ARCHIVE_BYTES = 64 * 1024 * 1024


def agent_db_path(state_dir: Path, agent_id: str) -> Path:
    return state_dir / "agents" / agent_id / DB_RELATIVE_PATH


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _decompress(blob: bytes, size: int | None, limit: int) -> bytes:
    import zstandard

    if size is not None and (size < 1 or size > limit):
        raise ValueError(f"compressed payload claims {size} bytes (limit {limit})")
    return zstandard.ZstdDecompressor().decompress(bytes(blob), max_output_size=size or limit)


@dataclass(frozen=True)
class SqliteTranscript:
    """One session of the SQLite store: hot rows, or its cold archive once cooled.

    A ``nova.ingest.sources.TranscriptStream``: positions are event seqs (``end`` = last seq + 1),
    an entry's ``seq`` is its event's seq.
    """

    agent_id: str
    session_id: str
    db_path: Path
    state: str                # "live" (hot rows) or "cold"
    last_seq: int | None      # highest seq, None when the session has no events
    generation: str           # rewrite watermark / cold generation: a change means a rewrite
    cold_archive: str | None = None
    cold_storage: str | None = None

    @property
    def name(self) -> str:
        return f"sqlite:{self.session_id}"

    @property
    def path(self) -> Path:
        return self.db_path

    def end(self) -> int:
        return 0 if self.last_seq is None else self.last_seq + 1

    def fingerprint(self, offset: int) -> str:
        # Seqs only grow within a generation; OpenClaw bumps the generation when it rewrites.
        return f"gen:{self.generation}" if offset > 0 else ""

    def read(self, offset: int, line_no: int, max_entries: int | None = None) -> ReadResult:
        events = ((raw, seq, seq + 1) for seq, raw in self._events(offset))
        return collect_entries(events, offset, offset, max_entries)


    # -- events --------------------------------------------------------------------------

    def _events(self, from_seq: int):
        """``(seq, event JSON bytes)`` from ``from_seq`` on; an undecodable row gives None (logged with its
        seq, and counted ``undecodable`` by ``nova.ingest.transcripts_jsonl.parse_line``)."""
        if self.state == "cold":
            yield from self._cold_events(from_seq)
            return
        with closing(_connect(self.db_path)) as conn:
            compressed = "event_zstd" in _columns(conn, "transcript_events")
            cols = "seq, event_json, event_zstd, event_utf8_bytes" if compressed else "seq, event_json, NULL, NULL"
            # Read in pages so no read transaction stays open across extraction.
            while True:
                rows = conn.execute(
                    f"SELECT {cols} FROM transcript_events WHERE session_id = ? AND seq >= ?"
                    " AND typeof(seq) = 'integer' ORDER BY seq LIMIT 512",
                    (self.session_id, from_seq),
                ).fetchall()
                for seq, text, blob, size in rows:
                    yield seq, self._payload(seq, text, blob, size)
                if len(rows) < 512:
                    return
                from_seq = rows[-1][0] + 1

    def _payload(self, seq: int, text, blob, size) -> bytes | None:
        # SQLite keeps whatever type a row was given: anything but text or a blob is undecodable.
        if isinstance(text, str):
            return text.encode("utf-8", "replace")
        if isinstance(text, bytes):
            return text
        if not isinstance(blob, bytes):
            log.warning("event %s/%s seq %s has no JSON text or compressed blob (%s); skipped", self.agent_id,
                        self.session_id, seq, type(text).__name__)
            return None
        try:
            return _decompress(blob, size if isinstance(size, int) else None, _MAX_EVENT_BYTES)
        except Exception as err:  # counted as a skipped line, never fatal
            log.warning("cannot decode compressed event %s/%s seq %s: %s", self.agent_id, self.session_id, seq, err)
            return None

    def _cold_events(self, from_seq: int):
        try:
            raw = self._cold_bytes()
            text = _decompress(raw, None, _MAX_COLD_ARCHIVE_BYTES)
        except Exception as err:
            log.warning("cannot read cold archive of %s/%s: %s", self.agent_id, self.session_id, err)
            return
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            row = record.get("row") if isinstance(record, dict) and record.get("kind") == "event" else None
            if isinstance(row, dict) and isinstance(row.get("seq"), int) and row["seq"] >= from_seq:
                event = row.get("event_json")
                yield row["seq"], event.encode("utf-8") if isinstance(event, str) else None

    def _cold_bytes(self) -> bytes:
        if self.cold_storage == "sqlite":
            with closing(_connect(self.db_path)) as conn:
                row = conn.execute(
                    "SELECT archive_blob FROM session_transcript_cold_archives WHERE session_id = ?", (self.session_id,)
                ).fetchone()
            if row is None or row[0] is None:
                raise FileNotFoundError("cold archive row vanished")
            return bytes(row[0])
        name = self.cold_archive or ""
        if "/" in name or not name.endswith(".jsonl.zst"):
            raise ValueError(f"invalid cold archive name {name!r}")
        return (self.db_path.parent.parent / "sessions" / "cold" / name).read_bytes()


def list_sqlite_transcripts(state_dir: Path, agent_id: str) -> list[SqliteTranscript]:
    """Every session of the agent's SQLite store (hot and cold); [] without a store.

    Raises:
        sqlite3.DatabaseError: the file exists but is not a readable OpenClaw store.
    """
    path = agent_db_path(state_dir, agent_id)
    if not path.is_file():
        return []
    with closing(_connect(path)) as conn:
        if not _has_table(conn, "session_windows") or not _has_table(conn, "transcript_events"):
            return []
        conn.execute("BEGIN")
        hot = conn.execute(
            "SELECT w.session_id, (SELECT max(seq) FROM transcript_events e WHERE e.session_id = w.session_id"
            "  AND typeof(e.seq) = 'integer') FROM session_windows w"
            " WHERE typeof(w.session_id) = 'text' AND w.session_id <> '' ORDER BY w.created_at, w.session_id"
        ).fetchall()
        marks = dict(conn.execute("SELECT session_id, generation FROM transcript_rewrite_watermarks").fetchall()) \
            if _has_table(conn, "transcript_rewrite_watermarks") else {}
        cold = {
            r[0]: _cold_row(*r[1:]) for r in conn.execute(
                "SELECT session_id, generation, archive_name, last_seq, storage FROM session_transcript_cold_archives"
            )
        } if _has_table(conn, "session_transcript_cold_archives") else {}
        conn.execute("COMMIT")
    out = []
    for session_id, last_seq in hot:
        if session_id in cold:
            generation, archive, cold_last, storage = cold[session_id]
            out.append(SqliteTranscript(agent_id, session_id, path, "cold", cold_last, generation, archive, storage))
        else:
            out.append(SqliteTranscript(agent_id, session_id, path, "live", last_seq, str(marks.get(session_id) or "")))
    return out


def _cold_row(generation, archive, last_seq, storage) -> tuple:
    """A cold-archive row with the types the reader relies on (anything else: no archive to read)."""
    return (str(generation or ""), archive if isinstance(archive, str) else None,
            last_seq if isinstance(last_seq, int) else None, storage if isinstance(storage, str) else None)


def read_sqlite_index(state_dir: Path, agent_id: str) -> dict[str, str]:
    """``{session_id: session_key}`` from ``session_windows``; {} without a store."""
    path = agent_db_path(state_dir, agent_id)
    if not path.is_file():
        return {}
    try:
        with closing(_connect(path)) as conn:
            if not _has_table(conn, "session_windows"):
                return {}
            return {sid: key for sid, key in conn.execute("SELECT session_id, session_key FROM session_windows")
                    if isinstance(sid, str) and isinstance(key, str) and sid and key}
    except sqlite3.Error as err:
        log.warning("cannot read sessions from %s: %s", path, err)
        return {}
