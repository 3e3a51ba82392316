"""Agent isolation and session-key filters as properties over random multi-agent corpora, and SQL injection.

Every agent's transcripts carry made-up names that occur nowhere else. For every agent A, no
recall, bootstrap block or CLI output of A may contain another agent's names, every recalled
item's provenance must be an entry of A, and nothing of a filtered session (sub-agent, cron,
hook) may be stored by catch-up or the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings as hsettings, strategies as st

from nova.ingest.catchup import run_catchup
from nova.recall.profile import build_profile
from nova.recall.search import recall
from nova.recall.block import render_items
from nova.memory.speakers import Speakers

from conftest import ROOT, long_run, runtime_with, write_transcript
from test_forget import rows_mentioning

TEMPLATES = [
    "My friend {n} moved to {p} last spring.",
    "{n} works at {p} as a nurse now.",
    "I went hiking with {n} near {p} on Saturday.",
    "{n} adopted a dog called {m} and loves it.",
    "Remember that {n} is allergic to peanuts.",
    "We are planning a trip to {p} with {n} in June.",
]
syllables = st.sampled_from(["zor", "quil", "vex", "dran", "mol", "teb", "fip", "gru", "xan", "yop", "kel", "wum"])
made_up = st.lists(syllables, min_size=3, max_size=3).map(lambda p: "".join(p).capitalize())
agent_ids = st.sampled_from(["main", "work", "a.b", "x_1", "home-2", "O'Brien", "semi;colon", "dollar$1"])


@st.composite
def corpora(draw):
    agents = draw(st.lists(agent_ids, min_size=2, max_size=3, unique=True))
    names = draw(st.lists(made_up, min_size=3 * len(agents) + 1, max_size=3 * len(agents) + 1, unique=True))
    turns = {a: [(draw(st.sampled_from(TEMPLATES)), names[3 * i:3 * i + 3]) for _ in range(draw(st.integers(2, 5)))]
             for i, a in enumerate(agents)}
    return agents, turns, names[-1]   # the last name is said only in filtered sessions


@pytest.fixture(scope="module")
def shared_db(server_dsn, tmp_path_factory):
    """One database for every example: isolation must hold among all agents ever stored."""
    from nova.config import load_settings
    import psycopg

    name = "iso_" + uuid.uuid4().hex[:10]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    settings = load_settings(database_url=psycopg.conninfo.make_conninfo(server_dsn, dbname=name))
    yield settings, tmp_path_factory
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _write(state, agent_dir: str, turns, hidden: str, tag: str) -> None:
    sessions = state / "agents" / agent_dir / "sessions"
    lines = [("user", t.format(n=n[0], p=n[1], m=n[2])) for t, n in turns]
    write_transcript(sessions / f"m{tag}.jsonl", f"m{tag}", lines, id_prefix=f"m{tag}-")
    write_transcript(sessions / f"s{tag}.jsonl", f"s{tag}", [("user", f"Sub-agent note: {hidden} lives in Zanzibar.")],
                     id_prefix=f"s{tag}-")
    write_transcript(sessions / f"c{tag}.jsonl", f"c{tag}", [("user", f"Cron digest: {hidden} called twice.")],
                     id_prefix=f"c{tag}-")
    (sessions / "sessions.json").write_text(json.dumps({
        f"agent:{agent_dir}:main": {"sessionId": f"m{tag}"},
        f"agent:{agent_dir}:subagent:{tag}": {"sessionId": f"s{tag}"},
        f"agent:{agent_dir}:cron:nightly": {"sessionId": f"c{tag}"},
    }))


@hsettings(max_examples=20 if long_run() else 4)
@given(corpus=corpora())
def test_no_path_returns_another_agents_memories(shared_db, embedder, projector, corpus):
    settings, factory = shared_db
    agents, turns, hidden = corpus
    tag = uuid.uuid4().hex[:6]
    ids = {a: f"{a}-{tag}" for a in agents}   # fresh agents per example, beside all earlier ones
    state = factory.mktemp("state")
    for a in agents:
        _write(state, ids[a], turns[a], hidden, tag)
    from nova.store.connection import open_store
    from nova.serve.app import create_app

    with open_store(settings) as store:
        run_catchup(store, settings, projector, state)
        rt = runtime_with(settings, embedder, projector, openclaw_dir=state)
        with TestClient(create_app(rt, start_worker=False)) as client:
            r = client.post("/v1/messages", json={"sessionKey": f"agent:{ids[agents[0]]}:subagent:x",
                                                   "content": f"{hidden} is secretly a spy."})
            assert r.status_code == 422 or r.json()["status"] == "skipped"
            for a in agents:
                own = {w for _, n in turns[a] for w in n}
                others = {w for b in agents if b != a for _, n in turns[b] for w in n} - own
                outputs = []
                with store.connection() as conn:
                    entry_ids = {(s, e) for s, e in conn.execute(
                        "SELECT session_id, entry_id FROM entries WHERE agent_id = %s", (ids[a],))}
                    for q in [f"What do I know about {w}?" for w in sorted(others | own)[:6]] + ["Who moved where?"]:
                        items = recall(conn, embedder, ids[a], q, limit=20, budget_tokens=1000)
                        assert all((s["session_id"], s["entry_id"]) in entry_ids for i in items for s in i.sources)
                        outputs.append(render_items(items))
                    outputs.append(build_profile(conn, ids[a], Speakers()).text)
                key = f"agent:{ids[a]}:main"
                if r.status_code != 422:  # agent ids the service accepts
                    for q in sorted(others)[:3]:
                        outputs.append(client.post("/v1/recall", json={"sessionKey": key, "query": f"Tell me about {q}"}).text)
                    outputs.append(client.post("/v1/bootstrap", json={"sessionKey": key}).text)
                text = "\n".join(outputs)
                assert any(w in text for w in own), "recall found none of the agent's own memories"
                assert not [w for w in others if w in text], f"agent {a} saw another agent's memory"
                assert hidden not in text
        rt.close()
        with store.connection() as conn:
            assert rows_mentioning(conn, hidden) == {}   # filtered sessions: nothing stored by any path


INJECTIONS = ["x'; DROP TABLE entries; --", "a\" OR \"1\"=\"1", "b' OR '1'='1", "c%' OR agent_id LIKE '%", "d\\'; SELECT 1; --"]


def test_sql_injection_through_agent_ids_keys_queries_and_file_names(store, settings, projector, embedder, tmp_path):
    state = tmp_path / "state"
    for i, evil in enumerate(INJECTIONS):
        sessions = state / "agents" / evil.replace("/", "_") / "sessions"
        write_transcript(sessions / f"{evil}.jsonl", evil, [("user", f"Person{i} lives in Town{i}. {evil}")],
                         id_prefix=evil)
        (sessions / "sessions.json").write_text(json.dumps({f"agent:{evil}:main": {"sessionId": evil}}))
    write_transcript(state / "agents" / "victim" / "sessions" / "v.jsonl", "v", [("user", "Yolanda lives in Quito.")])
    report = run_catchup(store, settings, projector, state)
    assert report.entries_new == len(INJECTIONS) + 1
    with store.connection() as conn:
        stored = {a for (a,) in conn.execute("SELECT DISTINCT agent_id FROM entries")}
        assert stored == set(INJECTIONS) | {"victim"}   # stored literally, tables intact
        for evil in INJECTIONS:
            text = " ".join(render_items(recall(conn, embedder, evil, q)) for q in (evil, "Yolanda Quito", "' OR 1=1 --"))
            assert "Yolanda" not in text
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(tmp_path / "home"))
    for evil in INJECTIONS[:2]:
        done = subprocess.run([sys.executable, "-m", "nova.cli", "recall", "--agent", evil, "--json", "Yolanda ' OR '1'='1"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert "Yolanda" not in done.stdout and "Quito" not in done.stdout
    from nova.serve.app import create_app

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state)
    with TestClient(create_app(rt, start_worker=False)) as client:
        for evil in INJECTIONS:
            r = client.post("/v1/recall", json={"sessionKey": f"agent:{evil}:main", "query": "Yolanda"})
            assert r.status_code == 422 or "Yolanda" not in r.text
            r = client.post("/v1/recall", json={"sessionKey": "agent:main:main", "agentId": evil, "query": "x"})
            assert r.status_code == 422
    rt.close()
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == len(INJECTIONS) + 1


def test_isolation_holds_at_scale(store, settings, projector, embedder, tmp_path):
    """A synthetic store of many agents (20k memories; 200k with --long) plus one canary memory per
    agent: every recalled row and provenance entry is the asking agent's, and each canary is
    recalled by its owner only, through the vector, full-text, graph and time paths alike."""
    import random
    from datetime import datetime, timezone

    sys.path.insert(0, str(ROOT / "bench"))
    import synth_corpus
    from bench_recall_scale import QUESTIONS

    synth_corpus.generate(store, embedder, settings.embedding_model, 200_000 if long_run() else 20_000,
                          agents=5, seed=3, progress=lambda _: None)
    agents = ["main", "agent1", "agent2", "agent3", "agent4"]
    state = tmp_path / "state"
    canaries = {}
    for n, agent in enumerate(agents):
        pet, owner = ["Quilvex", "Dranmol", "Tebfip", "Gruxan", "Yopkel"][n], ["Zorwum", "Fipteb", "Molgru",
                                                                              "Xanyop", "Kelzor"][n]
        canaries[agent] = pet
        write_transcript(state / "agents" / agent / "sessions" / f"k{n}.jsonl", f"k{n}",
                         [("user", f"My neighbour {owner} keeps an axolotl called {pet} since last March.")],
                         start="2025-06-02T09:00:00Z", id_prefix=f"k{n}-")
        (state / "agents" / agent / "sessions" / "sessions.json").write_text(
            json.dumps({f"agent:{agent}:main": {"sessionId": f"k{n}"}}))
    run_catchup(store, settings, projector, state)

    rng = random.Random(5)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with store.connection() as conn, store.spare_connection() as side:   # side: the paths the service runs in parallel
        assert side is not None
        for agent in agents:
            queries = [synth_corpus._fill(rng.choice(QUESTIONS), rng) for _ in range(12)]
            queries += ["Who keeps an axolotl?", "axolotl called " + " ".join(canaries.values()),
                        "What pet did my neighbour have last March?"]
            for query in queries:
                items = recall(conn, embedder, agent, query, budget_tokens=1500, limit=60, now=now, side_conn=side)
                assert items, query
                for kind, table in (("episode", "episodes"), ("relationship", "relationships"), ("entity", "entities")):
                    ids = [i.id for i in items if i.kind == kind]
                    foreign = conn.execute(f"SELECT count(*) FROM {table} WHERE id = ANY(%s) AND agent_id <> %s",
                                           (ids, agent)).fetchone()[0]
                    assert foreign == 0, (agent, query, kind)
                sources = [(s["session_id"], s["entry_id"]) for i in items for s in i.sources]
                own = conn.execute(
                    "SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS s(sid, eid)"
                    " WHERE EXISTS (SELECT 1 FROM entries e WHERE e.agent_id = %s AND e.session_id = s.sid"
                    "   AND e.entry_id = s.eid)",
                    ([s for s, _ in sources], [e for _, e in sources], agent)).fetchone()[0]
                assert own == len(sources), (agent, query)
                text = " ".join(i.text for i in items)
                assert not any(pet in text for other, pet in canaries.items() if other != agent), (agent, query)
            found = recall(conn, embedder, agent, "Who keeps an axolotl?", budget_tokens=1500, limit=60, now=now)
            assert any(canaries[agent] in i.text for i in found), agent   # the owner does recall it
