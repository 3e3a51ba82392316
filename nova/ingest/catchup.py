"""Incremental catch-up: OpenClaw transcripts → entry log → projections.

For every agent and every transcript (JSONL files live and archived, and sessions of the SQLite
store; see ``nova.ingest.sources``), read the complete events after the transcript's cursor, keep the entries of sessions the filters allow, append them to the entry
log and advance the cursor in one transaction per chunk, then project the chunk in the next, so a
killed run resumes exactly where its last commit left off, without duplicates or gaps (entries
logged but not projected are projected first by the next run).

- A second run over unchanged files reads nothing and extracts nothing.
- An archived copy (``<id>.jsonl.reset.<iso>``) of a file already read resumes from the
  live file's cursor; entries are keyed by (agent, session, entry id), so nothing is stored twice.
- A rewritten or truncated file (its fingerprint before the cursor changed) is re-read from the
  start; known entries are skipped by id.
- Session keys named in ``sessions.json`` / ``session_windows`` are registered before any file
  is read, so an archive renamed later keeps its true key.
- Entries whose extraction failed earlier are retried first.
- Secrets are replaced (``nova.memory.redact``) before an entry enters the log, and entries that
  ``nova forget`` covers are not logged again (``nova.ingest.filters.ForgetRules``).
- A large run extracts ahead (``nova.memory.extract_ahead``): worker processes parse the next
  transcripts' entries while this process writes the current ones. What they are offered is only
  a guess read without the lock's decisions (``_upcoming_inputs``); projection uses a worker's
  result only for the identical input.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from nova.config import Settings
from nova.ingest.filters import ForgetRules, SessionFilter, infer_session_key
from nova.memory.entry_log import LoggedEntry, append_entries, entry_columns, fetch_entries, remember_speakers
from nova.memory.extract import ExtractionInput
from nova.memory.extract_ahead import TASK_ENTRIES, ExtractAhead
from nova.memory.projection import ProjectionStats, Projector, extraction_input
from nova.ingest.live import adopt_live_entry, has_live_entries
from nova.memory.redact import Redactor
from nova.memory.reextract import rebuild_is_pending, rebuild_pending
from nova.store.locks import WRITER_WAIT_S, agent_lock, session_log_lock
from nova.store.connection import Store
from nova.ingest.sources import TranscriptStream, list_agents, list_streams, session_index
from nova.ingest.transcripts_jsonl import ReadStats
from nova.ingest.workspace import load_openclaw_config, load_speakers
from nova.memory.speakers import Speakers, entry_speakers, origin_speaker

__all__ = ["CatchupReport", "run_catchup", "StateDirError", "AgentLag", "lag"]

log = logging.getLogger("nova.catchup")  # the name in cron logs (tests/test_cron_script.py reads it), kept from the flat layout


class StateDirError(RuntimeError):
    """The OpenClaw state directory is missing or holds no agents."""


_BULK_ENTRIES = 200  # new entries in one run after which the memory tables' statistics are refreshed
# Entries offered to the extraction workers ahead of the file being written: enough to keep every
# worker busy for a few tasks while this process writes.
_AHEAD_TASKS_PER_WORKER = 8


@dataclass
class CatchupReport:
    agents: list[str] = field(default_factory=list)
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    entries_new: int = 0
    entries_known: int = 0          # already in the entry log (archived copies, rewrites)
    entries_filtered: int = 0
    entries_forgotten: int = 0      # covered by a `nova forget` scope: not logged again
    secrets_redacted: Counter = field(default_factory=Counter)   # kind → secrets replaced
    sessions_filtered: Counter = field(default_factory=Counter)   # rule → files skipped
    lines: ReadStats = field(default_factory=ReadStats)
    projection: ProjectionStats = field(default_factory=ProjectionStats)
    retried: int = 0
    rebuilt: int = 0                # entries of agents rebuilt because an edit in place marked them (rebuild_pending)
    revived: int = 0                # dead-lettered entries given another round (--retry-failed)
    locked_agents: list[str] = field(default_factory=list)
    stopped: bool = False           # ended early on request; the rest is read next run
    extracted_ahead: int = 0        # entries the extraction workers parsed (nova.memory.extract_ahead)
    extraction_workers: int = 0     # worker processes forked for it (0: the run was small, or workers are off)
    seconds: float = 0.0

    @property
    def nothing_new(self) -> bool:
        return self.entries_new == 0 and self.retried == 0


@dataclass
class _Cursor:
    offset: int
    line_no: int
    fingerprint: str
    filtered_by: str | None


@dataclass
class _CatchupState:
    """Where catch-up stands on an agent's transcripts: cursors, registered session keys and forget
    rules, loaded once per run (no query per file)."""

    cursors: dict[str, tuple[str, _Cursor]]   # cursor key → (session id, cursor)
    keys: dict[str, str]                      # session id → registered session key
    forgotten: ForgetRules

    @classmethod
    def load(cls, conn, agent: str) -> "_CatchupState":
        cursors = {
            r[0]: (r[1], _Cursor(*r[2:])) for r in conn.execute(
                "SELECT file_name, session_id, byte_offset, line_no, head_hash, filtered_by FROM transcript_cursors"
                " WHERE agent_id = %s", (agent,))
        }
        keys = dict(conn.execute("SELECT session_id, session_key FROM sessions WHERE agent_id = %s", (agent,)).fetchall())
        return cls(cursors, keys, ForgetRules.load(conn, agent))


ProgressFn = Callable[[str, int], None]  # (description, units done)


def run_catchup(
    store: Store,
    settings: Settings,
    projector: Projector,
    state_dir: Path,
    agents: list[str] | None = None,
    progress: ProgressFn | None = None,
    on_files: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    paths: set[Path] | None = None,
    retry_dead: bool = False,
) -> CatchupReport:
    """Catch up on every transcript of ``agents`` (default: all) under ``state_dir``.

    ``retry_dead``: give dead-lettered entries (``nova.memory.entry_log.MAX_EXTRACTION_ATTEMPTS``
    failures) another round of attempts first.

    ``stop()`` is asked between transcripts: when true, the run ends there (all it did is committed).
    ``paths``: only transcripts at these paths (the watcher's changed files; a SQLite store's
    path stands for all its sessions). Session keys are registered for every agent in scope.

    Raises:
        StateDirError: ``state_dir`` has no ``agents/<id>/sessions`` directories, or an
            agent named in ``agents`` has none.
    """
    started = time.monotonic()
    found = list_agents(state_dir)
    if not found:
        raise StateDirError(
            f"no OpenClaw agents under {state_dir} (expected {state_dir}/agents/<agentId>/sessions/"
            " or agents/<agentId>/agent/openclaw-agent.sqlite);"
            " pass --openclaw-dir or set OPENCLAW_STATE_DIR"
        )
    if agents:
        unknown = sorted(set(agents) - set(found))
        if unknown:
            raise StateDirError(f"no transcripts for agent(s) {', '.join(unknown)} under {state_dir}; found: {', '.join(found)}")
        found = [a for a in found if a in agents]
    report = CatchupReport(agents=found)
    config = load_openclaw_config(state_dir)
    files = {agent: list_streams(state_dir, agent) for agent in found}
    if paths is not None:
        files = {agent: [f for f in streams if f.path in paths] for agent, streams in files.items()}
    if on_files:
        on_files(sum(len(f) for f in files.values()))
    with ExtractAhead(lambda: projector.extractor, settings.extraction_workers) as ahead:
        readahead = _ReadAhead(ahead, settings, state_dir, config, files)
        for agent in found:
            with store.connection() as conn:
                with agent_lock(conn, agent, WRITER_WAIT_S) as locked:
                    if not locked:
                        report.locked_agents.append(agent)
                        log.warning("another catch-up is working on agent %s; skipping it this run", agent)
                        if progress:
                            progress(agent, len(files[agent]))
                        continue
                    if retry_dead:
                        with conn.transaction():
                            report.revived += conn.execute(
                                "UPDATE entry_extraction SET status = 'failed', attempts = 0, updated_at = now()"
                                " WHERE agent_id = %s AND status = 'dead'", (agent,)).rowcount
                    _rebuild_if_marked(conn, settings, projector, agent, report)
                    _catch_up_agent(conn, settings, projector, state_dir, agent, config, files[agent], report,
                                    progress, stop, readahead)
        report.extracted_ahead, report.extraction_workers = ahead.taken, ahead.forked
    if report.entries_new >= _BULK_ENTRIES:
        # Recall leaves a table's common words out of full-text queries by its column statistics;
        # after a bulk load they would wait for autovacuum (a minute or more).
        with store.connection() as conn:
            conn.execute("ANALYZE episodes, relationships, entities")
    report.seconds = time.monotonic() - started
    return report


def _rebuild_if_marked(conn, settings: Settings, projector: Projector, agent: str, report: CatchupReport) -> None:
    """A ``nova forget --memory`` from the agent tool, ``/forget`` or the UI left the agent marked for a
    rebuild (``nova.memory.forget_one``): done first, under the lock this run holds, in one transaction."""
    with conn.transaction():
        marked = rebuild_is_pending(conn, agent)
    if not marked:
        return
    projector.prepare()  # models load outside any transaction
    with conn.transaction():
        rebuilt = rebuild_pending(conn, projector, agent, redactor=Redactor(settings.redaction),
                                  workers=settings.extraction_workers)
    if rebuilt is not None:
        report.rebuilt += rebuilt
        log.info("rebuilt agent %s (%d entries): a memory was forgotten or restored in place", agent, rebuilt)


def _catch_up_agent(conn, settings: Settings, projector: Projector, state_dir: Path, agent: str,
                    config: dict, files: list[TranscriptStream], report: CatchupReport,
                    progress: ProgressFn | None, stop: Callable[[], bool] | None, readahead: "_ReadAhead") -> None:
    speakers = load_speakers(state_dir, agent, config)
    index = session_index(state_dir, agent)
    with conn.transaction():
        _register_index(conn, agent, index)
    session_filter = SessionFilter(settings.filters)
    redactor = Redactor(settings.redaction)
    _retry_open_entries(conn, projector, agent, settings.catchup_chunk_entries, report)
    with conn.transaction():
        known = _CatchupState.load(conn, agent)
    readahead.context[agent] = (index, known, speakers)  # the agent's live state from here on
    for tf in files:
        if stop is not None and stop():
            report.stopped = True
            break
        readahead.before(conn, agent, tf)
        report.files_seen += 1
        try:
            _catch_up_file(conn, settings, projector, tf, index, known, speakers, session_filter, redactor,
                           report, readahead.ahead)
        except (OSError, sqlite3.Error) as err:  # vanished, unreadable or locked: the next run tries again
            conn.rollback()
            log.warning("cannot read %s: %s", tf.path, err)
            report.lines.skipped["unreadable_file"] += 1
        if progress:
            progress(f"{agent}/{tf.name[:36]}", 1)
    report.sessions_filtered.update(session_filter.counts)


class _ReadAhead:
    """Offers the extraction workers (``nova.memory.extract_ahead``) what the run will project next: the
    first unread chunk of each transcript after the one being written, on into the next agent's, so
    the workers never wait for an agent's last writes."""

    def __init__(self, ahead: ExtractAhead, settings: Settings, state_dir: Path, config: dict,
                 files: dict[str, list[TranscriptStream]]):
        self.ahead = ahead
        self.settings = settings
        self.state_dir = state_dir
        self.config = config
        self.redactor = Redactor(settings.redaction)
        self.order = [(agent, tf) for agent, streams in files.items() for tf in streams]
        self.position = {(agent, tf.name): i for i, (agent, tf) in enumerate(self.order)}
        self.next = 0  # order[:next] have been offered (or are being written)
        self.target = _AHEAD_TASKS_PER_WORKER * TASK_ENTRIES * max(1, ahead.workers)
        self.context: dict[str, tuple[dict[str, str], _CatchupState, Speakers]] = {}

    def before(self, conn, agent: str, tf: TranscriptStream) -> None:
        """``tf`` of ``agent`` is written next: keep the workers' backlog at its target behind it."""
        self.next = max(self.next, self.position[(agent, tf.name)] + 1)
        while self.next < len(self.order) and self.ahead.backlog() < self.target:
            other, upcoming = self.order[self.next]
            self.next += 1
            index, known, speakers = self.context.get(other) or self._load(conn, other)
            self.ahead.offer(_upcoming_inputs(upcoming, index, known, self.settings, speakers, self.redactor))

    def _load(self, conn, agent: str):
        """An agent not started yet, read without its lock: only a guess is made of it."""
        with conn.transaction():
            known = _CatchupState.load(conn, agent)
        self.context[agent] = (session_index(self.state_dir, agent), known,
                               load_speakers(self.state_dir, agent, self.config))
        return self.context[agent]


@dataclass
class AgentLag:
    """How far catch-up is behind an agent's transcripts (``lag``)."""

    agent: str
    unread: int = 0                      # entries after the cursors, in sessions the filters allow
    oldest_unread_at: datetime | None = None
    newest_unread_at: datetime | None = None
    streams_behind: int = 0
    streams_never_read: int = 0
    newest_stored_at: datetime | None = None   # newest entry in the entry log (occurred_at)


def lag(conn, settings: Settings, state_dir: Path, agent: str) -> AgentLag:
    """Read-only: the entries catch-up would read next for ``agent``, as ``nova catchup`` decides.

    Same cursors, session keys and filters as a run, but nothing is written. Messages the
    memory-extract hook already logged live count until catch-up adopts their transcript lines.
    """
    out = AgentLag(agent)
    index = session_index(state_dir, agent)
    session_filter = SessionFilter(settings.filters)
    times: list[datetime] = []
    with conn.transaction():
        known = _CatchupState.load(conn, agent)
        out.newest_stored_at = conn.execute("SELECT max(occurred_at) FROM entries WHERE agent_id = %s",
                                            (agent,)).fetchone()[0]
    for tf in list_streams(state_dir, agent):
        try:
            end = tf.end()
            cursor = _load_cursor(tf, known, end)
            key, _ = _resolve_key(tf, index, known, settings)
            if key is None or not session_filter.decide(key)[0]:
                continue
            start = (cursor.offset, cursor.line_no) if cursor is not None and cursor.filtered_by is None else (0, 0)
            if start[0] >= end:
                continue
            entries = tf.read(*start).entries
        except (OSError, sqlite3.Error):
            continue  # catch-up reports it as unreadable
        if not entries:
            continue
        out.streams_behind += 1
        out.streams_never_read += cursor is None
        out.unread += len(entries)
        times += [e.occurred_at for e in entries if e.occurred_at is not None]
    out.oldest_unread_at, out.newest_unread_at = (min(times), max(times)) if times else (None, None)
    return out


def _retry_open_entries(conn, projector: Projector, agent: str, chunk: int, report: CatchupReport) -> None:
    """Entries logged but not (successfully) projected: failures, or a crash between chunks.

    Each chunk is claimed with ``FOR UPDATE ... SKIP LOCKED``: an entry the service's ingest
    worker is projecting right now (it claims the same way) is left to it, never projected twice
    at once."""
    while True:
        with conn.transaction():
            waiting = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM entry_extraction WHERE agent_id = %s AND status IN ('pending', 'failed'))",
                (agent,)).fetchone()[0]
        if not waiting:
            return
        projector.prepare()  # models load outside any transaction
        with conn.transaction():
            open_entries = fetch_entries(
                conn,
                f"SELECT {entry_columns('e')} FROM entry_extraction x"
                " JOIN entries e USING (agent_id, session_id, entry_id)"
                " WHERE x.agent_id = %s AND x.status IN ('pending', 'failed')"
                " ORDER BY e.session_id, e.seq LIMIT %s FOR UPDATE OF x SKIP LOCKED",
                (agent, chunk),
            )
            stats = projector.project(conn, agent, open_entries)
        if not open_entries:
            return  # every open entry is being projected by someone else
        report.retried += len(open_entries)
        report.projection.merge(stats)
        if stats.failed == len(open_entries):
            return  # all still failing: leave them for the next run rather than loop


def _register_index(conn, agent: str, index: dict[str, str]) -> None:
    """Record every session key OpenClaw names (``sessions.json``, ``session_windows``)."""
    rows = [(agent, sid, key) for sid, key in index.items()]
    if rows:
        conn.cursor().executemany(
            "INSERT INTO sessions (agent_id, session_id, session_key, key_source) VALUES (%s, %s, %s, 'sessions.json')"
            " ON CONFLICT (agent_id, session_id) DO UPDATE SET session_key = EXCLUDED.session_key,"
            "  key_source = 'sessions.json', last_seen = now()"
            " WHERE sessions.session_key <> EXCLUDED.session_key OR sessions.key_source <> 'sessions.json'",
            rows,
        )


def _resolve_key(tf: TranscriptStream, index: dict[str, str], known: _CatchupState, settings: Settings) -> tuple[str | None, str]:
    if tf.session_id in index:
        return index[tf.session_id], "sessions.json"
    if tf.session_id in known.keys:
        return known.keys[tf.session_id], "registry"
    policy = settings.filters.unknown_key
    if policy == "skip":
        return None, "unknown"
    if policy == "infer":
        opening = tf.read(0, 0, max_entries=1)
        first = opening.entries[0] if opening.entries else None
        inferred = infer_session_key(tf.agent_id, tf.session_id, opening.header, first)
        if inferred:
            return inferred, "content"
    return f"agent:{tf.agent_id}:main", "default"


def _register_session(conn, tf: TranscriptStream, key: str, source: str) -> None:
    conn.execute(
        "INSERT INTO sessions (agent_id, session_id, session_key, key_source, files)"
        " VALUES (%s, %s, %s, %s, ARRAY[%s])"
        " ON CONFLICT (agent_id, session_id) DO UPDATE SET last_seen = now(),"
        "  session_key = CASE WHEN EXCLUDED.key_source = 'sessions.json' THEN EXCLUDED.session_key"
        "                     ELSE sessions.session_key END,"
        "  key_source = CASE WHEN EXCLUDED.key_source = 'sessions.json' THEN 'sessions.json'"
        "                    ELSE sessions.key_source END,"
        "  files = CASE WHEN %s = ANY(sessions.files) THEN sessions.files"
        "               ELSE array_append(sessions.files, %s) END",
        (tf.agent_id, tf.session_id, key, source, tf.name, tf.name, tf.name),
    )


def _load_cursor(tf: TranscriptStream, known: _CatchupState, end: int) -> _Cursor | None:
    """The stream's cursor when the content before it is unchanged, else None (read from the start)."""
    if tf.name in known.cursors:
        candidates = [known.cursors[tf.name][1]]
    else:  # a renamed file (live → .reset.<iso>) carries on from the cursor of its former name
        candidates = sorted((c for sid, c in known.cursors.values() if sid == tf.session_id),
                            key=lambda c: -c.offset)[:4]
    for cursor in candidates:
        if cursor.offset <= end and tf.fingerprint(cursor.offset) == cursor.fingerprint:
            return cursor
    return None


def _save_cursor(conn, tf: TranscriptStream, known: _CatchupState, offset: int, line_no: int, filtered_by: str | None) -> None:
    head = tf.fingerprint(offset)
    known.cursors[tf.name] = (tf.session_id, _Cursor(offset, line_no, head, filtered_by))
    conn.execute(
        "INSERT INTO transcript_cursors (agent_id, file_name, session_id, byte_offset, line_no, head_hash, filtered_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (agent_id, file_name) DO UPDATE SET byte_offset = EXCLUDED.byte_offset,"
        " line_no = EXCLUDED.line_no, head_hash = EXCLUDED.head_hash, filtered_by = EXCLUDED.filtered_by,"
        " updated_at = now()",
        (tf.agent_id, tf.name, tf.session_id, offset, line_no, head, filtered_by),
    )


def _upcoming_inputs(tf: TranscriptStream, index: dict[str, str], known: _CatchupState, settings: Settings,
                     speakers: Speakers, redactor: Redactor) -> list[ExtractionInput]:
    """What ``_catch_up_file`` will most likely extract first from ``tf``: its first unread chunk, as
    extraction inputs. Read-only, and a guess: the run decides again under its transactions."""
    saved = known.cursors.get(tf.name)
    end = tf.end()
    if saved is not None and saved[1].offset >= end:
        return []  # unchanged since the last run (the usual case): no fingerprint read for a guess
    key, _ = _resolve_key(tf, index, known, settings)
    if key is None or not SessionFilter(settings.filters).allows(key):
        return []
    cursor = _load_cursor(tf, known, end)
    start = (cursor.offset, cursor.line_no) if cursor is not None and cursor.filtered_by is None else (0, 0)
    return _extraction_inputs(tf, key, speakers, redactor,
                              tf.read(*start, max_entries=settings.catchup_chunk_entries).entries)


def _extraction_inputs(tf: TranscriptStream, key: str, speakers: Speakers, redactor: Redactor,
                       entries) -> list[ExtractionInput]:
    """Transcript entries as projection will extract them once logged: the same rows, the same inputs."""
    return [extraction_input(row) for row, _, _, _ in _logged_rows(tf, key, speakers, redactor, entries)]


def _logged_rows(tf: TranscriptStream, key: str, speakers: Speakers, redactor: Redactor, entries):
    """``(entry-log row, parent id, channel, secret kinds redacted)`` of each transcript entry."""
    for e in entries:
        speaker, addressee = entry_speakers(e.role, e.sender, speakers)
        if e.origin is not None:  # inter_session_input = attributed: said by its source, never by the user
            speaker = origin_speaker(e.origin)
        text, kinds = redactor.redact(e.text)
        yield (LoggedEntry(tf.agent_id, tf.session_id, e.entry_id, e.seq, key, e.role, speaker, addressee,
                           text, e.occurred_at), e.parent_id, e.channel, kinds)


def _catch_up_file(conn, settings: Settings, projector: Projector, tf: TranscriptStream, index: dict[str, str],
                   known: _CatchupState, speakers: Speakers, session_filter: SessionFilter, redactor: Redactor,
                   report: CatchupReport, ahead: ExtractAhead | None = None) -> None:
    end = tf.end()
    cursor = _load_cursor(tf, known, end)
    key, source = _resolve_key(tf, index, known, settings)
    allowed, rule = (False, "unknown session key (unknown_key=skip)") if key is None else session_filter.decide(key)
    filtered_by = None if allowed else rule

    resume = cursor is not None and cursor.filtered_by == filtered_by
    start_offset, start_line = (cursor.offset, cursor.line_no) if resume else (0, 0)
    if resume and start_offset >= end:
        report.files_unchanged += 1
        if not allowed:
            session_filter.counts[rule] += 1
        return
    report.files_read += 1
    if not allowed:
        # Read only to count: nothing of a filtered session is stored.
        session_filter.counts[rule] += 1
        result = tf.read(start_offset, start_line)
        report.entries_filtered += len(result.entries)
        with conn.transaction():
            if key is not None:
                _register_session(conn, tf, key, source)
            _save_cursor(conn, tf, known, result.end_offset, result.end_line, filtered_by)
        return

    offset, line_no = start_offset, start_line
    chunk = settings.catchup_chunk_entries
    result = tf.read(offset, line_no, max_entries=chunk)
    while True:
        report.lines.merge(result.stats)
        following = None
        if ahead is not None and len(result.entries) == chunk and result.end_offset != offset:
            # A long transcript: its next chunk is extracted by the workers while this one is written.
            following = tf.read(result.end_offset, result.end_line, max_entries=chunk)
            ahead.offer(_extraction_inputs(tf, key, speakers, redactor, following.entries))
        if result.entries:
            projector.prepare()  # never inside the chunk's transaction (see _LazyProjector.prepare)
        # Two transactions: the chunk enters the entry log (and the cursor moves) in a short one,
        # under the lock the memory-extract hook logs this session's messages with; then it is
        # projected. A run killed between them leaves pending entries, which the next run
        # projects first (_retry_open_entries); the agent lock keeps every other projector out.
        with conn.transaction():
            _register_session(conn, tf, key, source)
            known.keys[tf.session_id] = key
            entries = [e for e in result.entries if not known.forgotten.covers(key, e.occurred_at, tf.session_id)]
            report.entries_forgotten += len(result.entries) - len(entries)
            if settings.inter_session_input == "skip":
                foreign = sum(e.origin is not None for e in entries)
                if foreign:  # another session's message is not the user's words
                    report.lines.skipped["inter_session"] += foreign
                    entries = [e for e in entries if e.origin is None]
            if any(e.role == "user" for e in entries):
                session_log_lock(conn, tf.agent_id, key)
            new = _append_entries(conn, tf, key, speakers, redactor, entries, report.secrets_redacted)
            report.entries_new += len(new)
            report.entries_known += len(entries) - len(new)
            _save_cursor(conn, tf, known, result.end_offset, result.end_line, None)
        if new:
            with conn.transaction():
                report.projection.merge(projector.project(conn, tf.agent_id, new, ahead))
        if result.end_offset == offset or len(result.entries) < chunk:
            return
        offset, line_no = result.end_offset, result.end_line
        result = following if following is not None else tf.read(offset, line_no, max_entries=chunk)


def _append_entries(conn, tf: TranscriptStream, key: str, speakers: Speakers, redactor: Redactor, entries,
                    redacted: Counter) -> list[LoggedEntry]:
    """Insert into the entry log, secrets redacted; returns the entries that were not there yet."""
    rows = []
    for row, parent_id, channel, kinds in _logged_rows(tf, key, speakers, redactor, entries):
        redacted.update(kinds)
        rows.append((row, parent_id, channel))
    new: list[LoggedEntry] = []
    if has_live_entries(conn, tf.agent_id, key):
        # The memory-extract hook logged messages of this session: each user entry may be one of them.
        appending = []
        # A live twin whose text is exactly a later user entry's is that entry's, not an earlier one's
        # that happens to end with the same words (adopting it there lost the earlier message).
        later = Counter(row.text for row, _, _ in rows if row.role == "user")
        for row, parent_id, channel in rows:
            if row.role == "user":
                later[row.text] -= 1
            adopted = adopt_live_entry(conn, row, parent_id, channel, tf.name,
                                       claimed_later=frozenset(t for t, n in later.items() if n > 0))
            if adopted is None:
                appending.append((row, parent_id, channel))
            elif adopted != "done":
                new.append(row)
        rows = appending
    added = append_entries(conn, rows, source_file=tf.name)
    new += [row for row, _, _ in rows if row.entry_id in added]
    remember_speakers(conn, new)
    return new
