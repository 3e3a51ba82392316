"""nova export / nova import: an agent's memories moved to a fresh store recall exactly as before;
import is all-or-nothing, idempotent, and refuses what it cannot import faithfully."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, row_counts, write_transcript
from nova.ingest.catchup import run_catchup
from nova.memory.export_import import ImportError_, export_agents, import_file
from nova.memory.forget_one import MemoryRef, forget_memory
from nova.recall.search import recall

QUESTIONS = ["Where does Ana live?", "What instrument is being learned?", "When did the cello lessons start?",
             "Who is the sister?", "What happened in March?"]


@pytest.fixture
def target(server_dsn, settings, embedder):
    """A second, empty store on the same server (where the memories move to)."""
    from nova.store.connection import open_store

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    st = open_store(settings.model_copy(update={"database_url": psycopg.conninfo.make_conninfo(server_dsn, dbname=name)}))
    yield st
    st.close()
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _two_agents(store, settings, projector, tmp_path) -> Path:
    state = tmp_path / "state"
    for agent, who in (("main", "Ana"), ("ops", "Ben")):
        write_transcript(state / "agents" / agent / "sessions" / "a.jsonl", "a", [
            ("user", f"My sister {who} lives in Lisbon."), ("assistant", "Nice!"),
            ("user", "I started learning the cello in March."), ("assistant", "Great."),
            ("user", "My API key is sk-live-abcdefghijklmnopqrstuvwx1234."), ("assistant", "Please rotate it."),
        ], start="2025-01-10T10:00:00Z", id_prefix=agent)
    run_catchup(store, settings, projector, state)
    return state


def _recall_json(store, embedder, agent: str, questions: list[str]) -> str:
    with store.connection() as conn:
        return "\n".join(json.dumps([i.to_json() for i in recall(conn, embedder, agent, q)], ensure_ascii=False)
                         for q in questions)


def _export(store, path: Path, agents=None):
    with store.connection() as conn, path.open("w", encoding="utf-8") as f:
        return export_agents(conn, agents, f)


def test_moved_memories_recall_byte_identically(store, target, settings, projector, embedder, tmp_path):
    _two_agents(store, settings, projector, tmp_path)
    with store.connection() as conn:  # a forgotten fact stays forgotten in the new store
        rid = conn.execute("SELECT id FROM relationships WHERE agent_id = 'main' AND fact LIKE '%%cello%%'").fetchone()
        if rid:
            forget_memory(conn, embedder, "main", MemoryRef("relationship", rid[0]), via="cli")
    path = tmp_path / "main.jsonl"
    report = _export(store, path, ["main"])
    assert report.rows["entries"] == 6 and report.rows["entities"] > 0
    text = path.read_text()
    assert "sk-live-" not in text and "[REDACTED:" in text  # the entry log as logged: redacted
    assert '"agent_id":"ops"' not in text  # only the agent asked for
    # The target is in use: its HNSW indexes exist (rows go into them one by one), and its serials are
    # elsewhere (other agents' rows took the first ids): ids are rewritten.
    from nova.store.migrations import ensure_vector_indexes

    with target.connection() as conn:
        ensure_vector_indexes(conn, settings.embedding_model, embedder.dim)
        for seq in ("entities_id_seq", "episodes_id_seq", "relationships_id_seq"):
            conn.execute("SELECT setval(%s, 1000)", (seq,))
        conn.commit()
    done = import_file(target, path, embedding_model=settings.embedding_model)
    assert not done.already_imported and done.rows == {t: n for t, n in report.rows.items() if n}
    assert _recall_json(target, embedder, "main", QUESTIONS) == _recall_json(store, embedder, "main", QUESTIONS)
    with target.connection() as conn:
        assert conn.execute("SELECT min(id) FROM entities").fetchone()[0] > 1000
    assert _recall_json(target, embedder, "ops", QUESTIONS) == "\n".join(["[]"] * len(QUESTIONS))
    with target.connection() as conn:
        assert conn.execute("SELECT count(*) FROM forgotten_memories WHERE agent_id = 'main'").fetchone()[0] == (1 if rid else 0)
    # Again: nothing happens.
    before = row_counts(target)
    assert import_file(target, path, embedding_model=settings.embedding_model).already_imported
    assert row_counts(target) == before


def test_an_empty_store_gets_its_vector_indexes_after_the_rows(store, target, settings, projector, embedder,
                                                                 tmp_path):
    from nova.store.migrations import missing_vector_indexes

    _two_agents(store, settings, projector, tmp_path)
    path = tmp_path / "all.jsonl"
    _export(store, path)
    import_file(target, path, embedding_model=settings.embedding_model)
    with target.connection() as conn:
        assert missing_vector_indexes(conn, embedder.dim) == []
    assert _recall_json(target, embedder, "ops", QUESTIONS) == _recall_json(store, embedder, "ops", QUESTIONS)


def test_a_damaged_or_foreign_file_changes_nothing(store, target, settings, projector, embedder, tmp_path):
    _two_agents(store, settings, projector, tmp_path)
    path = tmp_path / "all.jsonl"
    _export(store, path)
    lines = path.read_text().splitlines(keepends=True)
    before = row_counts(target)
    edited = tmp_path / "edited.jsonl"
    at = next(n for n, line in enumerate(lines) if "Lisbon" in line)
    edited.write_text("".join(lines[:at] + [lines[at].replace("Lisbon", "Madrid")] + lines[at + 1:]))
    with pytest.raises(ImportError_, match="checksum"):
        import_file(target, edited, embedding_model=settings.embedding_model)
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(lines[:-3]))
    with pytest.raises(ImportError_, match="manifest"):
        import_file(target, truncated, embedding_model=settings.embedding_model)
    newer = tmp_path / "newer.jsonl"
    newer.write_text(lines[0].replace('"version":1', '"version":2') + "".join(lines[1:]))
    with pytest.raises(ImportError_, match="version 2"):
        import_file(target, newer, embedding_model=settings.embedding_model)
    with pytest.raises(ImportError_, match="not a NOVA export"):
        import_file(target, ROOT / "README.md", embedding_model=settings.embedding_model)
    with pytest.raises(ImportError_, match="--re-embed"):
        import_file(target, path, embedding_model="sentence-transformers/some-other-model")
    with pytest.raises(ImportError_, match="already have memories"):
        import_file(store, path, embedding_model=settings.embedding_model)
    assert row_counts(target) == before


def test_re_embed_rebuilds_from_the_entry_log(store, target, settings, projector, embedder, tmp_path):
    """The rebuild applies the operator's merge rules too: a merge made in the old store (here "API"
    into Lisbon, as an operator might in `nova ui`) is not undone by moving the agent."""
    from nova.memory.curation import merge_entities

    _two_agents(store, settings, projector, tmp_path)
    with store.connection() as conn:
        lisbon, api = (conn.execute("SELECT id FROM entities WHERE agent_id = 'main' AND name = %s", (n,)).fetchone()[0]
                       for n in ("Lisbon", "API"))
    merge_entities(store, projector, "main", lisbon, api, actor="test")
    path = tmp_path / "all.jsonl"
    _export(store, path)
    lines = path.read_text().splitlines(keepends=True)
    # As if made by another model: the header names it (the checksum covers the header too, so recompute).
    import hashlib
    header = lines[0].replace(settings.embedding_model, "other/model")
    body = lines[1:-1]
    manifest = json.loads(lines[-1])
    manifest["manifest"]["sha256"] = hashlib.sha256("".join([header, *body]).encode()).hexdigest()
    other = tmp_path / "other.jsonl"
    other.write_text("".join([header, *body, json.dumps(manifest) + "\n"]))
    done = import_file(target, other, embedding_model=settings.embedding_model, re_embed=True,
                       projector_factory=lambda: projector)
    assert done.rebuilt_entries == 12 and "entities" not in done.rows and done.rows["entity_rules"] == 1
    assert _recall_json(target, embedder, "main", QUESTIONS) == _recall_json(store, embedder, "main", QUESTIONS)
    with target.connection() as conn:
        assert conn.execute("SELECT e.name FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
                            " WHERE a.agent_id = 'main' AND a.alias_norm = 'api'").fetchone() == ("Lisbon",)


def test_dev_conversations_move_through_the_cli(settings, target, embedder, tmp_path, dialogue_state):
    """The public CLI on the tests' own conversation corpus (tests/dialogue_corpus.py): catch-up,
    export, import into a fresh store, and `nova recall --json` on every corpus question gives the
    same bytes in both."""
    state = dialogue_state
    qs = [json.loads(line) for line in (state / "qa.jsonl").read_text().splitlines()]
    env = {"NOVA_HOME": str(settings.home), "NOVA_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    moved = dict(env, NOVA_DATABASE_URL=target.dsn, NOVA_HOME=str(tmp_path / "home2"))
    nova = lambda *a, env=env: subprocess.run([sys.executable, "-m", "nova.cli", *a], env=env, cwd=ROOT,
                                              capture_output=True, text=True, timeout=900)
    assert nova("catchup", "--openclaw-dir", str(state)).returncode == 0
    export = tmp_path / "corpus.jsonl"
    done = nova("export", "--output", str(export))
    assert done.returncode == 0 and export.exists(), done.stderr
    imported = nova("import", str(export), "--json", env=moved)
    assert imported.returncode == 0, imported.stderr
    agents = sorted({q["agent"] for q in qs})
    assert json.loads(imported.stdout)["agents"] == agents
    for agent in agents:
        questions = tmp_path / f"{agent}.jsonl"
        questions.write_text("".join(json.dumps({"id": n, "query": q["question"]}) + "\n"
                                     for n, q in enumerate(qs) if q["agent"] == agent))
        before = nova("recall", "--agent", agent, "--queries", str(questions), "--json")
        after = nova("recall", "--agent", agent, "--queries", str(questions), "--json", env=moved)
        assert before.returncode == 0 and after.returncode == 0, after.stderr
        assert before.stdout == after.stdout and before.stdout.count("\n") == questions.read_text().count("\n")
