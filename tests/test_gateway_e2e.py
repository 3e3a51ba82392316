"""NOVA inside a running OpenClaw gateway: real agent turns, asserted on what the model receives.

``openclaw gateway run`` (npm openclaw@2026.9.6) runs on a loopback port with a state dir of its
own and a stub OpenAI-compatible provider that records every request (tests/e2e/gateway.py).
NOVA is installed the way an operator does it (``nova install-hooks``, ``nova serve``), and turns
go through the gateway with ``chat.send`` + ``agent.wait`` (the path that fires
``message:received``) and ``openclaw agent --message``. Nothing of OpenClaw's is built by hand:
the hooks, the plugin and the bootstrap files run inside the gateway, and the assertions read
the model requests the gateway sent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, serve_process, service_health

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from gateway import Gateway, StubProvider, free_port, write_config  # noqa: E402

MAIN = "agent:main:main"
DIRECT = "agent:main:direct:e2e-dana"
SUBAGENT = f"agent:main:subagent:{uuid.UUID(int=7)}"
CRON = "cron:e2e-digest"
FACT = "My sister Priya adopted a greyhound named Waffles."
BLOCK = "<nova-memory>"
HOOK_BUDGETS_MS = 300 + 300  # session-init (bootstrap) + nova-recall, each fails open within its own


@pytest.fixture
def world(openclaw, settings, tmp_path):
    """Stub model, gateway state dir with NOVA installed, and the environment every process shares."""
    node, package = openclaw
    stub = StubProvider()
    state = tmp_path / "openclaw-state"
    write_config(state, free_port(), stub.port)
    env = dict(os.environ, NOVA_HOME=str(settings.home), NOVA_DATABASE_URL=settings.database_url,
               OPENCLAW_STATE_DIR=str(state))
    env.pop("NOVA_SOCKET", None)
    installed = _nova(env, "install-hooks")
    assert installed.returncode == 0, installed.stderr
    gateway = Gateway(node, package, env, tmp_path / "gateway.log")
    yield stub, gateway, env, state
    gateway.stop()
    stub.close()


def _nova(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


class _Service:
    """``nova serve`` as a real process on its Unix socket."""

    def __init__(self, env):
        self.sock = Path(env["NOVA_HOME"]) / "nova.sock"
        self.proc = serve_process(env)

    def health(self) -> dict | None:
        return service_health(self.sock)

    def settle(self, projected: int, timeout: float = 60) -> None:
        """Wait until the worker projected ``projected`` live entries in all and its queue is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            if h and h["projected"] >= projected and not h["queued"]:
                return
            time.sleep(0.2)
        raise AssertionError(f"live entries not projected in {timeout} s: {self.health()}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0
        return self.proc.stdout.read()


def _one_request(stub: StubProvider, turn: dict) -> "ModelRequest":  # noqa: F821
    """The model request a turn produced (the stub saw it between the send and the run's end). The send
    time is taken before chat.send on the same clock, so no request of the turn comes before it (1 ms:
    its rounding); a wider slack took in the previous turn's request when turns ran back to back."""
    seen = [r for r in stub.since(turn["sentAt"] / 1000 - 0.001) if r.at <= turn["endedAt"] / 1000 + 0.05]
    assert turn["status"] == "ok" and len(seen) == 1, (turn, len(seen))
    return seen[0]


def _profile(system_prompt: str) -> str | None:
    """The NOVA_MEMORY.md section of a system prompt, as OpenClaw placed it."""
    at = system_prompt.find("NOVA_MEMORY.md\n")
    if at < 0:
        return None
    start = system_prompt.index(BLOCK, at)
    return system_prompt[start:system_prompt.index("</nova-memory>", start) + len("</nova-memory>")]


def _undated(system_prompt: str) -> str:
    """A system prompt without OpenClaw's own "Current date:" line (its Temporal Context section,
    dist/date-time-*.mjs buildTemporalContextSection), which turns at midnight on a run that
    crosses it; everything else, NOVA's profile included, must stay byte-identical."""
    return re.sub(r"(?m)^Current date: \S+$", "Current date: (any)", system_prompt)


def _nova_lines(gateway) -> str:
    """What NOVA's hooks logged inside the gateway (one line per cause when they failed open)."""
    return "\n".join(line for line in gateway.log().splitlines() if "[nova:" in line)[-3000:]


def _query(settings, sql: str, *args):
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(sql, args).fetchall()


def _store_is_consistent(settings) -> None:
    """No message stored twice, no provenance or entity source pointing at a missing entry."""
    assert _query(settings, "SELECT session_key, text, count(*) FROM entries WHERE role = 'user'"
                            " GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert _query(settings, "SELECT count(*) FROM provenance p WHERE NOT EXISTS (SELECT 1 FROM entries e"
                            " WHERE (e.agent_id, e.session_id, e.entry_id) = (p.agent_id, p.session_id, p.entry_id))"
                  ) == [(0,)]
    assert _query(settings, "SELECT name, summary_entry_id FROM entities t WHERE summary_entry_id IS NOT NULL"
                            " AND NOT EXISTS (SELECT 1 FROM entries e WHERE (e.agent_id, e.session_id, e.entry_id)"
                            " = (t.agent_id, t.summary_session_id, t.summary_entry_id))") == []


def test_nova_in_a_running_gateway(world, settings):
    stub, gateway, env, state = world
    service = _Service(env)
    gateway.start()
    assert "loaded 3 internal hook handlers" in gateway.log()  # memory-extract, semantic-recall, session-init
    try:
        # 1. A fact told in one turn reaches a later turn's user message (per-turn recall).
        told, = gateway.turns([(MAIN, FACT)])
        assert BLOCK not in _one_request(stub, told).user_turn  # nothing remembered yet
        service.settle(projected=1)
        asked, = gateway.turns([(MAIN, "What breed is Priya's dog?")])
        turn = _one_request(stub, asked).user_turn
        assert BLOCK in turn and "greyhound" in turn.split("</nova-memory>")[0], turn
        assert turn.rstrip().endswith("What breed is Priya's dog?")  # the block goes before the message
        # NOVA's tools are in the Tool Search directory; nova_forget only once the operator allows it.
        system = _one_request(stub, asked).system
        assert "nova_recall" in system and "nova_entity" in system and "nova_forget" not in system
        # The live entry was projected with static vectors only (searchable at once); the service's
        # worker fills in the dense ones once it has been idle a moment.
        deadline = time.monotonic() + 30
        while _query(settings, "SELECT count(*) FROM episode_keys WHERE embedding IS NULL") != [(0,)]:
            assert time.monotonic() < deadline, _query(settings, "SELECT entry_id FROM episode_keys WHERE embedding IS NULL")
            time.sleep(0.2)
        assert _query(settings, "SELECT count(*) FROM episode_keys WHERE static_embedding IS NULL") == [(0,)]

        # 2. A new session gets the profile in its system prompt, byte-identical on every turn,
        #    also after nova serve restarts.
        service.settle(projected=2)
        first, second = gateway.turns([(DIRECT, "Hello again!"), (DIRECT, "Any plans for the weekend?")])
        system = _one_request(stub, first).system
        profile = _profile(system)
        assert profile is not None and "Waffles" in profile, system[-3000:]
        assert "Hello again!" not in profile  # the turn's own message is not a memory yet
        assert not (state / "workspace" / "NOVA_MEMORY.md").exists()  # held in memory, never written
        assert _undated(_one_request(stub, second).system) == _undated(system), _nova_lines(gateway)
        service.stop()
        service = _Service(env)
        third, = gateway.turns([(DIRECT, "What do you remember about my family?")])
        assert _profile(_one_request(stub, third).system) == profile, _nova_lines(gateway)
        assert _undated(_one_request(stub, third).system) == _undated(system)

        # 3. Sub-agent and cron sessions: no NOVA block reaches the model, nothing is stored.
        before = _query(settings, "SELECT count(*) FROM entries")[0][0]
        sub, cron = gateway.turns([(SUBAGENT, "zxqv sub-agent chatter about Waffles"),
                                   (CRON, "zxqv cron digest about Waffles")])
        for t in (sub, cron):
            request = _one_request(stub, t)
            assert BLOCK not in request.text() and _profile(request.system) is None
        service.settle(projected=1)  # the restarted service's count: the third turn only
        assert _query(settings, "SELECT count(*) FROM entries WHERE text LIKE '%%zxqv%%'") == [(0,)]
        assert _query(settings, "SELECT count(*) FROM entries")[0][0] == before

        # 4. `openclaw agent --message` turns (no message:received) still get per-turn recall.
        t0 = time.time()
        cli = gateway.cli("agent", "--agent", "main", "--message", "Which dog did Priya adopt?", "--json")
        assert cli.returncode == 0, cli.stderr[-2000:]
        cli_requests = stub.since(t0)
        assert len(cli_requests) == 1 and "greyhound" in cli_requests[0].user_turn.split("</nova-memory>")[0], \
            cli_requests[0].user_turn

        # 5. Catch-up while nova serve runs, after the hooks stored messages: each finishes,
        #    adopts the live entries, reads OpenClaw's SQLite transcripts, and stores nothing twice.
        live = _query(settings, "SELECT count(*) FROM entries WHERE live")[0][0]
        assert live >= 5
        caught = _nova(env, "catchup", timeout=180)
        assert caught.returncode == 0, caught.stdout + caught.stderr
        assert _query(settings, "SELECT count(*) FROM entries WHERE live") == [(0,)]
        assert _query(settings, "SELECT count(*) FROM entries WHERE role = 'assistant'")[0][0] >= 5  # from SQLite
        assert _query(settings, "SELECT count(*) FROM transcript_cursors WHERE file_name LIKE '%%sqlite%%'"
                      )[0][0] >= 2
        _store_is_consistent(settings)
        # "Any plans for the weekend?" is dated with the gateway's own timestamp, to a weekend that
        # has not ended when it was said (it was stored as the weekend just gone).
        asked = _query(settings, "SELECT e.occurred_at, ep.text FROM entries e JOIN provenance p USING"
                       " (agent_id, session_id, entry_id) JOIN episodes ep ON ep.id = p.item_id"
                       " WHERE p.item_kind = 'episode' AND e.text LIKE '%%Any plans for the weekend?%%'")
        assert len(asked) == 1, asked
        (said, text), = asked
        weekend = re.search(r"Any plans for the weekend \(the weekend of (\d+ \w+ \d{4})\)", text)
        assert weekend, text
        saturday = datetime.strptime(weekend.group(1), "%d %B %Y").date()
        assert saturday + timedelta(days=1) >= said.date(), (said, text)

        gateway.turns([(MAIN, "My brother Tomas just moved to Lisbon.")])
        service.settle(projected=2)
        cron_run = subprocess.run(["bash", str(ROOT / "scripts" / "memory-catchup.sh")], env=env,
                                  capture_output=True, text=True, timeout=180)
        assert cron_run.returncode == 0, cron_run.stdout + cron_run.stderr
        assert _query(settings, "SELECT count(*) FROM entries WHERE live") == [(0,)]

        gateway.turns([(MAIN, "Tomas starts a new job at the harbour next month.")])
        service.settle(projected=3)
        watcher = subprocess.Popen([sys.executable, "-m", "nova.cli", "watch"], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while _query(settings, "SELECT count(*) FROM entries WHERE live") != [(0,)]:
                assert time.monotonic() < deadline, "nova watch did not adopt the live entry"
                assert watcher.poll() is None, watcher.stdout.read()
                time.sleep(0.5)
        finally:
            watcher.send_signal(signal.SIGTERM)
            assert watcher.wait(timeout=60) == 0, watcher.stdout.read()
        _store_is_consistent(settings)
        assert _query(settings, "SELECT count(*) FROM entries WHERE text = %s", FACT) == [(1,)]
        assert _query(settings, "SELECT count(*) FROM entries WHERE text LIKE '%%[OpenClaw%%'") == [(0,)]
    finally:
        if service.proc.poll() is None:
            service.stop()

    # 6. nova serve stopped: turns still complete within the hooks' budgets, without per-turn
    #    recall; the session keeps the profile it was served (the system prompt does not change).
    down = gateway.turns([(MAIN, "Still there?"), (DIRECT, "Still there?")])
    assert _undated(_one_request(stub, down[1]).system) == _undated(system)
    for t in down:
        request = _one_request(stub, t)
        assert BLOCK not in request.user_turn
        # From the send to the model request: OpenClaw's own preparation (seconds on a loaded
        # 2-core machine) plus the hooks, which give up at once on a missing socket. The bound
        # catches a stall (a hook waiting on a dead service); each handler's own budget is
        # asserted against a hanging service in tests/test_e2e_openclaw.py.
        assert (request.at * 1000 - t["sentAt"]) < HOOK_BUDGETS_MS + 10_000, t
    assert "continuing without NOVA" in gateway.log()

    # 7. nova serve back: the hooks' activity is visible in /v1/health and `nova status`, including
    #    the calls they lost while it was down (reported with their first call after it).
    service = _Service(env)
    try:
        back, = gateway.turns([(MAIN, "Back again: which dog did Priya adopt?")])
        assert "greyhound" in _one_request(stub, back).user_turn.split("</nova-memory>")[0]
        deadline = time.monotonic() + 30
        while True:
            main = (service.health() or {}).get("agents", {}).get("main", {})
            if main.get("messages") and main.get("missed", {}).get("memory-extract"):
                break
            assert time.monotonic() < deadline, service.health()
            time.sleep(0.2)
        assert main["recalls"] >= 1 and main["recallsWithItems"] >= 1 and main["bootstraps"] >= 1, main
        assert main["lastMessageAt"] is not None
        # Step 6 sent two turns to a stopped service: each lost its message and its recall.
        assert main["missed"]["memory-extract"] >= 1 and main["missed"]["nova-recall"] >= 1, main
        status = _nova(env, "status")
        assert status.returncode == 0, status.stderr
        assert "hook activity since" in status.stdout and "memory-extract" in status.stdout, status.stdout
    finally:
        service.stop()


def _tool_turn(gateway, stub, session_key: str, message: str, tool: str, args: dict) -> tuple[dict, str]:
    """A turn whose model answers with a call of ``tool`` through OpenClaw's ``tool_call`` (Tool Search,
    on by default: plugin tools and memory_search sit in its catalog); returns the turn and the tool
    result OpenClaw sent the model in its next request."""
    stub.call_tool("tool_call", {"id": tool, "args": args})
    turn, = gateway.turns([(session_key, message)])
    seen = [r for r in stub.since(turn["sentAt"] / 1000 - 0.001) if r.at <= turn["endedAt"] / 1000 + 0.05]
    assert turn["status"] == "ok" and len(seen) == 2, (turn, len(seen))
    earlier = len(seen[0].tool_results)  # the session's history holds the earlier turns' tool results
    assert len(seen[1].tool_results) == earlier + 1, [r.body["messages"][-1] for r in seen]
    return turn, seen[1].tool_results[-1]


def test_the_agent_asks_nova_in_a_running_gateway(world, settings):
    """The model calls OpenClaw's memory_search (corpus all) and NOVA's own tools; what comes back to
    it in the next request holds the NOVA memory with its citation, only for the calling agent's
    conversations, and nothing (the turn still completing) when nova serve is down."""
    stub, gateway, env, state = world
    config = json.loads((state / "openclaw.json").read_text())
    config["tools"] = {"alsoAllow": ["nova_forget"]}  # the opt-in docs/hooks.md gives
    (state / "openclaw.json").write_text(json.dumps(config, indent=2))
    service = _Service(env)
    gateway.start()
    try:
        told, = gateway.turns([(MAIN, FACT)])
        service.settle(projected=1)
        entry_id = _query(settings, "SELECT entry_id FROM entries WHERE text = %s", FACT)[0][0]

        # 1. OpenClaw's own memory_search, corpus "all": NOVA's corpus supplement answers beside Markdown memory.
        _, result = _tool_turn(gateway, stub, MAIN, "Do you remember Priya's dog?", "memory_search",
                               {"query": "Priya's dog", "corpus": "all"})
        assert "greyhound" in result and f"/{entry_id}" in result and "nova:entry:" in result, result[:3000]
        assert "nova_forget" in stub.requests[-1].system  # allowed here

        # 2. nova_recall with an entity filter and a time range around now.
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        _, result = _tool_turn(gateway, stub, MAIN, "What pets does Priya have?", "nova_recall",
                               {"query": "pets", "entity": "Priya", "since": today})
        assert "greyhound" in result and f"/{entry_id}" in result, result[:3000]
        _, result = _tool_turn(gateway, stub, MAIN, "Anything from 2020?", "nova_recall",
                               {"query": "Priya's dog", "until": "2021-01-01"})
        assert "greyhound" not in result and "no memories" in result, result[:3000]

        # 3. nova_entity: the entity with its relationships.
        _, result = _tool_turn(gateway, stub, MAIN, "What do you know about Waffles?", "nova_entity", {"name": "Waffles"})
        assert "Waffles is a greyhound" in result and "[relationship:" in result, result[:3000]

        # 4. nova_forget on the user's word: the memory goes, and nova_entity no longer shows it.
        ref = result.split("] Waffles is a greyhound")[0].rsplit("[", 1)[1]
        _, result = _tool_turn(gateway, stub, MAIN, "That's wrong, forget it.", "nova_forget", {"ref": ref})
        assert f"Forgotten: {ref}" in result, result[:3000]
        assert _query(settings, "SELECT via, session_key FROM forgotten_memories") == [("tool", MAIN)]
        _, result = _tool_turn(gateway, stub, MAIN, "What do you know about Waffles now?", "nova_entity",
                               {"name": "Waffles"})
        assert "Waffles is a greyhound" not in result, result[:3000]

        # 5. A sub-agent's call reads nothing (the default session-key filters skip sub-agents).
        _, result = _tool_turn(gateway, stub, SUBAGENT, "zxqv sub-agent asks", "nova_recall", {"query": "Priya's dog"})
        assert "greyhound" not in result and "not available in this session" in result, result[:3000]
    finally:
        service.stop()

    # 6. nova serve down: each call gives an empty answer, and the turn completes.
    _, result = _tool_turn(gateway, stub, MAIN, "Still remember the dog?", "memory_search",
                           {"query": "Priya's dog", "corpus": "all"})
    assert "greyhound" not in result, result[:3000]
    _, result = _tool_turn(gateway, stub, MAIN, "And now?", "nova_recall", {"query": "Priya's dog"})
    assert "greyhound" not in result and "not answering" in result, result[:3000]


def _blocks(text: str) -> int:
    return text.count("<nova-memory>")


def _history(request) -> list:
    """The request's messages before the last user message a person wrote (and the system prompt, undated)."""
    messages = request.body["messages"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "user"
               and "OPENCLAW_INTERNAL_CONTEXT" not in json.dumps(m.get("content")))
    return [_undated(json.dumps(m, sort_keys=True)) for m in messages[:last]]


def test_a_ten_turn_session_carries_one_block_in_its_last_message_and_a_stable_prefix(world, settings):
    """What a provider's prompt cache needs (issue 37): on every model request of a 10-turn session with
    recall on each turn, exactly one <nova-memory> block among the user messages, at the start of the
    last user message a person wrote (after OpenClaw's own timestamp), none in earlier messages (earlier turns' blocks do not pile up
    in the history), and everything before that message byte-identical to the previous request's
    (its system prompt, its history), so each request extends the last one's cached prefix."""
    stub, gateway, env, state = world
    service = _Service(env)
    gateway.start()
    try:
        gateway.turns([(MAIN, FACT), (MAIN, "My brother Tomas moved to Lisbon last spring."),
                       (MAIN, "I started learning the cello in March.")])
        service.settle(projected=3)
        questions = ["What breed is Priya's dog?", "Where does Tomas live?", "Which instrument am I learning?",
                     "What is the name of Priya's dog?", "Who moved to Lisbon?", "When did I start the cello?",
                     "Tell me about my sister.", "What do you know about my brother?", "Any news about Waffles?",
                     "What hobbies do I have?"]
        turns = gateway.turns([(MAIN, q) for q in questions], timeout_s=600)
        # One model request per turn, paired with the turns in order, each inside its own turn.
        requests = sorted((r for r in stub.since(turns[0]["sentAt"] / 1000 - 0.001)
                           if r.at <= turns[-1]["endedAt"] / 1000 + 0.05), key=lambda r: r.at)
        assert [t["status"] for t in turns] == ["ok"] * len(questions) and len(requests) == len(questions), \
            (len(requests), [t["status"] for t in turns])
        for t, r in zip(turns, requests, strict=True):
            assert t["sentAt"] / 1000 - 0.001 <= r.at <= t["endedAt"] / 1000 + 0.05, (t, r.at)
        previous = None
        for question, request in zip(questions, requests, strict=True):
            users = [_text_of(m) for m in request.body["messages"] if m["role"] == "user"]
            assert sum(_blocks(u) for u in users) == 1, (question, [u[:200] for u in users])
            # OpenClaw puts its own timestamp ("[Mon 2026-12-07 14:33 UTC] ") before the turn's prepended context.
            assert re.match(r"(\[[^\]\n]*\] )?<nova-memory>", request.user_turn), request.user_turn[:300]
            assert request.user_turn.rstrip().endswith(question)
            history = _history(request)
            assert not any(_blocks(h) for h in history if '"role": "user"' in h), question
            if previous is not None:
                assert history[:len(previous)] == previous, (question, _first_difference(previous, history))
                assert len(history) > len(previous)
            previous = history
    finally:
        service.stop()


def _text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _first_difference(before: list[str], after: list[str]) -> str:
    """Where two request prefixes part: the message index and the text around the first differing character."""
    for n, (a, b) in enumerate(zip(before, after)):
        if a != b:
            at = next(i for i, (x, y) in enumerate(zip(a + "\0", b + "\0")) if x != y)
            return f"message {n} at {at}: {a[max(0, at - 300):at + 200]!r} -> {b[max(0, at - 300):at + 200]!r}"
    return f"{len(before)} messages before, {len(after)} after"


@pytest.mark.parametrize("injection", ["append", "system"])
def test_recall_injection_puts_the_block_where_it_says(world, settings, injection):
    """``recall_injection`` (issue 37): ``append`` puts the block at the end of the user's message
    (appendContext): one block, in the last user message, the prefix before it byte-identical between
    turns like the default ``prepend``; ``system`` puts it in the system prompt (appendSystemContext):
    none in the messages, and the system prompt (the start of the cached prefix) changes whenever the
    block does, which is what that placement costs a provider's prompt cache."""
    stub, gateway, env, state = world
    service = _Service(dict(env, NOVA_RECALL_INJECTION=injection))
    gateway.start()
    try:
        gateway.turns([(MAIN, FACT), (MAIN, "My brother Tomas moved to Lisbon last spring.")])
        service.settle(projected=2)
        questions = ["What breed is Priya's dog?", "Where does Tomas live?", "What is the name of Priya's dog?"]
        requests = [_one_request(stub, t) for t in gateway.turns([(MAIN, q) for q in questions], timeout_s=300)]
        previous, changes = None, 0
        for question, request in zip(questions, requests, strict=True):
            users = [_text_of(m) for m in request.body["messages"] if m["role"] == "user"]
            history = _history(request)
            if injection == "append":
                assert sum(_blocks(u) for u in users) == 1 and _blocks(request.system) == 0, question
                turn = request.user_turn
                assert question in turn and turn.index(question) < turn.index("<nova-memory>"), turn[-600:]
                assert turn.rstrip().endswith("</nova-memory>"), turn[-300:]
                if previous is not None:
                    assert history[:len(previous)] == previous, (question, _first_difference(previous, history))
            else:
                assert sum(_blocks(u) for u in users) == 0 and _blocks(request.system) == 1, question
                assert request.user_turn.rstrip().endswith(question)
                block = request.system[request.system.index("<nova-memory>"):]
                if previous is not None and block != previous[1]:
                    assert history[0] != previous[0][0]  # the system prompt, the first message, changed
                    changes += 1
            previous = history if injection == "append" else (history, request.system[request.system.index("<nova-memory>"):])
        assert injection == "append" or changes >= 1  # the questions differ, and so do their blocks
    finally:
        service.stop()


def test_slash_memory_answers_from_nova_without_a_model_call(world, settings):
    """``/memory <query>`` (issue 37): the nova-recall plugin's command answers with what NOVA would recall,
    each memory with its date and source, and the model gets no request for that turn; ``/memory`` alone
    shows the session profile; with ``nova serve`` stopped the answer says NOVA is not running."""
    stub, gateway, env, state = world
    service = _Service(env)
    gateway.start()
    try:
        gateway.turns([(MAIN, FACT)])
        service.settle(projected=1)
        before = len(stub.since(0))
        # The profile of a session that starts now (MAIN's was served, empty, before Priya was known:
        # a session keeps its profile's bytes), and a sub-agent, which NOVA's filters leave out.
        turns = gateway.turns([(MAIN, "/memory Priya's dog"), (DIRECT, "/memory"), (SUBAGENT, "/memory Priya")])
        assert [t["status"] for t in turns] == ["ok"] * 3, turns
        assert len(stub.since(0)) == before  # no model request for a command turn
        found, profile, sub = ([_text_of(m) for m in gateway.history(key) if m.get("role") == "assistant"][-1]
                               for key in (MAIN, DIRECT, SUBAGENT))
        assert "Waffles" in found and "Source: agent:main:main" in found, found
        assert "NOVA session profile" in profile and "Priya" in profile, profile
        assert "keeps no memories of this session" in sub and "Waffles" not in sub, sub
        _nova(env, "catchup")  # the transcripts too: a command is not something the user told the agent
        assert _query(settings, "SELECT count(*) FROM entries WHERE text LIKE '%%/memory%%'"
                                " OR text LIKE 'NOVA memories for%%' OR text LIKE 'NOVA session profile%%'")[0][0] == 0
    finally:
        service.stop()
    gateway.turns([(MAIN, "/memory Priya's dog")])
    assert "NOVA is not running" in _text_of([m for m in gateway.history(MAIN) if m.get("role") == "assistant"][-1])
    assert len(stub.since(0)) == before


def _answer(gateway, key: str) -> str:
    """The session's last assistant message as the gateway shows it (a command's answer)."""
    return _text_of([m for m in gateway.history(key) if m.get("role") == "assistant"][-1])


def test_slash_remember_and_forget_steer_memory_from_the_chat(world, settings):
    """``/remember <text>`` and ``/forget`` (issue 37), answered without a model call. What is remembered
    is the user's words, recallable at once, and after catch-up its provenance is the command's own
    transcript entry; ``/forget <words>`` lists the matches numbered and ``/forget all`` forgets them
    for good (a later catch-up does not bring them back). Refused in a sub-agent's session; with
    ``nova serve`` down, ``/remember`` says so and catch-up remembers the text from the transcript."""
    stub, gateway, env, state = world
    fact = "I keep my climbing shoes in locker 4417 at the gym."
    service = _Service(env)
    gateway.start()
    try:
        before = len(stub.since(0))
        turns = gateway.turns([(MAIN, f"/remember {fact}"), (SUBAGENT, "/remember zxqv my sub-agent note"),
                               (SUBAGENT, "/forget Priya"), (MAIN, "/forget 2")])
        assert [t["status"] for t in turns] == ["ok"] * 4, turns
        service.settle(projected=1)
        assert _answer(gateway, MAIN) == "Nothing listed to forget: first /forget <words> to list the memories."
        history = [_text_of(m) for m in gateway.history(MAIN) if m.get("role") == "assistant"]
        assert f"NOVA will remember: {fact}" in history, history
        assert "sub-agent's session cannot change" in _answer(gateway, SUBAGENT)
        assert _query(settings, "SELECT entry_id LIKE 'live:%%', role FROM entries WHERE text = %s", fact) == [(True, "user")]
        assert _query(settings, "SELECT count(*) FROM entries WHERE text LIKE '%%zxqv%%'") == [(0,)]

        gateway.turns([(MAIN, "/memory climbing shoes locker")])
        assert "4417" in _answer(gateway, MAIN)

        # Catch-up adopts the live entry: the command's transcript entry, read as the text, is its provenance.
        assert _nova(env, "catchup").returncode == 0
        (entry_id, live), = _query(settings, "SELECT entry_id, live FROM entries WHERE text = %s", fact)
        assert not live and not entry_id.startswith("live:"), entry_id
        assert _query(settings, "SELECT count(*) FROM entries WHERE text ~ '^/(remember|forget|memory)'"
                                " OR text LIKE 'NOVA will remember%%' OR text LIKE 'NOVA memories for%%'") == [(0,)]
        cited = _query(settings, "SELECT count(*) FROM provenance WHERE entry_id = %s", entry_id)[0][0]
        assert cited >= 2, cited  # its episode and its fact

        gateway.turns([(MAIN, "/forget climbing shoes locker")])
        listing = _answer(gateway, MAIN)
        assert listing.startswith('NOVA memories for "climbing shoes locker":') and "1. [" in listing and "4417" in listing, listing
        assert "Nothing is forgotten yet" in listing
        gateway.turns([(MAIN, "/forget all")])
        gone = _answer(gateway, MAIN)
        assert gone.count("Forgotten: [") == listing.count("Source:") >= 1, (listing, gone)
        gateway.turns([(MAIN, "/memory climbing shoes locker")])
        after = _answer(gateway, MAIN)
        assert "4417" not in after, (listing, gone, after)
        assert _nova(env, "catchup").returncode == 0  # the forget holds against the transcript
        gateway.turns([(MAIN, "/memory climbing shoes locker")])
        assert "4417" not in _answer(gateway, MAIN)
        assert len(stub.since(0)) == before  # no model request for any command turn
    finally:
        service.stop()
    bike = "My bike is a blue Brompton."
    gateway.turns([(MAIN, f"/remember {bike}")])
    assert "NOVA is not running" in _answer(gateway, MAIN)
    assert _nova(env, "catchup").returncode == 0  # what the hook missed, catch-up reads
    assert _query(settings, "SELECT role, live FROM entries WHERE text = %s", bike) == [("user", False)]
    assert len(stub.since(0)) == before


def test_a_message_from_another_agent_is_not_the_users(world, settings):
    """Issue 37: OpenClaw's sessions_send from agent ops into main's session, in a running gateway with
    two agents. The delivered turn keeps ``trigger: user``; only ``ctx.inputProvenance`` says it came from
    another session. main's model request for it carries no NOVA block (its reply goes back to ops: the
    user's memories stay out of it; before, it held the Priya memory), and catch-up does not store the
    message as the user's words (before, "User: [Inter-session message] ... I adopted a parrot")."""
    stub, gateway, env, state = world
    config = json.loads((state / "openclaw.json").read_text())
    config["agents"]["entries"] = {"main": {"default": True}, "ops": {"workspace": str(state / "workspace-ops")}}
    config["tools"] = {"profile": "messaging"}  # sessions_send, behind OpenClaw's tool_call
    (state / "openclaw.json").write_text(json.dumps(config, indent=2))
    service = _Service(env)
    gateway.start()
    try:
        gateway.turns([(MAIN, FACT)])
        service.settle(projected=1)
        asked = "What breed is Priya's dog? By the way, I adopted a parrot named Kiwi."
        stub.call_tool("tool_call", {"id": "sessions_send",
                                     "args": {"sessionKey": MAIN, "message": asked, "timeoutSeconds": 60}})
        ops_turn, = gateway.turns([("agent:ops:main", "Ask main about Priya's dog.")], timeout_s=300)
        assert ops_turn["status"] == "ok", ops_turn
        delivered = [r for r in stub.since(ops_turn["sentAt"] / 1000 - 0.001) if asked in r.user_turn]
        assert len(delivered) == 1, [r.user_turn[:200] for r in stub.since(ops_turn["sentAt"] / 1000 - 0.001)]
        assert "Inter-session message" in delivered[0].text()  # what OpenClaw marks it with
        assert BLOCK not in delivered[0].user_turn and "greyhound" not in delivered[0].user_turn, delivered[0].user_turn
        # A turn the user sends is still served: the block reaches the model. (sessions_send goes on after
        # ops's turn ends: main's reply goes back to ops as an inter-session message; that model request
        # could fall in the user's turn's time window and be counted as its own.)
        assert stub.quiet(3, 60)
        own = _one_request(stub, gateway.turns([(MAIN, "What breed is Priya's dog?")])[0])
        assert BLOCK in own.user_turn and "greyhound" in own.user_turn
        caught = _nova(env, "catchup")
        assert caught.returncode == 0 and "inter_session" in caught.stdout, caught.stdout
        assert _query(settings, "SELECT count(*) FROM entries WHERE text LIKE '%%Kiwi%%'") == [(0,)]
        assert _query(settings, "SELECT count(*) FROM relationships WHERE fact LIKE '%%parrot%%'") == [(0,)]
    finally:
        service.stop()
