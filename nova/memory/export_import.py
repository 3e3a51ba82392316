"""``nova export`` / ``nova import``: an agent's memories as one versioned JSONL file, to move them
between stores (the embedded PostgreSQL to a managed one, one host to another) or keep a copy.

The file, streamed line by line:

1. a header ``{"format": "nova-export", "version": 1, "embedding_model": "<model>|<dim>", "agents": [...],
   "static_model": "<static model>|<dim>" or null}`` (static vectors are kept on import only where the
   target's static model is the same);
2. one line per row, ``{"t": <table>, "r": {column: value}}``, table by table in ``TABLES`` order:
   the entry log (entries as logged: envelopes removed, secrets already redacted), its sessions,
   cursors and extraction status, entities with their aliases, episodes with their retrieval keys,
   relationships with ``valid_from``/``valid_to``, provenance, the forget records (scopes and
   rules, no content), and the operator's merge and split rules (``entity_rules``, which resolution
   applies again when the memories are rebuilt). Embeddings are pgvector's text form, which round-trips exactly; a memory whose
   dense vector was still pending (the static tier) goes without it, and the target's dense pass fills it;
3. a manifest ``{"manifest": {"rows": {table: n}, "sha256": <hex of every line before it>}}``.

Left out, as derived or operational: lexeme counts (rebuilt by triggers on import), held session
profiles (rebuilt at the next bootstrap), recall telemetry, re-extraction progress, and the curation
audit (``curation_audit``: who curated in this store).

Import runs in one transaction, holds each agent's lock (nova.store.locks), and commits only after
the checksum and every row count matched: a truncated or edited file changes nothing. Rows go in
2,000 per statement; into an empty store the HNSW indexes are built once they are in (one build
instead of an index insert per row: at 100k memories minutes less). Row ids are
the target store's own (entities, episodes and relationships get new serials; every reference to them
is rewritten), so an import never collides with other agents' rows; recall's output names memories by
content, not id, and is the same in both stores. Idempotent: importing the same file again is a no-op
(its checksum is recorded in ``nova_meta``); an agent that already has other memories is refused.
A file made with another embedding model is refused unless ``re_embed``: then only the entry log
and forget records are imported, and the agent's memories are rebuilt from it with this store's
models (nova.memory.reextract), as after an upgrade.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Callable

import psycopg

from nova.memory.redact import Redactor
from nova.store.locks import OPERATOR_WAIT_S, agent_lock
from nova.store.migrations import clear_static_vectors, ensure_vector_indexes, stored_embedding_model, stored_static_model

__all__ = ["FORMAT", "VERSION", "TABLES", "ExportReport", "ImportReport", "export_agents", "import_file",
           "read_ends", "ImportError_"]

FORMAT, VERSION = "nova-export", 1
# Import order: every table after those it references.
TABLES = ("sessions", "transcript_cursors", "agent_speakers", "entries", "entry_extraction", "entities",
          "entity_aliases", "episodes", "episode_keys", "relationships", "provenance", "forgotten",
          "forgotten_memories", "forgotten_sessions", "entity_rules")
# What --re-embed imports: the source of truth (the entry log and the operator's forgets, merges and splits).
_LOG_TABLES = ("sessions", "transcript_cursors", "agent_speakers", "entries", "entry_extraction",
               "forgotten", "forgotten_memories", "forgotten_sessions", "entity_rules")
_SERIAL = {"entities", "episodes", "relationships", "forgotten", "forgotten_memories", "entity_rules"}  # ids the target assigns

ProgressFn = Callable[[str, int], None]


class ImportError_(ValueError):
    """The file cannot be imported (format, version, checksum, model, or the agent already has memories)."""


@dataclass
class ExportReport:
    agents: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    sha256: str = ""


@dataclass
class ImportReport:
    agents: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    rebuilt_entries: int = 0     # --re-embed: entries re-extracted with this store's models


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The table's stored columns in order (generated ones, such as ``tsv``, are recomputed)."""
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position", (table,))]


def export_agents(conn: psycopg.Connection, agents: list[str] | None, out: IO[str],
                  progress: ProgressFn | None = None) -> ExportReport:
    """Write ``agents`` (None: every agent with entries) to ``out`` as described above, in one
    repeatable-read snapshot (a consistent copy while writers go on).

    Raises:
        ValueError: an agent has no entries, or the store holds no embeddings yet.
    """
    conn.commit()
    saved = conn.isolation_level, conn.read_only
    conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
    try:
        known = [r[0] for r in conn.execute("SELECT DISTINCT agent_id FROM entries ORDER BY 1")]
        agents = sorted(set(agents)) if agents else known
        missing = [a for a in agents if a not in known]
        if missing:
            raise ValueError(f"no entries for agent(s) {', '.join(missing)} (known: {', '.join(known) or 'none'})")
        model = stored_embedding_model(conn)
        if model is None:
            raise ValueError("this store holds no embeddings yet: nothing to export")
        report = ExportReport(agents)
        digest = hashlib.sha256()

        def write(obj: dict) -> None:
            line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
            digest.update(line.encode())
            report.bytes += len(line.encode())
            out.write(line)

        write({"format": FORMAT, "version": VERSION, "embedding_model": model, "agents": agents,
               "static_model": stored_static_model(conn)})
        for table in TABLES:
            cols = _columns(conn, table)
            select = ", ".join(f"{c}::text" if c == "embedding" else c for c in cols)
            n = 0
            with conn.cursor(name=f"nova_export_{table}") as cur:  # server-side: streamed, not loaded
                cur.itersize = 2000
                cur.execute(f"SELECT row_to_json(x) FROM (SELECT {select} FROM {table}"
                            f" WHERE agent_id = ANY(%s) ORDER BY {_order(table)}) x", (agents,))
                for (row,) in cur:
                    write({"t": table, "r": row})
                    n += 1
            report.rows[table] = n
            if progress:
                progress(table, n)
        report.sha256 = digest.hexdigest()
        manifest = json.dumps({"manifest": {"rows": report.rows, "sha256": report.sha256}}) + "\n"
        out.write(manifest)
        report.bytes += len(manifest.encode())
        return report
    finally:
        conn.rollback()
        conn.isolation_level, conn.read_only = saved  # a pooled connection goes back as it came


# Each table in its key order: the same store exports the same bytes.
_ORDER = {"sessions": "agent_id, session_id", "forgotten_sessions": "agent_id, session_id", "transcript_cursors": "agent_id, file_name",
          "agent_speakers": "agent_id, name", "entries": "agent_id, session_id, seq, entry_id",
          "entry_extraction": "agent_id, session_id, entry_id", "entity_aliases": "agent_id, alias_norm, entity_id",
          "episode_keys": "agent_id, session_id, entry_id",
          "provenance": "agent_id, item_kind, item_id, session_id, entry_id"}


def _order(table: str) -> str:
    return _ORDER.get(table, "id")


def read_ends(path: Path) -> tuple[str, dict, dict | None]:
    """The header line, the header, and the manifest (the last line; None when the file lacks one)."""
    with path.open("rb") as f:
        header_line = f.readline().decode()
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 65536))
        tail = f.read().decode(errors="replace").rstrip("\n").rsplit("\n", 1)[-1]
    try:
        header = json.loads(header_line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ImportError_(f"{path} is not a NOVA export (its first line is not a nova-export header)")
    if header.get("version") != VERSION:
        raise ImportError_(f"export format version {header.get('version')!r}; this NOVA reads version {VERSION}")
    try:
        manifest = json.loads(tail).get("manifest")
    except (ValueError, AttributeError):
        manifest = None
    return header_line, header, manifest


def import_file(store, path: Path, *, embedding_model: str, re_embed: bool = False, projector_factory=None,
                progress: ProgressFn | None = None, wait_s: float = OPERATOR_WAIT_S,
                redactor: Redactor | None = None) -> ImportReport:
    """Import the export at ``path``; see the module docstring. ``embedding_model``: this store's
    configured model name (``settings.embedding_model``); ``projector_factory()``: the projector
    ``re_embed`` rebuilds with.

    Raises:
        ImportError_: not an export, another format version, no manifest, a checksum or row-count
            mismatch (nothing is committed), another embedding model without ``re_embed``, an agent
            that already has other memories here, or a row the header does not vouch for: of an
            agent the header does not name, citing an id the file does not hold, or dated in the
            future (the file is untrusted input: its checksum can be recomputed by whoever edits it).

    Every entry's text goes through ``redactor`` (default: ``Redactor()``, the default rules) as if
    it were read from a transcript here.
        RuntimeError: another writer holds an agent for longer than ``wait_s``.
    """
    header_line, header, manifest = read_ends(path)
    if manifest is None:
        raise ImportError_(f"{path} ends without its manifest (truncated?): nothing was imported")
    agents, model = header.get("agents"), header.get("embedding_model")
    if not (isinstance(agents, list) and agents and all(isinstance(a, str) and a for a in agents)
            and isinstance(model, str)):
        raise ImportError_(f"{path}: the header names no agents or no embedding model: nothing was imported")
    redactor = redactor or Redactor()
    vouched = _Vouched(frozenset(agents), datetime.now(timezone.utc) + _CLOCK_SKEW, redactor)
    model_name, _, dim = model.rpartition("|")
    report = ImportReport(agents)
    marker = f"import:{manifest['sha256']}"
    with store.connection() as conn:
        stored = stored_embedding_model(conn)
        other_model = model_name != embedding_model or (stored is not None and stored != model)
        if other_model and not re_embed:
            raise ImportError_(f"the export's embeddings are {model}; this store uses {stored or embedding_model}:"
                               " import with --re-embed to rebuild the memories with this store's model")
        if re_embed and projector_factory is None:
            raise ValueError("re_embed needs a projector")
        present = [r[0] for r in conn.execute(
            "SELECT DISTINCT agent_id FROM entries WHERE agent_id = ANY(%s) ORDER BY 1", (agents,))]
        done_before = conn.execute("SELECT 1 FROM nova_meta WHERE key = %s", (marker,)).fetchone() is not None
        conn.commit()
        if present and done_before:
            report.already_imported = True
            return report
        if present:
            raise ImportError_(f"agent(s) {', '.join(present)} already have memories in this store; forget them"
                               " first (nova forget --agent ID) or import into another store")
    # An empty store gets its HNSW indexes after the rows are in: one build, not an index insert per row.
    build_indexes_after = not other_model and stored is None
    projector = projector_factory() if re_embed else None
    wanted = _LOG_TABLES if re_embed else TABLES
    digest = hashlib.sha256(header_line.encode())
    with store.connection() as conn, ExitStack() as locks:
        for agent in agents:
            if not locks.enter_context(agent_lock(conn, agent, wait_s)):
                raise RuntimeError(f"a catch-up or re-extraction is working on agent {agent} (waited {wait_s:.0f} s)")
        with conn.transaction():
            ids: dict[str, dict[int, int]] = {t: {} for t in _SERIAL}
            columns = {t: _columns(conn, t) for t in TABLES}
            current, batch, seen_manifest = None, [], False
            with path.open(encoding="utf-8") as lines:
                lines.readline()
                for line in lines:
                    if line.startswith('{"manifest"'):
                        seen_manifest = True
                        break
                    digest.update(line.encode())
                    obj = json.loads(line)
                    if obj["t"] != current or len(batch) >= 2000:
                        _insert(conn, current, batch, columns, ids, report, wanted, progress, vouched)
                        current, batch = obj["t"], []
                    batch.append(obj["r"])
            _insert(conn, current, batch, columns, ids, report, wanted, progress, vouched)
            if not seen_manifest or manifest["sha256"] != digest.hexdigest():
                raise ImportError_("checksum mismatch (the file was changed or damaged): nothing was imported")
            expected = {t: n for t, n in manifest["rows"].items() if t in wanted}
            got = {t: report.rows.get(t, 0) for t in expected}
            if got != expected:
                raise ImportError_(f"row counts differ from the manifest ({got} vs {expected}): nothing was imported")
            _adopt_static_vectors(conn, header.get("static_model"), agents, wanted)
            conn.execute("INSERT INTO nova_meta (key, value) VALUES (%s, %s)", (marker, json.dumps(agents)))
    if build_indexes_after:
        with store.connection() as conn:
            ensure_vector_indexes(conn, model_name, int(dim))
    if re_embed:
        from nova.memory.reextract import Scope, reextract

        rebuilt = reextract(store, projector, Scope(tuple(agents)), wait_s=wait_s)
        report.rebuilt_entries = rebuilt.projection.done
    return report


def _adopt_static_vectors(conn, static_model: str | None, agents: list[str], wanted: tuple[str, ...]) -> None:
    """Keep the imported static vectors only when this store's static model made them too (or the store
    has none yet: it then records the file's, and ``ensure_static_indexes`` clears them if its own model
    differs); else clear them and let the dense pass recompute them (``static_fill``)."""
    if "episode_keys" not in wanted:
        return  # --re-embed: the memories are rebuilt with this store's models
    ours = stored_static_model(conn)
    if static_model is not None and ours is None:
        conn.execute("INSERT INTO nova_meta (key, value) VALUES ('static_embedding_model', %s)", (static_model,))
    elif ours is not None and static_model != ours:
        clear_static_vectors(conn, agents)


@dataclass(frozen=True)
class _Vouched:
    """What the header vouches for: its agents, and times up to now (plus clock skew)."""

    agents: frozenset[str]
    latest: datetime
    redactor: Redactor

    def check(self, table: str, r: dict) -> None:
        """Raises ImportError_ for a row of another agent or one dated in the future; redacts an entry."""
        if not isinstance(r, dict) or r.get("agent_id") not in self.agents:
            agent = r.get("agent_id") if isinstance(r, dict) else None
            raise ImportError_(f"a {table} row belongs to agent {agent!r}, which the file's header does not name:"
                               " nothing was imported")
        for column, value in r.items():
            if column in _RECORD_TIMES and isinstance(value, str):
                try:
                    when = datetime.fromisoformat(value)
                except ValueError:
                    raise ImportError_(f"a {table} row's {column} is not a time ({value[:40]!r}):"
                                       " nothing was imported") from None
                if when.tzinfo is not None and when > self.latest:
                    raise ImportError_(f"a {table} row's {column} is in the future ({value}): nothing was imported")
        if table == "entries" and isinstance(r.get("text"), str):
            r["text"] = self.redactor(r["text"])


_CLOCK_SKEW = timedelta(days=1)  # a store whose clock ran ahead of this one's by less is not refused
# When NOVA wrote or forgot something (not when it happened, which may lie ahead: "next month"). A
# forget dated 9999 would count every later transcript entry as forgotten.
_RECORD_TIMES = frozenset({"before", "forgotten_at", "ingested_at", "created_at", "updated_at", "finished_at"})


def _insert(conn, table: str | None, rows: list[dict], columns: dict[str, list[str]], ids: dict[str, dict[int, int]],
            report: ImportReport, wanted: tuple[str, ...], progress: ProgressFn | None, vouched: _Vouched) -> None:
    """Insert one table's batch with the target's ids: serial ids are assigned here and every
    reference to an entity, episode or relationship is rewritten to them. Each row is checked
    against the header first (``_Vouched``)."""
    if table is None or not rows or table not in wanted:
        return
    if table not in columns:
        raise ImportError_(f"the export has rows of table {table!r}, which this NOVA does not know")
    for r in rows:
        vouched.check(table, r)
    try:
        _rewrite_ids(table, rows, ids)
    except (KeyError, TypeError) as e:
        raise ImportError_(f"a {table} row cites {e} that the file does not hold: nothing was imported") from None
    if table in _SERIAL:  # this store's ids, drawn from its sequence in one query
        new_ids = [r[0] for r in conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table, len(rows)))]
        for r, new_id in zip(rows, new_ids, strict=True):
            if r.get("id") in ids[table]:
                raise ImportError_(f"two {table} rows have id {r.get('id')}: nothing was imported")
            ids[table][r.get("id")] = new_id
            r["id"] = new_id
    names = ", ".join(columns[table])
    # One statement per batch: one round trip, and the lexeme-count triggers fire once per batch.
    conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, %s::json)",
                 (json.dumps(rows),))
    report.rows[table] = report.rows.get(table, 0) + len(rows)
    if progress:
        progress(table, len(rows))


def _rewrite_ids(table: str, rows: list[dict], ids: dict[str, dict[int, int]]) -> None:
    """Every reference to an entity, episode or relationship rewritten to this store's id (KeyError:
    one the file holds no row for)."""
    kind_table = {"entity": "entities", "episode": "episodes", "relationship": "relationships"}
    for r in rows:
        if table == "entity_aliases":
            r["entity_id"] = ids["entities"][r["entity_id"]]
        elif table == "episode_keys":
            r["episode_id"] = ids["episodes"][r["episode_id"]]
        elif table == "relationships":
            r["subject_id"] = ids["entities"][r["subject_id"]]
            if r["object_id"] is not None:
                r["object_id"] = ids["entities"][r["object_id"]]
                r["object_key"] = f"#{r['object_id']}"
        elif table == "provenance":
            r["item_id"] = ids[kind_table[r["item_kind"]]][r["item_id"]]
