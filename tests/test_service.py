"""nova serve: live ingestion, reconciliation with catch-up, recall, bootstrap stability, filters, bad input."""

from __future__ import annotations

import json
import stat

import pytest
from fastapi.testclient import TestClient

from conftest import row_counts, runtime_with

MAIN = "agent:main:main"
MAIN_SESSION = "5e6f7a8b-2222-4c3d-8e9f-bbbbbbbbbbbb"  # sessions.json of the sample state dir


@pytest.fixture
def service(settings, state_dir, store, embedder, projector):
    """The service app on the test database, sharing the session's models."""
    from nova.serve.app import create_app

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir)
    app = create_app(rt, worker_projector=projector)
    with TestClient(app) as client:
        client.worker = app.state.nova.worker
        yield client
    rt.close()


def _message(client, text, key=MAIN, **extra):
    body = {"sessionKey": key, "content": text, "timestamp": 1773400000000, **extra}
    r = client.post("/v1/messages", json=body)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_live_message_is_recallable_once_projected(service, store):
    answer = _message(service, "My sister Priya adopted a beagle named Waffles.", messageId="wa-1")
    assert answer == {"status": "queued", "reason": None, "entryId": "live:wa-1"}
    assert service.worker.drain(30)
    with store.connection() as conn:
        status, session_id = conn.execute(
            "SELECT x.status, e.session_id FROM entries e JOIN entry_extraction x USING (agent_id, session_id, entry_id)"
            " WHERE e.entry_id = 'live:wa-1'").fetchone()
        facts = [r[0] for r in conn.execute("SELECT fact FROM relationships WHERE agent_id = 'main'")]
    assert status == "done"
    assert session_id == MAIN_SESSION  # the key's session id from sessions.json
    assert any("Waffles" in f and "beagle" in f for f in facts)

    r = service.post("/v1/recall", json={"sessionKey": MAIN, "query": "What breed is Waffles?"}).json()
    assert r["status"] == "ok" and not r["precomputed"]
    assert "beagle" in r["block"]
    # The same message asked again is already in front of the agent: it is not recalled to itself.
    echo = service.post("/v1/recall", json={"sessionKey": MAIN, "query": "My sister Priya adopted a beagle named Waffles."}).json()
    assert all(s["entry_id"] != "live:wa-1" for i in echo["items"] for s in i["sources"] if len(i["sources"]) == 1)


def test_precomputed_recall_is_served_for_the_same_message(service):
    _message(service, "Tobias is training for the Berlin marathon.")
    assert service.worker.drain(30)
    q = {"sessionKey": MAIN, "query": "Which marathon is Tobias running?"}
    first = service.post("/v1/recall/precompute", json=q)
    assert first.status_code == 202 and "Berlin" in first.json()["block"]
    again = service.post("/v1/recall", json=q).json()
    assert again["precomputed"] is True and again["block"] == first.json()["block"]
    other = service.post("/v1/recall", json={**q, "query": "Where does Dana live?"}).json()
    assert other["precomputed"] is False


def test_catchup_adopts_live_entry_instead_of_duplicating(service, settings, state_dir, store, projector):
    from nova.ingest.catchup import run_catchup

    run_catchup(store, settings, projector, state_dir)
    before = row_counts(store)
    text = "I booked flights to Lisbon for the conference in June."
    assert _message(service, text, messageId="tg-77")["status"] == "queued"
    assert service.worker.drain(30)
    live = row_counts(store)
    assert live["entries"] == before["entries"] + 1

    # OpenClaw now writes the same turn (with its envelope) and the reply to the transcript.
    path = state_dir / "agents/main/sessions" / f"{MAIN_SESSION}.jsonl"
    with path.open("a") as f:
        for eid, role, body in (("5e6f-91", "user", f"[Telegram Dana Okafor Fri 2026-03-13 11:06:40 UTC] {text}"),
                                ("5e6f-92", "assistant", "Lisbon in June sounds great!")):
            f.write(json.dumps({"type": "message", "id": eid, "parentId": None, "timestamp": "2026-03-13T11:06:40Z",
                                "message": {"role": role, "content": [{"type": "text", "text": body}]}}) + "\n")
    run_catchup(store, settings, projector, state_dir)
    after = row_counts(store)
    assert after["entries"] == live["entries"] + 1  # only the reply is new
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE live OR entry_id LIKE 'live:%'").fetchone()[0] == 0
        row = conn.execute("SELECT seq, source_file FROM entries WHERE entry_id = '5e6f-91'").fetchone()
        assert row[1].endswith(".jsonl")
        # Provenance and the episode followed the entry; the reply joined the same episode.
        ep = conn.execute(
            "SELECT e.anchor_entry_id, e.has_reply, array_agg(p.entry_id ORDER BY p.entry_id) FROM episodes e"
            " JOIN provenance p ON p.item_kind = 'episode' AND p.item_id = e.id"
            " WHERE e.anchor_entry_id = '5e6f-91' GROUP BY 1, 2").fetchone()
        assert ep == ("5e6f-91", True, ["5e6f-91", "5e6f-92"])
        dangling = conn.execute(
            "SELECT count(*) FROM provenance p LEFT JOIN entries e USING (agent_id, session_id, entry_id)"
            " WHERE e.entry_id IS NULL").fetchone()[0]
        assert dangling == 0
    # Catch-up again: nothing new; a late duplicate from the hook is recognised.
    assert row_counts(store) == after
    assert _message(service, text, messageId="tg-77-retry")["status"] == "duplicate"


def test_filtered_sessions_store_and_get_nothing(service, store):
    before = row_counts(store)
    for key in ("agent:main:subagent:1234", "cron:nightly", "agent:main:cron:nightly", "hook:abc",
                "agent:main:telegram:group:-100"):
        assert _message(service, "zxqv secret plan", key=key)["status"] == "skipped"
        assert service.post("/v1/bootstrap", json={"sessionKey": key}).json()["status"] == "skipped"
        assert service.post("/v1/recall", json={"sessionKey": key, "query": "plan"}).json()["status"] == "skipped"
    assert service.worker.drain(10)
    assert row_counts(store) == before


def test_bootstrap_block_is_stable_within_a_session(service, settings, state_dir, store, projector):
    from nova.ingest.catchup import run_catchup

    run_catchup(store, settings, projector, state_dir)
    ask = {"sessionKey": MAIN, "sessionId": MAIN_SESSION}
    first = service.post("/v1/bootstrap", json=ask).json()
    assert first["refreshed"] == "new" and first["name"] == "NOVA_MEMORY.md"
    assert "Dana Okafor" in first["content"] and "Hamburg" in first["content"]
    assert len(first["content"]) <= settings.service.profile_max_chars

    # One new memory about someone else is not a material change: same bytes, prompt cache holds.
    _message(service, "Alice Brandt moved the Heron demo to Friday.")
    assert service.worker.drain(30)
    second = service.post("/v1/bootstrap", json=ask).json()
    assert second["refreshed"] == "stable" and second["content"] == first["content"]

    # Not even a new fact about the user rebuilds it mid-session (profile_min_changes 0, the default):
    # the session's history holds it, and the per-turn recall block carries it; the cached prefix holds.
    _message(service, "I started learning the cello.", senderName="Dana Okafor")
    assert service.worker.drain(30)
    _message(service, "What should I practise first?", senderName="Dana Okafor")
    assert service.worker.drain(30)
    third = service.post("/v1/bootstrap", json=ask).json()
    assert third["refreshed"] == "stable" and third["content"] == first["content"]
    # An operator who prefers a fresher profile to the cache opts in: a user fact is then material,
    # from the next turn on (in its own turn it is the inbound message, not yet a memory).
    from nova.recall.profile import ProfileCache

    service.app.state.nova.profiles = ProfileCache(min_changes=3)
    fresher = service.post("/v1/bootstrap", json=ask).json()
    assert fresher["refreshed"] == "changed" and "cello" in fresher["content"]
    assert "What should I practise first?" not in fresher["content"]

    # A reset (new session id) rebuilds; so does compaction (refresh).
    assert service.post("/v1/bootstrap", json={**ask, "sessionId": "new-session"}).json()["refreshed"] == "reset"
    assert service.post("/v1/sessions/refresh", json={"sessionKey": MAIN}).json()["dropped"] is True
    assert service.post("/v1/bootstrap", json={**ask, "sessionId": "new-session"}).json()["refreshed"] == "new"


def test_agents_never_see_each_other(service, store):
    _message(service, "Our launch code name is Bluebird.", key="agent:ops:main")
    _message(service, "My favourite food is ramen.", key=MAIN)
    assert service.worker.drain(30)
    main = service.post("/v1/recall", json={"sessionKey": MAIN, "query": "What is the launch code name?"}).json()
    assert "Bluebird" not in json.dumps(main)
    ops = service.post("/v1/recall", json={"sessionKey": "agent:ops:main", "query": "favourite food"}).json()
    assert "ramen" not in json.dumps(ops)
    boot = service.post("/v1/bootstrap", json={"sessionKey": MAIN}).json()
    assert "Bluebird" not in boot["content"]
    # An explicit agentId is the scope, whatever the key says.
    explicit = service.post("/v1/recall", json={"sessionKey": MAIN, "agentId": "ops", "query": "launch code"}).json()
    assert "Bluebird" in explicit["block"]


@pytest.mark.parametrize("body", [
    {"content": "no key"},
    {"sessionKey": MAIN},
    {"sessionKey": "", "content": "x"},
    {"sessionKey": MAIN, "content": 42},
    {"sessionKey": MAIN, "content": "x", "timestamp": "yesterday"},
    {"sessionKey": MAIN, "content": "x", "unexpected": True},
    {"sessionKey": "agent:main:main\n", "content": "x"},
    {"sessionKey": MAIN, "content": "x", "agentId": "../etc"},
    {"sessionKey": "k" * 600, "content": "x"},
    {"sessionKey": "agent:../../etc:main", "content": "x"},
    {"sessionKey": "agent::main", "content": "x"},
    [1, 2, 3],
])
def test_malformed_messages_get_422_and_change_nothing(service, store, body):
    before = row_counts(store)
    r = service.post("/v1/messages", json=body)
    assert r.status_code == 422
    assert r.json()["detail"]  # says which field and why
    assert row_counts(store) == before


def test_malformed_json_and_blank_queries(service):
    r = service.post("/v1/messages", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert service.post("/v1/recall", json={"sessionKey": MAIN, "query": "   "}).status_code == 422
    assert service.post("/v1/recall", json={"sessionKey": MAIN, "query": "x", "budgetTokens": 0}).status_code == 422
    assert service.get("/v1/nope").status_code == 404


def test_openapi_spec_lists_the_endpoints(service):
    spec = service.get("/openapi.json").json()
    assert {"/v1/messages", "/v1/recall", "/v1/recall/precompute", "/v1/bootstrap", "/v1/sessions/refresh",
            "/v1/health"} <= set(spec["paths"])


def test_tcp_mode_requires_the_token(settings, store, embedder, projector):
    from nova.serve.app import create_app

    rt = runtime_with(settings, embedder, projector)
    with TestClient(create_app(rt, token="s3cret", start_worker=False)) as client:
        assert client.get("/v1/health").status_code == 401
        assert client.get("/v1/health", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/v1/health", headers={"authorization": "Bearer s3cret"}).json()["database"] is True
    rt.close()


def test_unix_socket_is_private_and_exclusive(tmp_path):
    from nova.serve.server import bind_unix_socket, load_or_create_token

    path = tmp_path / "nova.sock"
    sock = bind_unix_socket(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(OSError, match="in use"):
            bind_unix_socket(path)
    finally:
        sock.close()
    # A stale socket (its server died) is replaced.
    sock = bind_unix_socket(path)
    sock.close()
    token_file = tmp_path / "service.token"
    token = load_or_create_token(token_file)
    assert len(token) >= 32 and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert load_or_create_token(token_file) == token


def test_chat_commands_are_not_memories(service, store):
    before = row_counts(store)
    for command in ("/reset", "/new", "/model gpt-5"):
        assert _message(service, command)["status"] == "skipped"
    assert _message(service, "/home is full again, I need a bigger disk")["status"] == "queued"  # prose, not a command
    assert service.worker.drain(30)
    assert row_counts(store)["entries"] == before["entries"] + 1


def test_live_turns_keep_their_own_episodes_and_sources_after_adoption(service, settings, state_dir, store,
                                                                       projector):
    """Two live turns in a row are two exchanges (the reply to the first is not logged yet); once
    catch-up adopts them, each has its reply, and no provenance or entity source names a live: id."""
    from nova.ingest.catchup import run_catchup

    run_catchup(store, settings, projector, state_dir)
    turns = [("5e6f-a1", "My neighbour Ilse Brandt keeps bees on her roof.", "5e6f-a2", "Bees on a roof, lovely!"),
             ("5e6f-a3", "Ilse gave me a jar of lime honey.", "5e6f-a4", "Lime honey is a treat.")]
    for user_id, text, _, _ in turns:
        assert _message(service, text, messageId=user_id)["status"] == "queued"
    assert service.worker.drain(30)
    with store.connection() as conn:
        live_episodes = conn.execute("SELECT count(*) FROM episodes WHERE anchor_entry_id LIKE 'live:%'").fetchone()[0]
    assert live_episodes == 2

    path = state_dir / "agents/main/sessions" / f"{MAIN_SESSION}.jsonl"
    with path.open("a") as f:
        for user_id, text, reply_id, reply in turns:
            for eid, role, body in ((user_id, "user", text), (reply_id, "assistant", reply)):
                f.write(json.dumps({"type": "message", "id": eid, "parentId": None, "timestamp": "2026-03-13T11:06:40Z",
                                    "message": {"role": role, "content": [{"type": "text", "text": body}]}}) + "\n")
    run_catchup(store, settings, projector, state_dir)
    with store.connection() as conn:
        episodes = conn.execute(
            "SELECT e.anchor_entry_id, array_agg(p.entry_id ORDER BY p.entry_id) FROM episodes e"
            " JOIN provenance p ON p.item_kind = 'episode' AND p.item_id = e.id"
            " WHERE e.anchor_entry_id IN ('5e6f-a1', '5e6f-a3') GROUP BY 1 ORDER BY 1").fetchall()
        assert episodes == [("5e6f-a1", ["5e6f-a1", "5e6f-a2"]), ("5e6f-a3", ["5e6f-a3", "5e6f-a4"])]
        stale = conn.execute(
            "SELECT name FROM entities t WHERE summary_entry_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM entries e"
            " WHERE (e.agent_id, e.session_id, e.entry_id) = (t.agent_id, t.summary_session_id, t.summary_entry_id))"
        ).fetchall()
        assert stale == []
        assert conn.execute("SELECT count(*) FROM entities WHERE summary_entry_id LIKE 'live:%'").fetchone()[0] == 0


def test_turns_openclaw_writes_itself_are_not_memories(service, settings, state_dir, store, projector):
    """Heartbeat polls and the like (INTERNAL_WAKE_TRANSCRIPT_PROMPTS in OpenClaw) and their bare
    acknowledgements: not stored live, not read from transcripts, no recall for them."""
    from nova.ingest.catchup import run_catchup

    run_catchup(store, settings, projector, state_dir)
    before = row_counts(store)
    poll = "[OpenClaw heartbeat poll]"
    assert _message(service, poll)["status"] == "skipped"
    assert service.post("/v1/recall", json={"sessionKey": MAIN, "query": poll}).json()["status"] == "skipped"
    path = state_dir / "agents/main/sessions" / f"{MAIN_SESSION}.jsonl"
    with path.open("a") as f:
        for eid, role, body in (("hb-1", "user", poll), ("hb-2", "assistant", "HEARTBEAT_OK"),
                                ("hb-3", "user", "[OpenClaw cron wake]"), ("hb-4", "assistant", "NO_REPLY")):
            f.write(json.dumps({"type": "message", "id": eid, "parentId": None, "timestamp": "2026-03-13T12:00:00Z",
                                "message": {"role": role, "content": [{"type": "text", "text": body}]}}) + "\n")
    report = run_catchup(store, settings, projector, state_dir)
    assert report.lines.skipped["synthetic"] == 4
    assert row_counts(store) == before


def test_session_profile_is_byte_stable_across_a_service_restart(service, settings, state_dir, store, embedder,
                                                                 projector):
    """The profile sits in the cached system prompt: a restarted service serves the bytes the old one
    served to that session, even when a fresh build would differ (immaterially)."""
    from nova.ingest.catchup import run_catchup
    from nova.serve.app import create_app

    run_catchup(store, settings, projector, state_dir)
    ask = {"sessionKey": MAIN, "sessionId": MAIN_SESSION}
    first = service.post("/v1/bootstrap", json=ask).json()
    _message(service, "Alice Brandt moved the Heron demo to Friday.")
    _message(service, "Good to know.")  # the next turn: the Heron message is now a memory, not the inbound
    assert service.worker.drain(30)

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir)
    try:
        with TestClient(create_app(rt, worker_projector=projector)) as restarted:
            again = restarted.post("/v1/bootstrap", json=ask).json()
            assert again["refreshed"] == "stable" and again["content"] == first["content"]
            # Proof that a new process without the stored profile would have served other bytes:
            assert restarted.post("/v1/sessions/refresh", json={"sessionKey": MAIN}).json()["dropped"] is True
            rebuilt = restarted.post("/v1/bootstrap", json=ask).json()
            assert rebuilt["refreshed"] == "new" and rebuilt["content"] != first["content"]
    finally:
        rt.close()


def test_serve_listens_only_once_it_can_answer(settings, tmp_path):
    """The socket appears only after the models are loaded: a hook that finds no socket fails open
    at once, where one that connected to a loading service waited out its whole budget (and the
    first message after a start lost its context)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT
    from nova.serve.client import get_json

    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(tmp_path / "home"))
    sock = tmp_path / "home" / "nova.sock"
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
            time.sleep(0.02)
        t0 = time.monotonic()
        health = get_json(sock, "/v1/health", timeout=5)
        assert health is not None and health["status"] == "ok", health
        assert time.monotonic() - t0 < 2.0
        answer = get_json(sock, "/v1/recall", timeout=5, body={"sessionKey": MAIN, "query": "anything?"})
        assert answer is not None and answer["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    log = proc.stdout.read()
    assert "models loaded" in log and log.index("models loaded") < log.index("listening on")
    assert "WARNING" not in log  # a normal start logs at INFO

def test_status_lists_agents_the_hooks_alone_have_seen(service, settings):
    """Before any catch-up, `nova status` shows the agent and its live entries."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    _message(service, "I adopted a cat called Miso.", key="agent:solo:main")
    assert service.worker.drain(30)
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url, NOVA_HOME=str(settings.home))
    done = subprocess.run([sys.executable, "-m", "nova.cli", "status"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "solo" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[:3] == ["solo", "1", "1"]  # agent, entries, live


def test_an_episode_is_kept_when_only_a_derived_line_cited_its_entry(service):
    """"Priya is the user's sister" cites the entry its episode came from, but does not say what the
    episode says about her dog: the episode stays in the block. The turns of the gateway test
    (tests/test_gateway_e2e.py), where the cut left the answer out of what the model received."""
    for text in ("My sister Priya adopted a greyhound named Waffles.", "What breed is Priya's dog?", "Hello again!",
                 "Any plans for the weekend?", "What do you remember about my family?"):
        _message(service, text, key="agent:fam:main")
    assert service.worker.drain(30)
    answer = service.post("/v1/recall", json={"sessionKey": "agent:fam:main", "query": "Which dog did Priya adopt?"})
    assert "greyhound" in answer.json()["block"], answer.json()["block"]


def test_forget_reaches_the_session_profile_whatever_the_transport(service, settings, state_dir, store, projector):
    """The profile a session was served is rebuilt after `nova forget` without any notice to the
    service (it reads profiles from the database, where forget deletes them): a TCP-mode service
    that the CLI's notice never reached does not keep forgotten lines in NOVA_MEMORY.md."""
    from nova.memory.forget import ForgetScope, forget

    secret_key = "agent:main:telegram:direct:555"
    _message(service, "My neighbour Quillon Ashgrove breeds falcons.", key=secret_key)
    _message(service, "Quillon Ashgrove lent me a falcon hood.", key=secret_key)
    _message(service, "Thanks for listening.", key=secret_key)
    assert service.worker.drain(30)
    ask = {"sessionKey": MAIN, "sessionId": MAIN_SESSION}
    before = service.post("/v1/bootstrap", json=ask).json()
    assert "Quillon" in before["content"]
    forget(store, ForgetScope("main", session_key=secret_key), projector_factory=lambda: projector, vacuum="off")
    after = service.post("/v1/bootstrap", json=ask).json()  # no /v1/forgotten was sent
    assert after["refreshed"] == "new" and "Quillon" not in after["content"]


def test_the_profile_says_who_and_what_is_the_users(service):
    """After "My dog is a beagle called Biscuit" and "my sister Priya", the next session's profile
    lists both under the user (before: only facts whose subject was the user were there)."""
    _message(service, "My dog is a beagle called Biscuit.", senderName="Dana Okafor")
    _message(service, "My sister Priya lives in Leeds.", senderName="Dana Okafor")
    _message(service, "Good night!", senderName="Dana Okafor")
    assert service.worker.drain(30)
    profile = service.post("/v1/bootstrap", json={"sessionKey": MAIN, "sessionId": "fresh-session"}).json()["content"]
    about = profile.split("## About ", 1)[1].split("\n## ", 1)[0]
    assert "Biscuit is Dana Okafor's dog, a beagle" in about and "Priya is Dana Okafor's sister" in about, profile


def test_health_counts_hook_activity_per_agent_and_the_calls_hooks_lost(service):
    """What the hooks did, per agent, as /v1/health reports it (nova.serve.activity); garbage reports count nothing."""
    _message(service, "Tobias is training for the Berlin marathon.")
    _message(service, "Skipped: a sub-agent's chatter.", key="agent:main:subagent:x")
    assert service.worker.drain(30)
    assert service.post("/v1/recall", json={"sessionKey": MAIN, "query": "What is Tobias training for?"}).json()["items"]
    service.post("/v1/recall", json={"sessionKey": "agent:ops:main", "query": "Nothing here?"})
    service.post("/v1/bootstrap", json={"sessionKey": MAIN, "sessionId": "s-1"})
    lost = {"main": {"nova-recall": 2, "memory-extract": 1}, "ops": {"not-a-hook": 5, "session-init": "x"}}
    for header in (json.dumps(lost), "{not json", json.dumps([1, 2]), "x" * 5000):
        service.get("/v1/health", headers={"x-nova-missed": header})
    agents = service.get("/v1/health").json()["agents"]
    main, ops = agents["main"], agents["ops"]
    assert main["messages"] == 2 and main["messagesQueued"] == 1 and main["lastMessageAt"]
    assert main["recalls"] == 1 and main["recallsWithItems"] == 1
    assert main["bootstraps"] == 1
    assert main["missed"] == {"nova-recall": 2, "memory-extract": 1}
    assert ops["recalls"] == 1 and ops["recallsWithItems"] == 0 and ops["missed"] == {} and ops["messages"] == 0


def test_answers_slower_than_the_hooks_budget_count_as_late(settings, state_dir, store, embedder, projector):
    """A 1 ms message budget: logging a message takes longer, so the hook had given up: counted late."""
    from nova.serve.app import create_app

    slow = settings.service.model_copy(update={"message_budget_ms": 1})
    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir, service=slow)
    with TestClient(create_app(rt, worker_projector=projector)) as client:
        _message(client, "Tobias is training for the Berlin marathon.")
        main = client.get("/v1/health").json()["agents"]["main"]
    rt.close()
    assert main["messages"] == 1 and main["late"] == 1
