import json
import os
import subprocess
import sys

import pytest

from nova.ingest.catchup import run_catchup
from nova.recall.items import RecallTrace
from nova.recall.search import recall
from nova.recall.block import render_items

from conftest import runtime_with, write_transcript


@pytest.fixture
def two_agents(store, settings, projector, state_dir):
    """Agent main (the sample) and agent other, who talks about things main never heard of."""
    other = state_dir / "agents" / "other" / "sessions" / "o1.jsonl"
    write_transcript(other, "o1", [
        ("user", "My greyhound is called Zorblat and I live in Reykjavik."),
        ("assistant", "Zorblat is a great name for a greyhound!"),
        ("user", "I prefer TypeScript and I am working on Project Heron too."),
    ], id_prefix="o")
    (other.parent / "sessions.json").write_text(json.dumps({"agent:other:main": {"sessionId": "o1"}}))
    run_catchup(store, settings, projector, state_dir)
    return store


def test_recall_finds_the_memory_with_provenance(two_agents, embedder):
    with two_agents.connection() as conn:
        items = recall(conn, embedder, "main", "What is the name of Dana's dog?", budget_tokens=300)
    assert items
    assert any("Biscuit" in i.text for i in items[:2])
    top = next(i for i in items if "Biscuit" in i.text)
    assert {"session_id", "entry_id"} <= set(top.sources[0])
    assert sum(i.tokens for i in items) <= 300
    assert all(i.tokens > 0 and i.score > 0 for i in items)
    assert render_items(items).startswith("<nova-memory>")


def test_recall_never_returns_another_agents_rows(two_agents, embedder):
    with two_agents.connection() as conn:
        main_entries = {(s, e) for s, e in conn.execute("SELECT session_id, entry_id FROM entries WHERE agent_id = 'main'")}
        for query in ("Zorblat the greyhound", "Who lives in Reykjavik?", "TypeScript Project Heron", "dog"):
            for item in recall(conn, embedder, "main", query, budget_tokens=2000, limit=100):
                assert "Zorblat" not in item.text and "Reykjavik" not in item.text
                assert {(s["session_id"], s["entry_id"]) for s in item.sources} <= main_entries
        other = recall(conn, embedder, "other", "What is my dog called?", budget_tokens=2000)
        assert other and all(s["session_id"] == "o1" for i in other for s in i.sources)
        assert recall(conn, embedder, "nobody", "dog") == []


def test_parallel_paths_recall_what_one_connection_recalls(two_agents, embedder):
    """The paths run on a second connection change latency, not the answer."""
    queries = ("What is the name of Dana's dog?", "Zorblat the greyhound", "TypeScript Project Heron", "Tell me about Dana")
    with two_agents.connection() as conn, two_agents.spare_connection() as side:
        assert side is not None
        for agent in ("main", "other"):
            for query in queries:
                alone = recall(conn, embedder, agent, query, budget_tokens=500)
                parallel = recall(conn, embedder, agent, query, budget_tokens=500, side_conn=side)
                assert [(i.kind, i.id, i.paths) for i in parallel] == [(i.kind, i.id, i.paths) for i in alone]
                assert alone or agent == "other"


def test_a_spare_connection_never_waits_on_a_busy_pool(two_agents):
    """Recall asks for its second connection without waiting: with the pool held by others it runs on one."""
    held = [two_agents.pool.getconn() for _ in range(two_agents.pool.max_size)]
    try:
        with two_agents.spare_connection() as side:
            assert side is None
    finally:
        for conn in held:
            two_agents.pool.putconn(conn)
    with two_agents.spare_connection() as side:
        assert side is not None and side.execute("SELECT 1").fetchone() == (1,)


def test_budget_and_limit_are_respected(two_agents, embedder):
    with two_agents.connection() as conn:
        small = recall(conn, embedder, "main", "Tell me about Dana", budget_tokens=80)
        assert sum(i.tokens for i in small) <= 80
        assert len(recall(conn, embedder, "main", "Tell me about Dana", limit=2)) <= 2
        with pytest.raises(ValueError):
            recall(conn, embedder, "main", "   ")


def test_cli_catchup_and_batch_recall(settings, state_dir, tmp_path):
    """The console script end to end: catch-up twice, then recall in batch with --json."""
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(tmp_path / "home"))
    nova = [sys.executable, "-m", "nova.cli"]
    first = subprocess.run(nova + ["catchup", "--openclaw-dir", str(state_dir), "--json"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["entries_new"] == 12
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "b", "query": "Where does Dana live now?"}\n{"id": "a", "query": "dog name"}\n')
    batch = subprocess.run(nova + ["recall", "--agent", "main", "--queries", str(queries), "--json"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert batch.returncode == 0, batch.stderr
    lines = [json.loads(l) for l in batch.stdout.splitlines()]
    assert [l["id"] for l in lines] == ["b", "a"]
    assert any("Hamburg" in i["text"] for i in lines[0]["items"])
    assert all(set(i) >= {"kind", "text", "score", "tokens", "sources"} for l in lines for i in l["items"])
    bad = subprocess.run(nova + ["catchup", "--openclaw-dir", str(tmp_path / "missing")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert bad.returncode == 2 and "no OpenClaw agents" in bad.stderr


def test_explain_trace_says_why_each_candidate_was_kept_or_cut(store, settings, projector, embedder, state_dir):
    from nova.ingest.catchup import run_catchup

    run_catchup(store, settings, projector, state_dir)
    with store.connection() as conn:
        agent = conn.execute("SELECT agent_id FROM entries GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        plain = recall(conn, embedder, agent, "Where does Dana live now?", budget_tokens=60)
        trace = RecallTrace()
        items = recall(conn, embedder, agent, "Where does Dana live now?", budget_tokens=60, trace=trace)
    assert [(i.kind, i.id) for i in items] == [(i.kind, i.id) for i in plain]   # tracing changes nothing
    assert set(trace.paths) == {"vector", "fulltext", "graph", "continuation"} and trace.paths["vector"]
    kept = [(k, i) for k, i, d, _ in trace.decisions if d == "kept"]
    assert kept == [(i.kind, i.id) for i in items]
    picks = [r.split(",")[0] for _, _, d, r in trace.decisions if d == "kept"]
    assert picks == [f"pick {n}" for n in range(1, len(picks) + 1)], picks  # counted in the order chosen
    cut = [r for _, _, d, r in trace.decisions if d == "cut"]
    assert cut and all(r for r in cut)   # a tight budget cuts something, and says why
    assert all(trace.texts.get((k, i)) for k, i, _ in trace.paths["vector"])
    assert {"fulltext", "vector", "graph", "pack"} <= set(trace.timings_ms)
    data = trace.to_json()
    assert data["fused"][0]["score"] >= data["fused"][-1]["score"]


def test_sampled_telemetry_holds_numbers_only_and_is_pruned(store, settings, projector, embedder, state_dir):
    from fastapi.testclient import TestClient

    from nova.ingest.catchup import run_catchup
    from nova.serve.app import create_app
    from nova.recall.telemetry import prune, summary

    run_catchup(store, settings, projector, state_dir)
    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir, telemetry_sample_rate=1.0)
    with TestClient(create_app(rt, start_worker=False)) as client:
        for q in ("Where does Dana live now?", "What stack does Heron use?", "Who leads the project?"):
            assert client.post("/v1/recall", json={"sessionKey": "agent:main:main", "query": q}).status_code == 200
    rt.close()
    with store.connection() as conn:
        rows = conn.execute("SELECT agent_id, source, took_ms, candidates, items, tokens, recall_telemetry::text"
                            " FROM recall_telemetry").fetchall()
        assert len(rows) == 3 and all(r[0] == "main" and r[1] == "recall" and r[2] > 0 for r in rows)
        assert all(set(r[3]) == {"vector", "fulltext", "graph", "continuation"} for r in rows)
        assert not any(w in r[6] for r in rows for w in ("Dana", "Heron", "Hamburg", "stack"))   # no query or memory text
        stats = summary(conn, "main")
        assert stats["sampled"] == 3 and stats["p95_ms"] >= stats["p50_ms"] > 0
        conn.execute("UPDATE recall_telemetry SET at = now() - interval '30 days' WHERE id = (SELECT min(id) FROM recall_telemetry)")
        assert prune(conn, 14) == 1
        assert conn.execute("SELECT count(*) FROM recall_telemetry").fetchone()[0] == 2


def test_mmr_spends_the_budget_on_different_memories(store, settings, projector, embedder, tmp_path):
    """Five paraphrases of one hobby and one other hobby: three places in the block hold both hobbies."""
    import nova.recall.packing as packing

    sessions = tmp_path / "agents" / "mmr" / "sessions"
    hiking = ["I love hiking in the Alps every summer.", "Hiking in the Alps is my favourite thing every summer.",
              "Every summer I go hiking in the Alps, I love it.", "My summers are all about hiking in the Alps.",
              "Nothing beats a summer of hiking in the Alps for me."]
    keys = {}
    for n, text in enumerate(hiking + ["On weekends I also go kayaking on Lake Como."]):  # a session each:
        write_transcript(sessions / f"s{n}.jsonl", f"s{n}", [("user", text), ("assistant", "Nice!")],  # no continuation
                         id_prefix=f"m{n}-")
        keys[f"agent:mmr:telegram:direct:{n}"] = {"sessionId": f"s{n}"}
    (sessions / "sessions.json").write_text(json.dumps(keys))
    run_catchup(store, settings, projector, tmp_path)

    def recalled(lambda_: float) -> list[str]:
        saved, packing.MMR_LAMBDA = packing.MMR_LAMBDA, lambda_
        try:
            with store.connection() as conn:
                return [i.text for i in recall(conn, embedder, "mmr", "What are my summer and weekend activities?",
                                               limit=3, budget_tokens=400)]
        finally:
            packing.MMR_LAMBDA = saved

    assert len(recalled(packing.MMR_LAMBDA)) == 3
    assert any("kayaking" in t for t in recalled(packing.MMR_LAMBDA))
    # Ranking by relevance alone (no redundancy penalty) spends all three places on the Alps.
    assert not any("kayaking" in t for t in recalled(1.0))


def test_the_exchange_after_a_match_is_recalled_with_it(store, settings, projector, embedder, tmp_path, monkeypatch):
    """"It taught me patience" names neither the book nor anything asked: the continuation path
    reaches it through the exchange before it, which names the book."""
    import nova.recall.fusion as fusion

    sessions = tmp_path / "agents" / "cont" / "sessions"
    write_transcript(sessions / "s0.jsonl", "s0", [
        ("user", "I just finished reading Dune by Frank Herbert."), ("assistant", "What did you think of it?"),
        ("user", "It taught me patience and a lot about desert ecology."), ("assistant", "Sounds great.")],
        id_prefix="c")
    keys = {"agent:cont:main": {"sessionId": "s0"}}
    for n, thing in enumerate(("bike", "sink", "fence", "laptop", "boiler", "gate"), 1):
        write_transcript(sessions / f"s{n}.jsonl", f"s{n}", [
            ("user", f"Reminder: the {thing} needs fixing this week."), ("assistant", "Noted.")], id_prefix=f"f{n}-")
        keys[f"agent:cont:telegram:direct:{n}"] = {"sessionId": f"s{n}"}
    (sessions / "sessions.json").write_text(json.dumps(keys))
    run_catchup(store, settings, projector, tmp_path)

    def recalled(weight: float):
        monkeypatch.setitem(fusion.PATH_WEIGHTS, "continuation", weight)
        trace = RecallTrace()
        with store.connection() as conn:
            items = recall(conn, embedder, "cont", "What did I get out of the Dune book?", limit=2, trace=trace)
        return [i.text for i in items], trace

    texts, trace = recalled(0.6)
    assert any("patience" in t for t in texts), texts
    assert any("patience" in trace.texts[(k, i)] for k, i, _ in trace.paths["continuation"])
    without, _ = recalled(0.0)
    assert not any("patience" in t for t in without), without


def test_full_text_leaves_out_words_most_memories_share(store, settings, projector, embedder, tmp_path):
    """A query word in most of an agent's memories ("coffee" here) is left out of the full-text query,
    a rare one ("violin") is kept, and an all-common query keeps its rarest word. The counts are NOVA's
    own (lexeme_frequencies), per agent, exact after any catch-up, with no ANALYZE."""
    from nova.recall.paths.fulltext import COMMON_WORD_SHARE, any_word_query
    from nova.recall.query import query_lexemes

    topics = ["the garden", "my sister", "the train", "a new job", "the weather", "football", "a recipe", "the dentist"]
    turns = []
    for i in range(110):
        turns += [("user", f"Over coffee this morning I thought about {topics[i % len(topics)]} again."),
                  ("assistant", "Sounds like a calm start to the day.")]
    turns[41] = ("user", "Over coffee I practised the violin for an hour.")
    for agent, lines in (("stats", turns), ("other", [("user", "Coffee with the violin teacher on Monday."),
                                                      ("user", "The garden needs water.")])):
        sessions = tmp_path / "agents" / agent / "sessions"
        write_transcript(sessions / "s1.jsonl", "s1", lines, id_prefix="s")
        (sessions / "sessions.json").write_text(json.dumps({f"agent:{agent}:main": {"sessionId": "s1"}}))
    report = run_catchup(store, settings, projector, tmp_path)
    assert report.entries_new == 222
    with store.connection() as conn:
        for table in ("episodes", "relationships"):
            recount = conn.execute(
                f"SELECT agent_id, l, count(*) FROM {table}, unnest(array_append(tsvector_to_array(tsv), '')) l"
                " GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
            kept = conn.execute("SELECT agent_id, lexeme, n_rows FROM lexeme_frequencies WHERE tbl = %s"
                                " ORDER BY 1, 2", (table,)).fetchall()
            assert kept == recount, table
        rows = lambda w: conn.execute("SELECT n_rows FROM lexeme_frequencies WHERE agent_id = 'stats'"
                                      " AND tbl = 'episodes' AND lexeme = %s", (w,)).fetchone()[0]
        assert rows("coffe") > COMMON_WORD_SHARE * rows("") and rows("violin") <= COMMON_WORD_SHARE * rows("")
        assert any_word_query(conn, "stats", "episodes", query_lexemes(conn, "coffee and the violin")) == "'violin'"
        assert any_word_query(conn, "stats", "episodes", query_lexemes(conn, "coffee this morning")) in ("'coffe'", "'morn'")
        # Per agent: in a store of two memories every word is in half of them, and none is left out.
        assert any_word_query(conn, "other", "episodes", query_lexemes(conn, "coffee and the violin")) == "'coffe' | 'violin'"
        trace = RecallTrace()
        items = recall(conn, embedder, "stats", "When did I play the violin over coffee?", budget_tokens=200, trace=trace)
        assert "violin" in items[0].text
        searched = trace.fulltext_queries["episodes"]   # what explain shows the operator
        assert "'violin'" in searched and "coffe" not in searched
