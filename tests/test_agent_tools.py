"""What an agent asks NOVA on purpose (/v1/memory/*) and forgetting one memory: scoped to the agent,
filters honoured, bad input refused, a forgotten memory not made again by catch-up or re-extraction.
The same endpoints through a running gateway: tests/test_gateway_e2e.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, row_counts, runtime_with
from nova.memory.forget_one import MemoryRef, forget_memory
from nova.memory.reextract import Scope, reextract

MAIN = "agent:main:main"
OPS = "agent:ops:main"


@pytest.fixture
def service(settings, state_dir, store, embedder, projector):
    from nova.serve.app import create_app

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir)
    app = create_app(rt, worker_projector=projector)
    with TestClient(app) as client:
        for key, text, at in ((MAIN, "My sister Priya adopted a beagle named Waffles.", 1773400000000),
                              (MAIN, "Tomas moved to Lisbon in March.", 1773500000000),
                              (OPS, "Our launch code name is Bluebird.", 1773400000000)):
            assert client.post("/v1/messages", json={"sessionKey": key, "content": text, "timestamp": at}).status_code == 202
        assert app.state.nova.worker.drain(30)
        yield client
    rt.close()


def _search(client, **body):
    r = client.post("/v1/memory/search", json={"sessionKey": MAIN, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_search_cites_the_transcript_entry_and_filters(service, store):
    found = _search(service, query="What breed is Waffles?")
    assert found["status"] == "ok" and "beagle" in found["text"]
    top = next(r for r in found["results"] if "beagle" in r["text"])
    assert top["sources"] and top["sources"][0]["session_key"] == MAIN
    assert f"nova:entry:{top['sources'][0]['session_id']}/{top['sources'][0]['entry_id']}" in top["citation"]
    # Time range: the beagle was told on 2026-03-13; Lisbon on 2026-03-14 (the messages' timestamps), as a
    # move "in March": an episode is in a range by when it was said, a fact by its validity (from 1 March).
    before = _search(service, query="Waffles beagle Lisbon", until="2026-03-14")
    assert any("beagle" in r["text"] for r in before["results"])
    assert not any("Lisbon" in r["text"] for r in before["results"] if r["kind"] == "episode")
    assert [r["validFrom"][:10] for r in before["results"] if "Lisbon" in r["text"]] == ["2026-03-01"]
    early = _search(service, query="Waffles beagle Lisbon", until="2026-03-01")
    assert early["results"] == []  # nothing was said, or held, before March
    assert _search(service, query="Waffles", since="2030-01-01", kinds=["episode"])["results"] == []
    # A relationship still valid overlaps any later range: "Waffles is a beagle" holds in 2030 too.
    assert any("beagle" in r["text"] for r in _search(service, query="Waffles", since="2030-01-01")["results"])
    # Entity and kind filters.
    nate = _search(service, query="where does someone live", entity="Tomas")
    assert nate["results"] and all("Tomas" in r["text"] for r in nate["results"])
    facts = _search(service, query="Waffles", kinds=["relationship"])
    assert facts["results"] and {r["kind"] for r in facts["results"]} == {"relationship"}
    # The budget holds.
    small = _search(service, query="Waffles Lisbon", budgetTokens=30)
    assert sum(r["tokens"] for r in small["results"]) <= 30


def test_get_gives_the_memory_and_the_transcript_around_it(service):
    top = _search(service, query="What breed is Waffles?")["results"][0]
    got = service.post("/v1/memory/get", json={"sessionKey": MAIN, "ref": top["ref"]}).json()
    assert got["status"] == "ok" and got["detail"]["sources"][0]["text"].startswith("My sister Priya")
    source = top["sources"][0]
    around = service.post("/v1/memory/get", json={
        "sessionKey": MAIN, "ref": f"nova:entry:{source['session_id']}/{source['entry_id']}"}).json()
    assert around["status"] == "ok" and any("Lisbon" in e["text"] for e in around["detail"]["entries"])


def test_entity_lists_current_and_superseded_facts(service):
    got = service.post("/v1/memory/entity", json={"sessionKey": MAIN, "name": "Waffles"}).json()
    assert got["status"] == "ok" and got["detail"]["name"] == "Waffles"
    assert any("beagle" in r["text"] and r["current"] for r in got["detail"]["relationships"])
    # A later move supersedes the earlier one: both are shown, the old one with its valid_to.
    assert service.post("/v1/messages", json={"sessionKey": MAIN, "content": "Tomas moved to Porto in June.",
                                              "timestamp": 1781000000000}).status_code == 202
    assert service.app.state.nova.worker.drain(30)
    tomas = service.post("/v1/memory/entity", json={"sessionKey": MAIN, "name": "Tomas"}).json()
    moves = {r["text"].split(" in ")[0]: r for r in tomas["detail"]["relationships"] if r["predicate"] == "move_to"}
    assert moves["Tomas moved to Porto"]["current"] and moves["Tomas moved to Porto"]["valid_to"] is None
    assert not moves["Tomas moved to Lisbon"]["current"]
    assert moves["Tomas moved to Lisbon"]["valid_to"] == moves["Tomas moved to Porto"]["valid_from"]
    text = tomas["text"]
    assert text.index("Current:") < text.index("Porto") < text.index("No longer true") < text.index("Lisbon")
    missing = service.post("/v1/memory/entity", json={"sessionKey": MAIN, "name": "Zorblax"}).json()
    assert missing["status"] == "not_found"


def test_agents_and_filtered_sessions_see_nothing_of_each_other(service, store):
    assert "Bluebird" not in json.dumps(_search(service, query="launch code name")["results"])
    ops = service.post("/v1/memory/search", json={"sessionKey": OPS, "query": "Waffles beagle"}).json()
    assert ops["results"] and "beagle" not in json.dumps(ops["results"])
    # Another agent's ids are not this agent's: get and forget say not_found and change nothing.
    ops_ref = service.post("/v1/memory/search", json={"sessionKey": OPS, "query": "launch code"}).json()["results"][0]["ref"]
    before = row_counts(store)
    assert service.post("/v1/memory/get", json={"sessionKey": MAIN, "ref": ops_ref}).json()["status"] == "not_found"
    assert service.post("/v1/memory/forget", json={"sessionKey": MAIN, "ref": ops_ref}).json()["status"] == "not_found"
    assert row_counts(store) == before
    sub = service.post("/v1/memory/search", json={"sessionKey": "agent:main:subagent:1", "query": "Waffles"}).json()
    assert sub["status"] == "skipped" and sub["results"] == []


@pytest.mark.parametrize("route, body", [
    ("/v1/memory/search", {"sessionKey": MAIN, "query": " "}),
    ("/v1/memory/search", {"sessionKey": MAIN, "query": "x", "since": "last spring"}),
    ("/v1/memory/search", {"sessionKey": MAIN, "query": "x", "kinds": ["secrets"]}),
    ("/v1/memory/search", {"sessionKey": MAIN, "query": "x", "maxResults": 0}),
    ("/v1/memory/get", {"sessionKey": MAIN, "ref": "file:/etc/passwd"}),
    ("/v1/memory/forget", {"sessionKey": MAIN, "ref": "entity:1"}),
    ("/v1/memory/forget", {"sessionKey": MAIN, "ref": "relationship:1; DROP TABLE x"}),
    ("/v1/memory/entity", {"sessionKey": MAIN}),
    ("/v1/memory/remember", {"sessionKey": MAIN, "text": "  "}),
    ("/v1/memory/remember", {"sessionKey": MAIN, "text": "x" * 4001}),
])
def test_bad_input_gets_422_and_changes_nothing(service, store, route, body):
    before = row_counts(store)
    r = service.post(route, json=body)
    assert r.status_code == 422 and r.json()["detail"]
    assert row_counts(store) == before


def test_a_forgotten_fact_is_not_made_again(service, store, projector):
    fact = next(r for r in _search(service, query="Waffles beagle", kinds=["relationship"])["results"]
                if "beagle" in r["text"])
    gone = service.post("/v1/memory/forget", json={"sessionKey": MAIN, "ref": fact["ref"]}).json()
    assert gone["status"] == "forgotten"
    assert not any("beagle" in r["text"] for r in _search(service, query="Waffles beagle", kinds=["relationship"])["results"])
    with store.connection() as conn:
        via, key = conn.execute("SELECT via, session_key FROM forgotten_memories WHERE agent_id = 'main'").fetchone()
        assert (via, key) == ("tool", MAIN)
        # No content in the rule.
        assert "beagle" not in json.dumps(conn.execute("SELECT * FROM forgotten_memories").fetchall(), default=str)
    # The same fact said again, and a re-extraction of everything: still not a memory.
    assert service.post("/v1/messages", json={"sessionKey": MAIN, "content": "My sister Priya adopted a beagle named Waffles!",
                                              "timestamp": 1773600000000}).status_code == 202
    assert service.app.state.nova.worker.drain(30)
    reextract(store, projector, Scope(("main",)))
    with store.connection() as conn:
        facts = [r[0] for r in conn.execute("SELECT fact FROM relationships WHERE agent_id = 'main'")]
    assert fact["text"].split(" (")[0] not in facts and any("Lisbon" in f for f in facts)


def test_a_forgotten_episode_survives_reextraction_and_its_facts_stay(service, store, projector, embedder):
    with store.connection() as conn:
        episode_id = conn.execute("SELECT id FROM episodes WHERE agent_id = 'main' AND text LIKE '%%Lisbon%%'").fetchone()[0]
        assert forget_memory(conn, embedder, "ops", MemoryRef("episode", episode_id), via="cli") is None  # not ops'
        gone = forget_memory(conn, embedder, "main", MemoryRef("episode", episode_id), via="cli")
    assert gone is not None and gone.rules == 1
    reextract(store, projector, Scope(("main",)))
    with store.connection() as conn:
        episodes = [r[0] for r in conn.execute("SELECT text FROM episodes WHERE agent_id = 'main'")]
        facts = [r[0] for r in conn.execute("SELECT fact FROM relationships WHERE agent_id = 'main'")]
    assert episodes and not any("Lisbon" in t for t in episodes)
    assert any("Lisbon" in f for f in facts)  # one memory forgotten, not the entry


def test_cli_forget_memory_list_and_restore(service, store, settings, projector):
    env = {"NOVA_HOME": str(settings.home), "NOVA_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    nova = lambda *a: subprocess.run([sys.executable, "-m", "nova.cli", *a], env=env, cwd=ROOT, capture_output=True,
                                     text=True, timeout=300)
    fact = next(r for r in _search(service, query="Tomas Lisbon", kinds=["relationship"])["results"] if "Lisbon" in r["text"])
    bad = nova("forget", "--agent", "main", "--memory", "relationship:x", "--yes")
    assert bad.returncode == 2 and "not a memory reference" in bad.stderr
    done = nova("forget", "--agent", "main", "--memory", fact["ref"], "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["forgotten"] == fact["ref"] and json.loads(done.stdout)["entries_rebuilt"] > 0
    assert not any("Lisbon" in r["text"] for r in _search(service, query="Tomas Lisbon", kinds=["relationship"])["results"])
    rules = json.loads(nova("forget", "--agent", "main", "--list-memories", "--json").stdout)
    assert [r["via"] for r in rules] == ["cli"]
    restored = nova("forget", "--agent", "main", "--restore-memory", str(rules[0]["rule"]), "--json")
    assert restored.returncode == 0 and json.loads(restored.stdout)["rules_deleted"] == 1
    assert json.loads(restored.stdout)["entries_rebuilt"] > 0  # the CLI rebuilt the agent: the memory is back
    assert any("Lisbon" in r["text"] for r in _search(service, query="Tomas Lisbon", kinds=["relationship"])["results"])


def test_remember_logs_the_users_words_in_their_session_only(service, store, settings, embedder, projector):
    """``/remember`` (the plugin command's route): the text is the user's own words in the session,
    recallable once projected; a repeat stores nothing; a sub-agent's session is refused even when the
    operator's filters let sub-agents' sessions in (their words are not the user's)."""
    said = "I keep my climbing shoes in locker 4417 at the gym."
    r = service.post("/v1/memory/remember", json={"sessionKey": MAIN, "text": said}).json()
    assert r["status"] == "remembered" and r["detail"]["entryId"].startswith("live:") and said in r["text"]
    assert service.app.state.nova.worker.drain(30)
    assert "4417" in _search(service, query="climbing shoes locker")["text"]
    assert service.post("/v1/memory/remember", json={"sessionKey": MAIN, "text": said}).json()["text"].startswith(
        "NOVA already has this")
    with store.connection() as conn:
        # One entry, the user's (named in the workspace's USER.md), not the assistant's.
        assert conn.execute("SELECT role, speaker FROM entries WHERE text = %s", (said,)).fetchall() == [("user", "Dana Okafor")]

    from nova.config import FilterSettings
    from nova.serve.app import create_app

    open_filters = FilterSettings(include=["agent:*:main", "agent:*:subagent:*"], exclude=[])
    rt = runtime_with(settings, embedder, projector, filters=open_filters)
    with TestClient(create_app(rt, worker_projector=projector)) as client:
        sub = "agent:main:subagent:7"
        assert client.post("/v1/memory/search", json={"sessionKey": sub, "query": "x"}).json()["status"] == "ok"
        before = row_counts(store)
        r = client.post("/v1/memory/remember", json={"sessionKey": sub, "text": "zxqv the sub-agent's note"}).json()
        assert r["status"] == "skipped" and "sub-agent" in r["reason"]
        assert row_counts(store) == before
    rt.close()


def test_remember_knows_a_text_said_before_however_it_is_spaced(service, store):
    """The "already said in this session" check compares the text as it is stored (envelope and memory
    blocks stripped, white space collapsed, secrets redacted), not as typed: "Tomas  moved to Lisbon
    \\n in March." was said months ago in the session as "Tomas moved to Lisbon in March.". Before,
    the raw text was compared, and the same words were logged a second time."""
    def count() -> int:
        with store.connection() as conn:
            return conn.execute("SELECT count(*) FROM entries WHERE agent_id = 'main'"
                                " AND text = 'Tomas moved to Lisbon in March.'").fetchone()[0]

    assert count() == 1
    r = service.post("/v1/memory/remember", json={"sessionKey": MAIN, "text": "Tomas  moved to Lisbon\n in March."}).json()
    assert r["status"] == "remembered" and r["text"] == "NOVA already has this: Tomas moved to Lisbon in March.", r
    assert count() == 1
