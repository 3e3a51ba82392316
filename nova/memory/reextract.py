"""Re-extraction: rebuild entities, episodes and relationships from the entry log.

The entry log (table ``entries``) is the source of truth; transcript files are not read. Run it
after an upgrade that changes extraction (``EXTRACTOR_VERSION``) or the embedding model.

- Scope: agents, a session-key glob, an ``occurred_at`` range, or everything. A time range is
  widened to whole episodes, so no exchange is rebuilt half.
- One transaction per agent: recall keeps seeing the old memories of that agent until its
  rebuild commits, and a killed run leaves each agent either old or rebuilt, never half.
- Resumable: a run remembers the agents it finished (table ``reextract_progress``, keyed by
  the scope and extractor version); running the same scope again after an interruption skips
  them. A run that completes clears its progress, so the next run rebuilds again (and gives
  the same rows: extraction is deterministic).
- ``dry_run``: the rebuild runs and is rolled back; the report says what would change.
- Entries logged before secret redaction (or before a new pattern) are redacted in the log as
  they are rebuilt (``nova.memory.redact``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import psycopg

from nova.memory.entry_log import entry_columns, fetch_entries
from nova.memory.extract_ahead import ExtractAhead
from nova.memory.projection import ProjectionStats, Projector, extraction_input
from nova.memory.redact import Redactor
from nova.store.locks import OPERATOR_WAIT_S, agent_lock

__all__ = ["Scope", "AgentChange", "ReextractReport", "reextract", "rebuild_agent", "rebuild_whole_agent", "rebuild_pending",
           "rebuild_is_pending", "scope_entry_count", "session_keys_matching", "REBUILD_ORDER"]

log = logging.getLogger(__name__)

# The order a rebuild projects entries in (SQL over ``e``, entries): sessions interleaved by time, each
# in its transcript order (by the latest time said so far in it, so a clock that stepped back does not
# reorder a session). One order for the whole rebuild, whatever its chunks: which entry first says a
# fact (its valid_from) and which mention first names an entity depend on it, so a rebuild in chunks of
# 7 and one in chunks of 256 give the same rows (before, each chunk was re-sorted by session).
REBUILD_ORDER = ("coalesce(max(e.occurred_at) OVER (PARTITION BY e.session_id ORDER BY e.seq), '-infinity'),"
                 " e.session_id, e.seq")

_SNAPSHOT_SQL = {
    "entities": "SELECT kind || ':' || name FROM entities WHERE agent_id = %s",
    "relationships": "SELECT fact || coalesce(' until ' || valid_to::text, '') FROM relationships WHERE agent_id = %s",
    "episodes": "SELECT session_id || ':' || first_seq || '-' || last_seq FROM episodes WHERE agent_id = %s",
}


@dataclass(frozen=True)
class Scope:
    """Which entries to re-extract. Empty fields mean "all"."""

    agents: tuple[str, ...] = ()
    session_key: str | None = None     # glob: * matches any run of characters, including ':'
    since: datetime | None = None      # entries.occurred_at >= since
    until: datetime | None = None      # entries.occurred_at < until

    @property
    def whole_agent(self) -> bool:
        return self.session_key is None and self.since is None and self.until is None

    def key(self, extractor_version: int) -> str:
        raw = json.dumps([sorted(self.agents), self.session_key, str(self.since), str(self.until), extractor_version])
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass
class AgentChange:
    agent_id: str
    entries: int = 0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    added: dict[str, list[str]] = field(default_factory=dict)     # up to 10 examples per table
    removed: dict[str, list[str]] = field(default_factory=dict)
    skipped: bool = False      # finished by an earlier, interrupted run of the same scope


@dataclass
class ReextractReport:
    dry_run: bool
    agents: list[AgentChange] = field(default_factory=list)
    projection: ProjectionStats = field(default_factory=ProjectionStats)
    stale_before: Counter = field(default_factory=Counter)   # derived rows by extractor version
    seconds: float = 0.0


ProgressFn = Callable[[str, int], None]


def _agents_in_scope(conn: psycopg.Connection, scope: Scope) -> list[str]:
    rows = [r[0] for r in conn.execute("SELECT DISTINCT agent_id FROM entries ORDER BY 1")]
    if scope.agents:
        unknown = sorted(set(scope.agents) - set(rows))
        if unknown:
            raise ValueError(f"no entries for agent(s) {', '.join(unknown)} in the entry log; known: {', '.join(rows) or 'none'}")
        rows = [a for a in rows if a in scope.agents]
    return rows


def _scope_filter(conn: psycopg.Connection, agent: str, scope: Scope) -> tuple[str, list]:
    """SQL condition on ``e`` (entries) selecting the scope within one agent, widened to whole episodes."""
    where, params = ["e.agent_id = %s"], [agent]
    if scope.session_key is not None:
        where.append("e.session_key = ANY(%s)")
        params.append(session_keys_matching(conn, agent, scope.session_key))
    if scope.since is not None or scope.until is not None:
        # An entry is in scope when its own time is, or when it shares an episode with one that is.
        where.append(
            "(e.occurred_at >= coalesce(%s, '-infinity'::timestamptz) AND e.occurred_at < coalesce(%s, 'infinity'::timestamptz)"
            " OR EXISTS (SELECT 1 FROM provenance p JOIN provenance q ON q.agent_id = p.agent_id"
            "   AND q.item_kind = 'episode' AND q.item_id = p.item_id"
            "  JOIN entries o ON o.agent_id = q.agent_id AND o.session_id = q.session_id AND o.entry_id = q.entry_id"
            "  WHERE p.agent_id = e.agent_id AND p.item_kind = 'episode' AND p.session_id = e.session_id"
            "   AND p.entry_id = e.entry_id AND o.occurred_at >= coalesce(%s, '-infinity'::timestamptz)"
            "   AND o.occurred_at < coalesce(%s, 'infinity'::timestamptz)))"
        )
        params += [scope.since, scope.until, scope.since, scope.until]
    return " AND ".join(where), params


def session_keys_matching(conn: psycopg.Connection, agent: str, glob: str | None) -> list[str]:
    """The agent's session keys in the entry log that match ``glob`` (``*`` spans ``:``; None: all)."""
    keys = [r[0] for r in conn.execute("SELECT DISTINCT session_key FROM entries WHERE agent_id = %s", (agent,))]
    return [k for k in keys if glob is None or fnmatch.fnmatchcase(k, glob)]


def _redact_logged(conn, entries: list, redactor: Redactor) -> list:
    out = []
    for e in entries:
        text = redactor(e.text)
        if text != e.text:
            conn.execute("UPDATE entries SET text = %s WHERE agent_id = %s AND session_id = %s AND entry_id = %s",
                         (text, e.agent_id, e.session_id, e.entry_id))
            e = dataclasses.replace(e, text=text)
        out.append(e)
    return out


def scope_entry_count(conn: psycopg.Connection, scope: Scope) -> int:
    """Entries the scope covers (for a progress bar)."""
    total = 0
    for agent in _agents_in_scope(conn, scope):
        cond, params = _scope_filter(conn, agent, scope)
        total += conn.execute(f"SELECT count(*) FROM entries e WHERE {cond}", params).fetchone()[0]
    return total


def _snapshot(conn, agent: str) -> dict[str, Counter]:
    return {t: Counter(r[0] for r in conn.execute(sql, (agent,))) for t, sql in _SNAPSHOT_SQL.items()}


def _clear_scope(conn, agent: str, cond: str, params: list, whole_agent: bool) -> None:
    """Delete what the scope's entries produced; rows also supported by other entries stay."""
    if whole_agent:
        for table in ("provenance", "relationships", "episodes", "entity_aliases", "entities"):
            conn.execute(f"DELETE FROM {table} WHERE agent_id = %s", (agent,))
        conn.execute("UPDATE entry_extraction SET status = 'pending', error = NULL WHERE agent_id = %s", (agent,))
        return
    conn.execute(f"CREATE TEMP TABLE scope_entries ON COMMIT DROP AS SELECT e.session_id, e.entry_id FROM entries e WHERE {cond}",
                 params)
    in_scope = ("EXISTS (SELECT 1 FROM scope_entries s WHERE s.session_id = p.session_id AND s.entry_id = p.entry_id)")
    conn.execute(
        "DELETE FROM episodes WHERE agent_id = %s AND id IN (SELECT p.item_id FROM provenance p"
        f" WHERE p.agent_id = %s AND p.item_kind = 'episode' AND {in_scope})",
        (agent, agent),
    )
    touched = conn.execute(
        f"DELETE FROM provenance p WHERE p.agent_id = %s AND {in_scope} RETURNING p.item_kind, p.item_id", (agent,)
    ).fetchall()
    for kind, table in (("relationship", "relationships"), ("entity", "entities")):
        ids = sorted({i for k, i in touched if k == kind})
        conn.execute(
            f"DELETE FROM {table} t WHERE t.agent_id = %s AND t.id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM provenance p"
            f" WHERE p.agent_id = t.agent_id AND p.item_kind = %s AND p.item_id = t.id)",
            (agent, ids, kind),
        )
    conn.execute(
        "UPDATE entities t SET summary = NULL, summary_session_id = NULL, summary_entry_id = NULL FROM scope_entries s"
        " WHERE t.agent_id = %s AND t.summary_session_id = s.session_id AND t.summary_entry_id = s.entry_id",
        (agent,),
    )
    conn.execute(
        "UPDATE entities t SET mention_count = (SELECT count(*) FROM provenance p WHERE p.agent_id = t.agent_id"
        " AND p.item_kind = 'entity' AND p.item_id = t.id) WHERE t.agent_id = %s",
        (agent,),
    )
    conn.execute(
        "UPDATE entry_extraction x SET status = 'pending', error = NULL FROM scope_entries s"
        " WHERE x.agent_id = %s AND x.session_id = s.session_id AND x.entry_id = s.entry_id",
        (agent,),
    )


def reextract(
    store,
    projector: Projector,
    scope: Scope,
    dry_run: bool = False,
    chunk: int = 256,
    progress: ProgressFn | None = None,
    redactor: Redactor | None = None,
    wait_s: float = OPERATOR_WAIT_S,
    workers: int | None = None,
) -> ReextractReport:
    """Rebuild the derived rows of ``scope`` from the entry log.

    Raises:
        ValueError: an agent in ``scope.agents`` has no entries.
    """
    import time

    started = time.monotonic()
    version = projector.extractor.version
    run_key = scope.key(version)
    report = ReextractReport(dry_run=dry_run)
    with store.connection() as conn, conn.transaction():
        agents = _agents_in_scope(conn, scope)
        for table in ("entities", "episodes", "relationships"):
            for v, n in conn.execute(
                f"SELECT extractor_version, count(*) FROM {table} WHERE agent_id = ANY(%s) GROUP BY 1", (agents,)
            ):
                report.stale_before[f"{table}@v{v}"] += n
        finished = {r[0] for r in conn.execute(
            "SELECT agent_id FROM reextract_progress WHERE run_key = %s", (run_key,))}
    for agent in agents:
        change = AgentChange(agent)
        report.agents.append(change)
        if agent in finished and not dry_run:
            change.skipped = True
            log.info("agent %s was rebuilt by an interrupted run of this scope; skipping it", agent)
            continue
        with store.connection() as conn, agent_lock(conn, agent, wait_s) as locked:
            if not locked:
                raise RuntimeError(f"a catch-up is working on agent {agent} (waited {wait_s:.0f} s); try again when it is done")
            with conn.transaction() as tx:
                rebuild_agent(conn, projector, agent, scope, chunk, change, report, progress, redactor, workers)
                if dry_run:
                    raise psycopg.Rollback(tx)
                conn.execute(
                    "INSERT INTO reextract_progress (run_key, agent_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (run_key, agent),
                )
    if not dry_run:
        with store.connection() as conn:
            conn.execute("DELETE FROM reextract_progress WHERE run_key = %s", (run_key,))
    report.seconds = time.monotonic() - started
    return report


def rebuild_agent(conn, projector: Projector, agent: str, scope: Scope, chunk: int, change: AgentChange,
                   report: ReextractReport, progress: ProgressFn | None, redactor: Redactor | None = None,
                   workers: int | None = None) -> None:
    """Rebuild one agent's scope inside the caller's transaction (the caller holds ``agent_lock``).
    ``workers``: extraction worker processes (``nova.memory.extract_ahead``; None: one per core but one).

    Entries logged before redaction existed (or before a new pattern) are redacted in the log first.
    """
    redactor = redactor or Redactor()
    cond, params = _scope_filter(conn, agent, scope)
    before = _snapshot(conn, agent)
    keys = conn.execute(f"SELECT e.session_id, e.entry_id FROM entries e WHERE {cond} ORDER BY {REBUILD_ORDER}",
                        params).fetchall()
    change.entries = len(keys)
    _clear_scope(conn, agent, cond, params, scope.whole_agent)
    if scope.whole_agent:  # this rebuild is the one a forget of one memory asked for (nova.memory.forget_one)
        conn.execute("DELETE FROM rebuild_pending WHERE agent_id = %s", (agent,))
    def fetch(part) -> list:  # in the part's order
        return _redact_logged(conn, fetch_entries(
            conn,
            f"SELECT {entry_columns('e')} FROM entries e"
            " JOIN unnest(%s::text[], %s::text[]) WITH ORDINALITY AS k(session_id, entry_id, n)"
            " ON e.session_id = k.session_id AND e.entry_id = k.entry_id WHERE e.agent_id = %s ORDER BY k.n",
            ([k[0] for k in part], [k[1] for k in part], agent),
        ), redactor)

    parts = [keys[start:start + chunk] for start in range(0, len(keys), chunk)]
    following = fetch(parts[0]) if parts else []
    # The workers (nova.memory.extract_ahead) parse the next chunk while this one is written.
    with ExtractAhead(lambda: projector.extractor, workers) as ahead:
        ahead.offer([extraction_input(e) for e in following])  # this process takes back what it can do
        for k, part in enumerate(parts):
            entries, following = following, fetch(parts[k + 1]) if k + 1 < len(parts) else []
            ahead.offer([extraction_input(e) for e in following])
            report.projection.merge(projector.project(conn, agent, entries, ahead, in_order=True))
            if progress:
                progress(agent, len(part))
    after = _snapshot(conn, agent)
    for table in _SNAPSHOT_SQL:
        change.before[table] = sum(before[table].values())
        change.after[table] = sum(after[table].values())
        change.added[table] = sorted((after[table] - before[table]).elements())[:10]
        change.removed[table] = sorted((before[table] - after[table]).elements())[:10]


def rebuild_is_pending(conn: psycopg.Connection, agent: str) -> bool:
    """Whether an edit in place marked ``agent`` for a rebuild (``nova.memory.forget_one.mark_rebuild``)."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM rebuild_pending WHERE agent_id = %s)", (agent,)).fetchone()[0]


def rebuild_whole_agent(conn: psycopg.Connection, projector: Projector, agent: str, progress: ProgressFn | None = None,
                        redactor: Redactor | None = None, workers: int | None = None) -> int:
    """Rebuild every derived row of ``agent`` from its entry log inside the caller's transaction, which
    holds ``agent_lock`` (a forget, merge, split, or a ``rebuild_pending`` mark). Returns the entries rebuilt."""
    change = AgentChange(agent)
    rebuild_agent(conn, projector, agent, Scope((agent,)), 256, change, ReextractReport(dry_run=False), progress,
                  redactor, workers)
    return change.entries


def rebuild_pending(conn: psycopg.Connection, projector: Projector, agent: str, progress: ProgressFn | None = None,
                    redactor: Redactor | None = None, workers: int | None = None) -> int | None:
    """Rebuild ``agent`` if it is marked for it (table ``rebuild_pending``), inside the caller's
    transaction, which holds ``agent_lock``; the rebuild takes the mark away in the same commit. Returns
    the entries rebuilt, or None when the agent was not marked."""
    if not rebuild_is_pending(conn, agent):
        return None
    return rebuild_whole_agent(conn, projector, agent, progress, redactor, workers)
