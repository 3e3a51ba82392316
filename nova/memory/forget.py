"""``nova forget``: delete an agent's memories, or a session's, or everything before a time.

What is deleted: the entries in scope from the entry log, and every row derived from them. For a
whole agent, every row of NOVA's tables (``nova.store.migrations.AGENT_TABLES``). For a narrower scope
(``--session-key`` glob and/or ``--before``), the agent's entities, episodes and relationships
are rebuilt from the entries that remain (``nova.memory.reextract.rebuild_agent``), in the same
transaction: afterwards the agent's memories are what they would be had the forgotten entries
never been read, and recall never sees a half-forgotten state. It holds the agent lock, so the
service's ingest worker leaves that agent's live entries pending until it commits; recall and
bootstrap keep answering from the committed rows meanwhile.

Then, one table at a time, ``vacuum="plain"`` (the default) runs ``VACUUM (ANALYZE)``: dead rows
leave tables and indexes and their space is reused, with no lock that blocks readers or writers;
the bytes stay in free space until overwritten. ``vacuum="full"`` runs ``VACUUM (FULL, ANALYZE)``,
which rewrites each table and its indexes so the bytes leave the data files, holding an exclusive
lock on the table it rewrites (HNSW rebuilds take the longest; see docs/security.md for figures).

A scope is recorded in table ``forgotten`` (agent, glob, cut-off; no content), and the session
ids it emptied in ``forgotten_sessions``: catch-up and the memory-extract hook skip entries they
cover, so a transcript still on disk is not remembered again, under its key or any other it may
later be filed under. Transcripts themselves are OpenClaw's files; docs/security.md says how to delete them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg

from nova.store.migrations import AGENT_TABLES
from nova.store.locks import OPERATOR_WAIT_S, agent_lock

__all__ = ["ForgetScope", "ForgetReport", "VACUUM_MODES", "forget"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForgetScope:
    """What to forget: all of ``agent_id``'s entries whose session key matches ``session_key``
    (a glob, ``*`` matching any run of characters including ``:``; None = every session) and
    that occurred before ``before`` (None = now). Entries without a time count as before."""

    agent_id: str
    session_key: str | None = None
    before: datetime | None = None

    @property
    def whole_agent(self) -> bool:
        return self.session_key is None and self.before is None


@dataclass
class ForgetReport:
    scope: ForgetScope
    entries: int = 0                       # entries deleted from the log
    rows: dict[str, int] = field(default_factory=dict)   # table → rows deleted (whole agent)
    rebuilt_entries: int = 0               # remaining entries re-extracted (narrow scope)
    vacuumed: str | None = None            # "plain" or "full": which VACUUM ran afterwards
    vacuum_seconds: float = 0.0
    seconds: float = 0.0


def agent_tables(conn: psycopg.Connection) -> list[str]:
    """NOVA's tables that hold an agent's rows (``nova.store.migrations.AGENT_TABLES``) that exist in this database."""
    present = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'agent_id'")}
    return [t for t in AGENT_TABLES if t in present]


VACUUM_MODES = ("plain", "full", "off")


def forget(store, scope: ForgetScope, *, projector_factory=None, vacuum: str = "plain", progress=None,
           redactor=None, wait_s: float = OPERATOR_WAIT_S, after_commit=None) -> ForgetReport:
    """Forget ``scope``; see the module docstring. ``vacuum``: one of ``VACUUM_MODES``; ``wait_s``: how
    long to wait for another writer of the agent (a catch-up run) to finish. ``after_commit()`` runs
    once the forget has committed, before the vacuum (the CLI tells the service there).

    ``projector_factory()`` gives the projector a narrow scope rebuilds with (models load only then).

    Raises:
        RuntimeError: a catch-up or re-extraction is working on the agent (try again later).
        ValueError: a narrow scope without ``projector_factory``, or an unknown ``vacuum``.
    """
    import time

    from nova.memory.reextract import rebuild_whole_agent, session_keys_matching

    started = time.monotonic()
    report = ForgetReport(scope)
    cut_off = scope.before or datetime.now(timezone.utc)
    agent = scope.agent_id
    if vacuum not in VACUUM_MODES:
        raise ValueError(f"vacuum must be one of {', '.join(VACUUM_MODES)}, not {vacuum!r}")
    if not scope.whole_agent and projector_factory is None:
        raise ValueError("forgetting part of an agent rebuilds its memories: a projector is needed")
    # Load models (and let the store ensure its vector indexes) before the transaction holds row locks.
    projector = None if scope.whole_agent else projector_factory()
    with store.connection() as conn, agent_lock(conn, agent, wait_s) as locked:
        if not locked:
            raise RuntimeError(f"a catch-up or re-extraction is working on agent {agent} (waited {wait_s:.0f} s);"
                               " try again when it is done")
        with conn.transaction():
            if scope.whole_agent:
                report.entries = conn.execute("SELECT count(*) FROM entries WHERE agent_id = %s", (agent,)).fetchone()[0]
                for table in agent_tables(conn):
                    report.rows[table] = conn.execute(f"DELETE FROM {table} WHERE agent_id = %s", (agent,)).rowcount
                # The one rule recorded below covers every entry before now, in any session: the earlier
                # records (session keys that name peers, hashes of fact texts) are no longer needed.
                for table in ("forgotten", "forgotten_memories", "forgotten_sessions"):
                    conn.execute(f"DELETE FROM {table} WHERE agent_id = %s", (agent,))
            else:
                keys = session_keys_matching(conn, agent, scope.session_key)
                emptied = conn.execute(
                    "DELETE FROM entries WHERE agent_id = %s AND session_key = ANY(%s)"
                    " AND (occurred_at IS NULL OR occurred_at < %s) RETURNING session_id",
                    (agent, keys, cut_off)).fetchall()
                report.entries = len(emptied)
                # Tombstones by session id: the transcript may come back under another key (rotated out of
                # sessions.json, renamed, copied to the SQLite store), and must stay forgotten there too.
                conn.cursor().executemany(
                    "INSERT INTO forgotten_sessions (agent_id, session_id, before) VALUES (%s, %s, %s)"
                    " ON CONFLICT (agent_id, session_id) DO UPDATE SET before = greatest(forgotten_sessions.before,"
                    " EXCLUDED.before), forgotten_at = now()",
                    [(agent, sid, cut_off) for sid in sorted({r[0] for r in emptied})])
                if scope.before is None:  # whole sessions: their registrations and cursors go too
                    gone = [s for (s,) in conn.execute(
                        "SELECT session_id FROM sessions s WHERE agent_id = %s AND session_key = ANY(%s)"
                        " AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.agent_id = s.agent_id AND e.session_id = s.session_id)",
                        (agent, keys))]
                    for table in ("transcript_cursors", "sessions"):
                        conn.execute(f"DELETE FROM {table} WHERE agent_id = %s AND session_id = ANY(%s)", (agent, gone))
                # Only the names no remaining entry has: the rows of names still spoken stay unlocked,
                # so the service logging a live message meanwhile does not wait on them.
                conn.execute(
                    "DELETE FROM agent_speakers s WHERE agent_id = %s AND NOT EXISTS (SELECT 1 FROM entries e"
                    " WHERE e.agent_id = s.agent_id AND (e.speaker = s.name OR e.addressee = s.name))", (agent,))
                conn.execute("DELETE FROM reextract_progress WHERE agent_id = %s", (agent,))
                # Profiles served to sessions may quote what is forgotten: gone in the same commit.
                conn.execute("DELETE FROM session_profiles WHERE agent_id = %s", (agent,))
                report.rebuilt_entries = rebuild_whole_agent(conn, projector, agent, progress, redactor)
            # Recorded last, at the clock's time, not the transaction's start: every session profile
            # served before this commit is older than it, and is rebuilt at its next bootstrap
            # (nova.recall.profile reads them that way), without this transaction locking those rows, so
            # bootstraps meanwhile are served from what is committed.
            conn.execute("INSERT INTO forgotten (agent_id, session_key, before, forgotten_at)"
                         " VALUES (%s, %s, %s, clock_timestamp())", (agent, scope.session_key, cut_off))
    if after_commit is not None:
        after_commit()
    if vacuum != "off":
        vacuum_started = time.monotonic()
        with store.connection() as conn:
            with conn.transaction():
                tables = agent_tables(conn)
            conn.autocommit = True  # VACUUM cannot run in a transaction
            try:
                for table in tables:  # one table at a time: FULL locks only the table it rewrites
                    conn.execute(f"VACUUM ({'FULL, ' if vacuum == 'full' else ''}ANALYZE) {table}")
            finally:
                conn.autocommit = False
        report.vacuumed = vacuum
        report.vacuum_seconds = time.monotonic() - vacuum_started
    report.seconds = time.monotonic() - started
    log.info("forgot %s: %d entries in %.1f s", scope, report.entries, report.seconds)
    return report
