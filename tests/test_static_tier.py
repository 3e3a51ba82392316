"""Two tiers of embeddings: static vectors in the ingest transaction, dense ones filled in behind.

A memory must be searchable by meaning the moment its transaction commits (before any dense vector),
the dense pass must fill exactly what is pending, never write a vector for text that changed while it
encoded, and leave a store that recalls as the dense model alone would; the CLI reports both stages.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

from conftest import ROOT, write_transcript

NOVA = str(ROOT / ".venv" / "bin" / "nova")


@pytest.fixture
def tiered_store(settings, tiered_embedder):
    from nova.store.connection import open_store
    from nova.store.migrations import ensure_static_indexes, ensure_vector_indexes

    st = open_store(settings)
    with st.connection() as conn:
        ensure_vector_indexes(conn, settings.embedding_model, tiered_embedder.dim)
        ensure_static_indexes(conn, tiered_embedder.static.name, tiered_embedder.static.dim)
    yield st
    st.close()


def _log_and_project(store, extractor, embedder, turns, session="s1"):
    """Entries in the entry log, projected by a projector with ``embedder`` (as catch-up does)."""
    from datetime import datetime, timedelta, timezone

    from nova.memory.entry_log import LoggedEntry, append_entry
    from nova.memory.projection import Projector

    t0 = datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)
    entries = [LoggedEntry(agent_id="main", session_id=session, entry_id=f"{session}-e{i}", seq=i,
                           session_key="agent:main:main", role=role, speaker="Dana" if role == "user" else "Nova",
                           addressee="Nova" if role == "user" else "Dana", text=text,
                           occurred_at=t0 + timedelta(minutes=i))
               for i, (role, text) in enumerate(turns, 1)]
    with store.connection() as conn, conn.transaction():
        for e in entries:
            append_entry(conn, e, parent_id=None, channel=None, source_file=f"{session}.jsonl")
        Projector(extractor, embedder).project(conn, "main", entries)
    return entries


TURNS = [("user", "My sister Priya adopted a greyhound named Waffles last week."),
         ("assistant", "A greyhound! Waffles sounds lovely."),
         ("user", "I started learning the cello in January, lessons every Thursday."),
         ("assistant", "Cello is a beautiful instrument.")]


def test_searchable_by_meaning_before_any_dense_vector(tiered_store, extractor, tiered_embedder):
    from nova.memory.dense_fill import fill_vectors, pending_dense
    from nova.recall.search import recall

    _log_and_project(tiered_store, extractor, tiered_embedder, TURNS)
    with tiered_store.connection() as conn:
        for table in ("entities", "relationships", "episode_keys"):
            dense, static, total = conn.execute(
                f"SELECT count(embedding), count(static_embedding), count(*) FROM {table}").fetchone()
            assert total > 0 and dense == 0 and static == total, (table, dense, static, total)
        pending = pending_dense(conn)
        assert set(pending) == {"main"} and pending["main"] > 0
        # A paraphrase that shares no word with the turn: only a vector path can find it.
        items = recall(conn, tiered_embedder, "main", "which dog breed did her sibling take home")
        found = [i for i in items if "greyhound" in i.text]
        assert found and "static" in found[0].paths, [(i.text, i.paths) for i in items]
        assert all("vector" not in i.paths for i in items)

        stats = fill_vectors(conn, tiered_embedder, batch=4)
        assert stats.dense == pending["main"] and stats.skipped == 0
        assert pending_dense(conn) == {}
        assert fill_vectors(conn, tiered_embedder).dense == 0  # idempotent: nothing left
        rate = json.loads(conn.execute("SELECT value FROM nova_meta WHERE key = 'dense_fill_rate'").fetchone()[0])
        assert rate["texts"] == stats.dense and rate["texts_per_s"] > 0
        # The dense vector is the dense model's embedding of the row's own text.
        key_text, vec = conn.execute("SELECT key_text, embedding FROM episode_keys ORDER BY entry_id LIMIT 1").fetchone()
        assert np.allclose(np.asarray(vec.to_numpy()), tiered_embedder.encode([key_text])[0], atol=1e-4)
        items = recall(conn, tiered_embedder, "main", "which dog breed did her sibling take home")
        found = [i for i in items if "greyhound" in i.text]
        assert found and "vector" in found[0].paths and all("static" not in i.paths for i in items)


def test_complete_store_recalls_as_the_dense_model_alone(settings, store, tiered_store, extractor, embedder,
                                                         tiered_embedder, server_dsn):
    """Once the dense pass is done, the static tier leaves no trace in what recall returns."""
    from nova.config import load_settings
    from nova.memory.dense_fill import fill_vectors
    from nova.recall.search import recall
    from nova.store.connection import open_store
    from nova.store.migrations import ensure_vector_indexes

    _log_and_project(tiered_store, extractor, tiered_embedder, TURNS)
    with tiered_store.connection() as conn:
        fill_vectors(conn, tiered_embedder)
    # The same entries into a second database, dense model only.
    name = "t_dense_" + hashlib.sha1(str(settings.database_url).encode()).hexdigest()[:8]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dense_store = open_store(load_settings(database_url=psycopg.conninfo.make_conninfo(server_dsn, dbname=name)))
    try:
        with dense_store.connection() as conn:
            ensure_vector_indexes(conn, settings.embedding_model, embedder.dim)
        _log_and_project(dense_store, extractor, embedder, TURNS)
        for query in ("What pet does Priya have?", "When are the cello lessons?", "Tell me about Waffles"):
            with tiered_store.connection() as a, dense_store.connection() as b:
                got = [(i.key, i.text, i.paths) for i in recall(a, tiered_embedder, "main", query)]
                want = [(i.key, i.text, i.paths) for i in recall(b, embedder, "main", query)]
            assert got == want, query
    finally:
        dense_store.close()
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_dense_pass_never_writes_a_vector_for_text_that_changed(tiered_store, extractor, tiered_embedder):
    """A writer closes a fact while the dense model encodes its old text: the old text's vector is not
    written, the row stays pending, and a later round writes the new text's vector."""
    from nova.memory.dense_fill import fill_vectors, pending_dense
    from nova.memory.texts import relationship_text

    _log_and_project(tiered_store, extractor, tiered_embedder, TURNS)
    with tiered_store.connection() as conn:
        rid, fact = conn.execute("SELECT id, fact FROM relationships WHERE fact ILIKE '%%cello%%' LIMIT 1").fetchone()
        before = pending_dense(conn)["main"]

    dense = tiered_embedder
    wrote = threading.Event()

    class RacingEncoder:
        """The dense model, with a writer closing the fact while it encodes (as catch-up would)."""
        static = dense.static

        def encode(self, texts):
            if not wrote.is_set():
                with tiered_store.connection() as other, other.transaction():
                    other.execute("UPDATE relationships SET valid_to = '2024-06-01', embedding = NULL WHERE id = %s",
                                  (rid,))
                wrote.set()
            return dense.encode(texts)

    with tiered_store.connection() as conn:
        # The first round skips the changed row; a later round takes it again, with its new text.
        stats = fill_vectors(conn, RacingEncoder(), batch=1000)
        assert stats.skipped == 1 and stats.dense == before
        assert pending_dense(conn) == {}
        vf, vt, vec = conn.execute("SELECT valid_from, valid_to, embedding FROM relationships WHERE id = %s",
                                   (rid,)).fetchone()
        assert vt is not None
        assert np.allclose(np.asarray(vec.to_numpy()), dense.encode([relationship_text(fact, vf, vt)])[0], atol=1e-4)


def test_another_static_model_is_recomputed_not_mixed(tiered_store, extractor, tiered_embedder):
    """Static vectors of another static model are cleared when the store meets this one, and the pass
    computes them again; until then those rows are found by their dense vectors."""
    from nova.memory.dense_fill import fill_static, fill_vectors, static_fill_pending
    from nova.store.migrations import ensure_static_indexes, stored_static_model

    _log_and_project(tiered_store, extractor, tiered_embedder, TURNS)
    with tiered_store.connection() as conn:
        fill_vectors(conn, tiered_embedder)
        assert not static_fill_pending(conn) or fill_static(conn, tiered_embedder).static == 0
        ensure_static_indexes(conn, "static:0123456789abcdef", tiered_embedder.static.dim)  # another model
        assert stored_static_model(conn) == f"static:0123456789abcdef|{tiered_embedder.static.dim}"
        assert conn.execute("SELECT count(static_embedding) FROM relationships").fetchone()[0] == 0
        assert static_fill_pending(conn)
        ensure_static_indexes(conn, tiered_embedder.static.name, tiered_embedder.static.dim)
        stats = fill_static(conn, tiered_embedder)
        total = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("entities", "relationships", "episode_keys"))
        assert stats.static == total and not static_fill_pending(conn)
        key_text, svec = conn.execute("SELECT key_text, static_embedding FROM episode_keys ORDER BY entry_id LIMIT 1").fetchone()
        assert np.allclose(np.asarray(svec.to_numpy()), tiered_embedder.static.encode([key_text])[0], atol=1e-4)


def test_distillation_is_reproducible(static_model_dir, tmp_path):
    """The static model is distilled offline from the bundled MiniLM, with its provenance recorded, and
    a second distillation gives the same weights (so a rebuilt cache keeps the store's static vectors)."""
    from nova.config import BUNDLED_MODEL
    from nova.memory.static_embed import PCA_DIMS, StaticEmbedder

    again = StaticEmbedder(tmp_path / "again", distill_from=BUNDLED_MODEL)
    assert again.dim == PCA_DIMS
    provenance = json.loads((tmp_path / "again" / "nova-distill.json").read_text())
    assert provenance["distilled_from"] == BUNDLED_MODEL and provenance["pca_dims"] == PCA_DIMS
    assert again.name == StaticEmbedder(static_model_dir).name == f"static:{provenance['sha256'][:16]}"
    vectors = again.encode(["Priya adopted a greyhound", "a dog from the shelter", "tax returns are due"])
    assert vectors.shape == (3, PCA_DIMS) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    with pytest.raises(Exception, match="no model2vec model"):
        StaticEmbedder(tmp_path / "missing").encode(["x"])


def test_catchup_reports_searchable_then_dense_and_status_shows_what_waits(settings, tmp_path):
    """`nova catchup --searchable-only` leaves dense vectors pending (nova status counts them);
    a plain `nova catchup` fills them at its end and says so."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NOVA_HOME": str(settings.home),
           "NOVA_DATABASE_URL": settings.database_url, "NOVA_STATIC_MODEL": str(settings.static_model)}
    state = tmp_path / "state"
    write_transcript(state / "agents" / "main" / "sessions" / "s1.jsonl", "s1", TURNS)
    run = lambda *args: subprocess.run([NOVA, *args], env=env, capture_output=True, text=True, timeout=600)

    first = run("catchup", "--openclaw-dir", str(state), "--searchable-only", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout)["dense"] is None
    status = run("status")
    assert status.returncode == 0, status.stderr[-2000:]
    row = next(line for line in status.stdout.splitlines() if "│ main" in line)
    pending = int(row.split("│")[10])
    assert pending > 0 and f"dense vectors: {pending} pending" in status.stdout

    second = run("catchup", "--openclaw-dir", str(state))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing new" in second.stdout and f"dense vectors: {pending} filled" in second.stdout, second.stdout
    status = run("status")
    row = next(line for line in status.stdout.splitlines() if "│ main" in line)
    assert int(row.split("│")[10]) == 0 and "dense vectors: 0 pending; the last pass" in status.stdout
