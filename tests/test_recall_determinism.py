"""Recall is a function of content: stores holding the same entries give byte-identical `nova recall --json`.

Three stores are built from the same transcripts in different ways: one clean catch-up; a
`nova catchup` in chunks of 5 entries killed with SIGKILL three times and resumed; and a catch-up
after each session appears (as a live agent's sessions do). Their
serial ids differ, their embeddings come from other batches (float sums differ by ~1e-7), their rows
sit in another order on disk; the same questions must still recall the same items, in the same order,
with the same scores and sources. The watcher and live-then-adopted paths are compared the same way
at the end of test_concurrency.py.

Entries are extracted in transcript order in every build. Extracting them in another order (the
first halves of all sessions, then the second halves) gives other derived rows: an entity's kind and
summary come from the mentions seen first. That is extraction, not recall, and is not claimed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg

from conftest import ROOT, write_transcript
from test_catchup_processes import Database, DsnStore, catchup, entry_count
from test_reextract import memories

PEOPLE = ["Ana", "Ben", "Chloe", "Dev", "Emil", "Farah"]
PLACES = ["Lisbon", "Porto", "Hamburg", "Oslo", "Kyoto", "Lima"]
HOBBIES = ["cello", "pottery", "climbing", "chess", "sailing", "baking"]
ACKS = ["Got it, noted.", "Sounds fun!", "Got it, noted.", "Good for them!"]  # the same reply many times


def _turns(agent: int, session: int, count: int) -> list[tuple[str, str]]:
    turns = []
    for t in range(count):
        i = agent * 5 + session * 3 + t
        who, where, what = PEOPLE[i % 6], PLACES[(i // 2) % 6], HOBBIES[(i // 3) % 6]
        user = [f"My friend {who} moved to {where} and took up {what}.",
                f"I had coffee with {who} and we talked about {what} for hours.",
                "I had coffee this morning.",   # the same line in many sessions
                f"My sister is visiting {where} next month; she loves {what}."][t % 4]
        turns += [("user", user), ("assistant", ACKS[t % 4])]
    return turns


def _write(state, sessions_each: int = 3) -> int:
    total = 0
    for a, agent in enumerate(("main", "ops")):
        sessions = state / "agents" / agent / "sessions"
        keys = {}
        for s in range(sessions_each):
            turns = _turns(a, s, 14)
            write_transcript(sessions / f"s{s}.jsonl", f"s{s}", turns, start=f"2025-0{s + 2}-10T10:00:00Z",
                             id_prefix=f"{agent}{s}-")
            keys[f"agent:{agent}:telegram:direct:{s}"] = {"sessionId": f"s{s}"}
            total += len(turns)
        (sessions / "sessions.json").write_text(json.dumps(keys))
    return total


QUERIES = [
    "Who moved to Lisbon?", "What did Ana take up?", "Where does Ben live now?", "Who plays the cello?",
    "What did I talk about over coffee?", "coffee", "Got it, noted.", "Who is my sister visiting?",
    "What happened in March 2025?", "What did I do in April 2025?", "Which friend likes sailing?",
    "What hobby did Chloe start?", "Tell me about Kyoto", "Who talked about chess for hours?",
    "What does my sister love?", "Where is Farah?", "baking in Oslo", "Did Dev move somewhere?",
    "Who took up pottery before May 2025?", "Emil",
]


def _recall_lines(env, queries_file, agent) -> str:
    done = subprocess.run([sys.executable, "-m", "nova.cli", "recall", "--agent", agent, "--json",
                           "--queries", str(queries_file)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _env(db, home):
    return dict(os.environ, NOVA_DATABASE_URL=db.dsn, NOVA_HOME=str(home))


def _caught_up(db, home, state, chunk=None):
    proc = catchup(db.dsn, home, state, chunk=chunk)
    assert proc.returncode == 0, proc.stderr.read()[-2000:]


def test_stores_built_differently_from_the_same_entries_recall_the_same_bytes(server_dsn, tmp_path):
    state = tmp_path / "state"
    total = _write(state)
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"id": n, "query": q}) + "\n" for n, q in enumerate(QUERIES)))
    clean, killed, one_by_one = (Database(server_dsn) for _ in range(3))
    try:
        _caught_up(clean, tmp_path / "h1", state)

        for kill_at in (total // 5, total // 2, 3 * total // 4):
            proc = catchup(killed.dsn, tmp_path / "h2", state, wait=False, chunk=5)
            deadline = time.monotonic() + 300
            while entry_count(killed.dsn) < kill_at and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read()[-2000:]
                time.sleep(0.02)
            proc.kill()  # SIGKILL mid-chunk: the next run resumes from the committed cursor
            proc.wait(30)
        _caught_up(killed, tmp_path / "h2", state, chunk=5)

        grown = tmp_path / "grown"
        for sessions in (1, 2, 3):
            _write(grown, sessions)
            _caught_up(one_by_one, tmp_path / "h3", grown)

        stores = {"clean": clean, "killed": killed, "one by one": one_by_one}
        reference = memories(DsnStore(clean.dsn))
        for name, db in stores.items():
            assert entry_count(db.dsn) == total, name
            assert memories(DsnStore(db.dsn)) == reference, name
        # Built differently indeed: the same episode has another serial id in another store.
        ids = {name: dict(psycopg.connect(db.dsn).execute(
            "SELECT session_id || anchor_entry_id || agent_id, id FROM episodes").fetchall()) for name, db in stores.items()}
        assert ids["clean"] != ids["one by one"] or ids["clean"] != ids["killed"]

        for agent in ("main", "ops"):
            out = {name: _recall_lines(_env(db, tmp_path / "h1"), queries, agent) for name, db in stores.items()}
            lines = [json.loads(l) for l in out["clean"].splitlines()]
            assert len(lines) == len(QUERIES) and sum(bool(l["items"]) for l in lines) == len(QUERIES)
            for name, text in out.items():
                differ = [QUERIES[n] for n, (a, b) in enumerate(zip(text.splitlines(), out["clean"].splitlines()))
                          if a != b]
                assert text == out["clean"], f"{agent}: {name} recalls otherwise for {differ}"
    finally:
        for db in (clean, killed, one_by_one):
            db.drop()
