"""nova forget: nothing of the forgotten scope stays in any table, index or data file; the rest is untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from nova.ingest.catchup import run_catchup
from nova.memory.forget import ForgetScope, agent_tables, forget

from conftest import ROOT, write_transcript
from test_catchup_processes import Database, DsnStore
from test_reextract import memories

# Words that occur in one agent's or one session's transcripts only.
MAIN_A, MAIN_B, OPS = "Zorblax", "Quimbleton", "Vextrano"


def _state(root: Path, with_b: bool = True) -> Path:
    main = root / "agents" / "main" / "sessions"
    write_transcript(main / "a.jsonl", "a", [
        ("user", f"My cousin {MAIN_A} lives in Lisbon and plays the cello."), ("assistant", f"Say hi to {MAIN_A}!"),
        ("user", "I started a pottery class in March."),
    ], start="2025-01-10T10:00:00Z", id_prefix="a")
    index = {"agent:main:main": {"sessionId": "a"}}
    if with_b:
        write_transcript(main / "b.jsonl", "b", [
            ("user", f"My neighbour {MAIN_B} moved to Porto last week."), ("assistant", "Oh, nice."),
            ("user", f"{MAIN_B} works at Acme as a welder."),
        ], start="2025-06-01T10:00:00Z", id_prefix="b")
        index["agent:main:telegram:direct:77"] = {"sessionId": "b"}
    (main / "sessions.json").write_text(__import__("json").dumps(index))
    ops = root / "agents" / "ops" / "sessions"
    write_transcript(ops / "a.jsonl", "a", [("user", f"My manager {OPS} lives in Oslo."), ("assistant", "Noted.")],
                     start="2025-02-01T10:00:00Z", id_prefix="o")
    return root


def rows_mentioning(conn, word: str) -> dict[str, int]:
    """Rows of any table whose text form (every column, tsvector included) contains ``word``."""
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    hits = {t: conn.execute(f"SELECT count(*) FROM {t} x WHERE x::text ILIKE %s", (f"%{word}%",)).fetchone()[0]
            for t in tables}
    return {t: n for t, n in hits.items() if n}


def files_mentioning(conn, word: str) -> list[str]:
    """Data files (tables, TOAST, every index) of this database holding ``word`` in any case."""
    conn.execute("CHECKPOINT")
    data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
    if not data_dir.is_dir():
        pytest.skip("the database server's files are not on this machine")
    paths = [r[0] for r in conn.execute(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN (current_schema(), 'pg_toast') AND pg_relation_filepath(c.oid) IS NOT NULL")]
    needles = {word.encode(), word.lower().encode(), word.upper().encode()}
    found = []
    for rel in paths:
        for f in data_dir.glob(rel + "*"):  # segments and the free-space/visibility forks
            blob = f.read_bytes()
            if any(n in blob for n in needles):
                found.append(str(f.relative_to(data_dir)))
    return found


def test_forget_agent_leaves_nothing_behind(store, settings, projector, tmp_path):
    state = _state(tmp_path / "state")
    run_catchup(store, settings, projector, state)
    ops_before = memories(store, "ops")
    with store.connection() as conn:
        assert rows_mentioning(conn, MAIN_A) and files_mentioning(conn, MAIN_A)  # the checks can see it

    report = forget(store, ForgetScope("main"), vacuum="full")  # the bytes leave the data files only then
    assert report.entries == 6 and report.vacuumed == "full"

    with store.connection() as conn:
        for table in agent_tables(conn):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE agent_id = 'main'").fetchone()[0] == 0, table
        for word in (MAIN_A, MAIN_B):
            assert rows_mentioning(conn, word) == {}
            assert files_mentioning(conn, word) == []
        assert rows_mentioning(conn, OPS)  # the other agent is untouched
    assert memories(store, "ops") == ops_before

    # The transcripts are still on disk: catch-up must not remember them again, but new turns count.
    again = run_catchup(store, settings, projector, state)
    assert again.entries_forgotten == 6 and again.entries_new == 0
    with (state / "agents/main/sessions/a.jsonl").open("a") as f:
        f.write('{"type":"message","id":"a9","parentId":"a3","timestamp":"2030-01-01T10:00:00Z",'
                '"message":{"role":"user","content":[{"type":"text","text":"I adopted a cat named Pixel."}]}}\n')
    later = run_catchup(store, settings, projector, state)
    assert later.entries_new == 1
    with store.connection() as conn:
        assert rows_mentioning(conn, MAIN_A) == {} and rows_mentioning(conn, "Pixel")


def test_forget_a_session_is_as_if_it_was_never_read(store, settings, projector, server_dsn, tmp_path):
    run_catchup(store, settings, projector, _state(tmp_path / "state"))
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "nova.cli", "forget", "--agent", "main", "--session-key",
                           "agent:main:telegram:*", "--vacuum", "full", "--yes", "--json"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = __import__("json").loads(done.stdout)
    assert summary["entries_deleted"] == 3 and summary["entries_rebuilt"] == 3 and summary["vacuum"] == "full"

    clean = Database(server_dsn)  # the reference: a store that never saw session b
    try:
        from nova.store.connection import open_store
        with open_store(settings.model_copy(update={"database_url": clean.dsn})) as ref:
            run_catchup(ref, settings, projector, _state(tmp_path / "ref", with_b=False))
        assert memories(store) == memories(DsnStore(clean.dsn))
    finally:
        clean.drop()
    with store.connection() as conn:
        assert rows_mentioning(conn, MAIN_B) == {} and files_mentioning(conn, MAIN_B) == []
        assert conn.execute("SELECT count(*) FROM sessions WHERE session_id = 'b'").fetchone()[0] == 0


def test_forget_before_a_time_and_refusals(store, settings, projector, tmp_path):
    from datetime import datetime, timezone

    run_catchup(store, settings, projector, _state(tmp_path / "state"))
    report = forget(store, ForgetScope("main", before=datetime(2025, 3, 1, tzinfo=timezone.utc)),
                    projector_factory=lambda: projector, vacuum="off")
    assert report.entries == 3 and report.rebuilt_entries == 3
    with store.connection() as conn:
        assert rows_mentioning(conn, MAIN_A) == {} and rows_mentioning(conn, MAIN_B)
        assert conn.execute(
            "SELECT count(*) FROM provenance p WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.agent_id = p.agent_id"
            " AND e.session_id = p.session_id AND e.entry_id = p.entry_id)").fetchone()[0] == 0
    with pytest.raises(ValueError):
        forget(store, ForgetScope("main", session_key="agent:main:*"))  # a rebuild needs a projector
    with psycopg.connect(settings.database_url, autocommit=True) as holder:  # a catch-up holds the agent
        holder.execute("SELECT pg_advisory_lock(hashtext('nova-catchup:' || 'main'))")
        with pytest.raises(RuntimeError, match="working on agent main"):
            forget(store, ForgetScope("main"), wait_s=0.5)
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE agent_id = 'main'").fetchone()[0] == 3


def test_forget_touches_only_novas_own_tables(store, settings, projector, tmp_path):
    """In a database NOVA shares, another application's table with an agent_id column is not NOVA's:
    forgetting an agent leaves its rows alone. NOVA's own list covers every table it creates."""
    from nova.store.migrations import AGENT_TABLES, FORGET_RECORDS

    state = _state(tmp_path / "state")
    run_catchup(store, settings, projector, state)
    with store.connection() as conn:
        created = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name = 'agent_id'")} - set(FORGET_RECORDS)
        assert set(AGENT_TABLES) == created  # a migration that adds an agent table must list it
        conn.execute("CREATE TABLE other_app_notes (agent_id text, note text)")
        conn.execute("INSERT INTO other_app_notes VALUES ('main', 'not NOVA''s to delete')")
        conn.commit()
    forget(store, ForgetScope("main"), vacuum="off")
    with store.connection() as conn:
        assert conn.execute("SELECT note FROM other_app_notes").fetchall() == [("not NOVA's to delete",)]


def test_forgetting_a_fact_forgets_every_row_of_its_text(store, projector, embedder):
    """One sentence can give two relationships with the same fact text ("I keep my climbing shoes in
    locker 4417" → keep, keep_in). The forget rule matches the text, so a rebuild makes neither; the
    forget itself deleted only the one named, and ``/forget`` then still recalled the other."""
    from datetime import datetime, timezone

    from nova.memory.entry_log import LoggedEntry, append_entries
    from nova.memory.forget_one import MemoryRef, forget_memory

    entry = LoggedEntry("a1", "s1", "e1", 1, "agent:a1:main", "user", "Priya", "Assistant",
                        "I keep my climbing shoes in locker 4417 at the gym.", datetime(2026, 3, 1, tzinfo=timezone.utc))
    with store.connection() as conn:
        append_entries(conn, [(entry, None, None)], source_file="t.jsonl")
        projector.project(conn, "a1", [entry])
        rows = conn.execute("SELECT id, fact FROM relationships WHERE agent_id = 'a1' AND fact LIKE '%%4417%%'").fetchall()
        assert len(rows) >= 2 and len({f for _, f in rows}) == 1, rows  # the shape this test is about
        gone = forget_memory(conn, embedder, "a1", MemoryRef("relationship", rows[0][0]), via="cli")
        left = conn.execute("SELECT count(*) FROM relationships WHERE agent_id = 'a1' AND fact LIKE '%%4417%%'").fetchone()[0]
        orphans = conn.execute("SELECT count(*) FROM provenance p WHERE item_kind = 'relationship' AND agent_id = 'a1'"
                               " AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.id = p.item_id)").fetchone()[0]
    assert gone is not None and (left, orphans) == (0, 0)


def test_what_a_forgotten_fact_did_to_other_rows_is_undone_by_the_next_catch_up(store, settings, projector, embedder,
                                                                                 tmp_path):
    """Forgetting one fact (the agent tool, ``/forget``, the UI) deletes its rows at once; what it did to
    other rows is re-derived by the agent's rebuild, which the next catch-up runs: the older home it
    closed is current again, and the entity it described takes the summary a clean build gives it.
    Before, "User lives in Lisbon" stayed closed by a forgotten "I live in Porto now", and Kiwi kept no
    summary where a clean build gives "User adopted a parrot named Kiwi." (found by
    tests/test_rebuild_equivalence.py)."""
    from nova.memory.forget_one import MemoryRef, forget_memory
    from nova.memory.reextract import Scope, reextract

    sessions = tmp_path / "state" / "agents" / "main" / "sessions"
    write_transcript(sessions / "a.jsonl", "a", [
        ("user", "I live in Lisbon."), ("assistant", "Nice!"),
        ("user", "I adopted a parrot named Kiwi."), ("assistant", "Lovely."),
    ], start="2025-01-10T10:00:00Z", id_prefix="a")
    write_transcript(sessions / "b.jsonl", "b", [("user", "I live in Porto now.")], start="2025-06-01T10:00:00Z",
                     id_prefix="b")
    (sessions / "sessions.json").write_text(
        '{"agent:main:main": {"sessionId": "a"}, "agent:main:telegram:direct:9": {"sessionId": "b"}}')
    run_catchup(store, settings, projector, tmp_path / "state")

    def row(sql: str, *args):
        with store.connection() as conn:
            return conn.execute(sql, args).fetchone()

    lisbon = "SELECT valid_to FROM relationships WHERE agent_id = 'main' AND fact = 'User lives in Lisbon.'"
    kiwi = "SELECT summary FROM entities WHERE agent_id = 'main' AND norm_name = 'kiwi'"
    assert row(lisbon)[0] is not None and row(kiwi)[0] == "Kiwi is a parrot", "the shape this test is about"
    with store.connection() as conn:
        for fact in ("User lives in Porto now.", "Kiwi is a parrot"):
            (rid,) = conn.execute("SELECT id FROM relationships WHERE agent_id = 'main' AND fact = %s", (fact,)).fetchone()
            assert forget_memory(conn, embedder, "main", MemoryRef("relationship", rid), via="tool") is not None
    assert row("SELECT count(*) FROM relationships WHERE agent_id = 'main' AND fact LIKE '%%Porto%%'")[0] == 0
    report = run_catchup(store, settings, projector, tmp_path / "state")
    assert row(lisbon)[0] is None
    assert row(kiwi)[0] == "User adopted a parrot named Kiwi."
    assert (report.rebuilt, report.entries_new) == (5, 0)
    assert row("SELECT count(*) FROM rebuild_pending WHERE agent_id = 'main'")[0] == 0
    assert row("SELECT count(*) FROM relationships WHERE agent_id = 'main' AND fact LIKE '%%Porto%%'")[0] == 0
    # Any whole rebuild of the agent is the one the mark asks for: a re-extraction meanwhile takes it away.
    with store.connection() as conn:
        (rid,) = conn.execute("SELECT id FROM relationships WHERE agent_id = 'main' AND fact LIKE '%%Lisbon%%'").fetchone()
        forget_memory(conn, embedder, "main", MemoryRef("relationship", rid), via="tool")
    assert row("SELECT count(*) FROM rebuild_pending WHERE agent_id = 'main'")[0] == 1
    reextract(store, projector, Scope(("main",)))
    assert run_catchup(store, settings, projector, tmp_path / "state").rebuilt == 0
