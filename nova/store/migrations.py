"""The schema: numbered migrations from ``sql/`` (shipped as ``nova.sql``), applied once each under an
advisory lock, and the HNSW indexes for the embedding model's dimension (recorded in ``nova_meta``)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from importlib import resources

import psycopg

from nova.store.errors import StoreError

__all__ = ["migration_files", "migration_checksum", "apply_migrations", "missing_vector_indexes",
           "stored_embedding_model", "ensure_vector_indexes", "ensure_static_indexes", "stored_static_model", "clear_static_vectors", "VECTOR_TABLES", "AGENT_TABLES", "FORGET_RECORDS"]

log = logging.getLogger(__name__)

# The repo's sql/, shipped inside the package as nova.sql (pyproject.toml maps it).
MIGRATIONS_PACKAGE = "nova.sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
# Advisory lock key so concurrent processes never run migrations at the same time.
_MIGRATION_LOCK = 0x6E6F7661
VECTOR_TABLES = ("entities", "episode_keys", "relationships")  # each has an HNSW index per dimension


# NOVA's tables that hold an agent's rows (an agent_id column), but for FORGET_RECORDS, which record
# what was forgotten (scopes and rules, no content) so that it is not remembered again, and who curated
# what (curation_audit, no content). Listed, not discovered: in a database NOVA shares, another application's
# table with an agent_id column is not NOVA's to delete from. A test checks it against the
# migrations, so a new table cannot be left out unnoticed.
AGENT_TABLES = ("agent_speakers", "entities", "entity_aliases", "entity_rules", "entries", "entry_extraction", "episode_keys",
                "episodes", "lexeme_frequencies", "provenance", "rebuild_pending", "recall_telemetry", "reextract_progress", "relationships",
                "session_profiles", "sessions", "transcript_cursors")
FORGET_RECORDS = ("curation_audit", "forgotten", "forgotten_memories", "forgotten_sessions")


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
_LOGGED_INDEX_ROWS = 10_000  # an HNSW build over this many rows takes seconds (100k: ~30 s): worth a line


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
    _create_hnsw(conn, missing, "embedding", dim)


def _create_hnsw(conn: psycopg.Connection, tables: list[str], column: str, dim: int) -> None:
    """HNSW cosine indexes on ``column::vector(dim)`` of ``tables``, each under a lock timeout."""
    for table in tables:
        # An index over many rows (a store imported, or upgraded to another model) takes a while:
        # say so at INFO, the level of normal first-run work (the CLI shows it without -v).
        rows = conn.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                            (table,)).fetchone()
        started = time.monotonic()
        if rows and rows[0] >= _LOGGED_INDEX_ROWS:
            log.info("building the %s vector index on %s (about %d rows; once)", column, table, rows[0])
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_INDEX_LOCK_WAIT}'")
                # One creator at a time (two processes meeting a fresh database would both create
                # it, and the second fail on pg_class' unique name); the second then finds it there.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {_index_name(table, column, dim)} ON {table} "
                    f"USING hnsw (({column}::vector({dim})) vector_cosine_ops)"
                )
        except psycopg.errors.LockNotAvailable:
            log.warning("vector index on %s not created: other writers hold the table; it is created the"
                        " next time NOVA loads the model", table)
            continue
        if rows and rows[0] >= _LOGGED_INDEX_ROWS:
            log.info("vector index on %s built in %.1f s", table, time.monotonic() - started)


def _index_name(table: str, column: str, dim: int) -> str:
    return f"{table}_embedding_hnsw_{dim}" if column == "embedding" else f"{table}_static_hnsw_{dim}"


def stored_static_model(conn: psycopg.Connection) -> str | None:
    """``"<static model name>|<dim>"`` of the static vectors this database holds, None before the first."""
    row = conn.execute("SELECT value FROM nova_meta WHERE key = 'static_embedding_model'").fetchone()
    return row[0] if row else None


def clear_static_vectors(conn: psycopg.Connection, agents: list[str] | None = None) -> None:
    """Clear the static vectors of ``agents`` (default: all), made by another static model, and set
    ``static_fill`` so that the dense pass (``nova.memory.dense_fill.fill_static``) recomputes them.
    In the caller's transaction."""
    scope = " AND agent_id = ANY(%s)" if agents is not None else ""
    for table in VECTOR_TABLES:
        conn.execute(f"UPDATE {table} SET static_embedding = NULL WHERE static_embedding IS NOT NULL{scope}",
                     (agents,) if agents is not None else None)
    conn.execute("INSERT INTO nova_meta (key, value) VALUES ('static_fill', 'pending') ON CONFLICT (key) DO NOTHING")


def ensure_static_indexes(conn: psycopg.Connection, name: str, dim: int) -> None:
    """Record the static model (``nova.memory.static_embed``) and create its HNSW indexes.

    Unlike the dense model's, a static model's vectors are cheap to recompute (tens of thousands a
    second): when the store holds another static model's vectors (or none, from before the static tier
    was on) they are cleared and ``static_fill`` is set in ``nova_meta``, which tells the dense pass
    (``nova.memory.dense_fill``) to recompute them. Until then those rows are found by their dense vectors."""
    missing = [t for t in VECTOR_TABLES
               if conn.execute("SELECT to_regclass(%s)", (_index_name(t, "static_embedding", dim),)).fetchone()[0] is None]
    conn.commit()
    wanted = f"{name}|{dim}"
    if stored_static_model(conn) != wanted:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            stored = stored_static_model(conn)
            if stored != wanted:
                if stored is not None:
                    log.warning("the store's static vectors are from %s, not %s: they are recomputed", stored, wanted)
                    clear_static_vectors(conn)
                conn.execute("INSERT INTO nova_meta (key, value) VALUES ('static_embedding_model', %s), ('static_fill', 'pending')"
                             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (wanted,))
    _create_hnsw(conn, missing, "static_embedding", dim)
