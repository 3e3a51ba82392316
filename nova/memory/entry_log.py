"""The entry log: transcript entries as NOVA stores them (table ``entries``, immutable) and each one's
extraction status (``entry_extraction``). Catch-up and live entries append to it; projection,
re-extraction and forget read it. Nothing derived is ever read back from a transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

__all__ = ["LoggedEntry", "ENTRY_COLUMNS", "entry_columns", "append_entry", "append_entries", "remember_speakers",
           "fetch_entries", "mark_extraction", "mark_done", "LIVE_ENTRY_PREFIX", "MAX_EXTRACTION_ATTEMPTS"]

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


ENTRY_COLUMNS = "agent_id, session_id, entry_id, seq, session_key, role, speaker, addressee, text, occurred_at"


def entry_columns(alias: str) -> str:
    """``ENTRY_COLUMNS`` of the ``entries`` row aliased ``alias`` (for joins), in ``LoggedEntry``'s order."""
    return ", ".join(f"{alias}.{c}" for c in ENTRY_COLUMNS.split(", "))


def append_entry(conn: psycopg.Connection, row: LoggedEntry, *, parent_id: str | None, channel: str | None,
                 source_file: str, live: bool = False) -> bool:
    """Add ``row`` to the entry log with extraction status ``pending``; False when its id is there already."""
    return bool(append_entries(conn, [(row, parent_id, channel)], source_file=source_file, live=live))


def append_entries(conn: psycopg.Connection, rows: list[tuple[LoggedEntry, str | None, str | None]], *,
                   source_file: str, live: bool = False) -> set[str]:
    """Add ``(row, parent id, channel)`` of one transcript to the entry log, each with extraction
    status ``pending``, in one statement; returns the entry ids that were not there yet."""
    if not rows:
        return set()
    columns = list(zip(*[(r.agent_id, r.session_id, r.entry_id, r.seq, r.session_key, r.role, r.speaker,
                          r.addressee, r.text, r.occurred_at, parent_id, channel) for r, parent_id, channel in rows]))
    return {r[0] for r in conn.execute(
        f"WITH new AS (INSERT INTO entries ({ENTRY_COLUMNS}, parent_id, channel, source_file, live)"
        "  SELECT *, %s, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[],"
        "   %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])"
        "  ON CONFLICT DO NOTHING RETURNING agent_id, session_id, entry_id)"
        " INSERT INTO entry_extraction (agent_id, session_id, entry_id, status)"
        " SELECT agent_id, session_id, entry_id, 'pending' FROM new RETURNING entry_id",
        (source_file, live, *[list(c) for c in columns]),
    )}


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


def mark_extraction(conn: psycopg.Connection, entry: LoggedEntry, status: str, error: str | None, version: int) -> None:
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


def mark_done(conn: psycopg.Connection, entries: list[LoggedEntry], version: int) -> None:
    """``mark_extraction(..., "done", ...)`` for many entries in one statement."""
    if entries:
        conn.execute(
            "INSERT INTO entry_extraction (agent_id, session_id, entry_id, status, attempts, extractor_version)"
            " SELECT agent_id, session_id, entry_id, 'done', 1, %s FROM unnest(%s::text[], %s::text[], %s::text[])"
            "  AS t(agent_id, session_id, entry_id)"
            " ON CONFLICT (agent_id, session_id, entry_id) DO UPDATE SET status = 'done',"
            " attempts = entry_extraction.attempts + 1, error = NULL,"
            " extractor_version = EXCLUDED.extractor_version, updated_at = now()",
            (version, [e.agent_id for e in entries], [e.session_id for e in entries], [e.entry_id for e in entries]),
        )
