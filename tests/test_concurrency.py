"""All of NOVA's writers at once, as real processes on one embedded PostgreSQL.

`nova serve` takes live messages at a steady rate (the body the memory-extract hook posts, then
the transcript lines OpenClaw appends after the turn) while `nova watch` and the cron script
catch up the same state dir, `nova catchup` runs are killed with SIGKILL at random moments, and
`nova reextract` and `nova forget --session-key` are fired mid-way. Afterwards: no entry lost or
duplicated, no live entry left unadopted, no duplicate episode, no dangling provenance, nothing
failed, the forgotten session's words nowhere, and the memories equal (by content) to one clean
catch-up of the same transcripts with the same forget scope. `--long` runs it for minutes.

The gateway's own event path (message:received → hook → service) is tested with a real gateway
in test_gateway_e2e.py; here the point is the writers' interleaving, at a rate a gateway on this
machine cannot drive.
"""

from __future__ import annotations

import json
from collections import Counter
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

from conftest import ROOT, long_run, service_health, write_transcript
from test_catchup_processes import Database, DsnStore
from test_forget import rows_mentioning
from test_reextract import memories

SECRET = "Zanzibarquartz"
SECRET_KEY = "agent:main:telegram:direct:999"
LIVE_KEY = "agent:main:main"
PEOPLE = ["Ana", "Ben", "Chloe", "Dev", "Emil", "Farah"]
PLACES = ["Lisbon", "Porto", "Hamburg", "Oslo", "Kyoto", "Lima"]
HOBBIES = ["cello", "pottery", "climbing", "chess", "sailing", "baking"]


def _state(root):
    """Two caught-up-able direct sessions, one to forget, and the live main session (empty yet)."""
    sessions = root / "agents" / "main" / "sessions"
    for s in range(2):
        turns = []
        for t in range(10):
            i = s * 5 + t
            turns += [("user", f"My friend {PEOPLE[i % 6]} moved to {PLACES[(i // 2) % 6]} and took up"
                               f" {HOBBIES[(i // 3) % 6]} in week {t}."), ("assistant", "Good for them!")]
        write_transcript(sessions / f"d{s}.jsonl", f"d{s}", turns, start=f"2025-0{s + 1}-10T10:00:00Z",
                         id_prefix=f"d{s}-")
    write_transcript(sessions / "secret.jsonl", "secret", [
        ("user", f"My locker code word is {SECRET}."), ("assistant", "Noted."),
        ("user", f"Tell nobody about {SECRET} please."), ("assistant", "Of course."),
    ], start="2025-03-01T09:00:00Z", id_prefix="x")
    write_transcript(sessions / "live1.jsonl", "live1", [], start="2026-01-01T08:00:00Z")
    (sessions / "sessions.json").write_text(json.dumps({
        "agent:main:telegram:direct:100": {"sessionId": "d0"}, "agent:main:telegram:direct:101": {"sessionId": "d1"},
        SECRET_KEY: {"sessionId": "secret"}, LIVE_KEY: {"sessionId": "live1"}}))
    return sessions / "live1.jsonl"


def _feed(sock, transcript, count, interval_s, answers):
    """One turn per ``interval_s``: the hook's POST /v1/messages, then the turn's two transcript lines."""
    from nova.serve.client import get_json

    t0 = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)
    parent = None
    for i in range(count):
        at = t0 + timedelta(minutes=i)
        text = f"My colleague {PEOPLE[i % 6]} booked a {HOBBIES[i % 6]} trip to {PLACES[(i * 5) % 6]} for day {i}."
        answers.append(get_json(sock, "/v1/messages", timeout=5, body={
            "sessionKey": LIVE_KEY, "content": text, "messageId": f"m{i}", "timestamp": int(at.timestamp() * 1000)}))
        time.sleep(interval_s / 2)  # the model answers; OpenClaw writes the turn afterwards
        with transcript.open("a") as f:
            for role, eid, body, dt in (("user", f"l{i}u", text, 0), ("assistant", f"l{i}a", "Sounds fun!", 1)):
                stamp = (at + timedelta(seconds=dt)).isoformat().replace("+00:00", "Z")
                f.write(json.dumps({"type": "message", "id": eid, "parentId": parent, "timestamp": stamp,
                                    "message": {"role": role, "content": [{"type": "text", "text": body}]}}) + "\n")
                parent = eid
        time.sleep(interval_s / 2)


def _nova(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _invariants(dsn):
    with psycopg.connect(dsn) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]
        return {
            "duplicate entries": one("SELECT count(*) - count(DISTINCT (agent_id, session_id, entry_id)) FROM entries"),
            "live entries left": one("SELECT count(*) FROM entries WHERE live"),
            "same text twice in a session": one(
                "SELECT count(*) FROM (SELECT 1 FROM entries GROUP BY agent_id, session_id, role, text, occurred_at"
                " HAVING count(*) > 1) d"),
            "duplicate episodes": one(
                "SELECT count(*) FROM (SELECT 1 FROM episodes GROUP BY agent_id, session_id, first_seq HAVING count(*) > 1) d"),
            "entries in two episodes": one(
                "SELECT count(*) FROM (SELECT 1 FROM provenance WHERE item_kind = 'episode'"
                " GROUP BY agent_id, session_id, entry_id HAVING count(*) > 1) d"),
            "dangling provenance": one(
                "SELECT count(*) FROM provenance p WHERE NOT EXISTS (SELECT 1 FROM episodes e WHERE p.item_kind = 'episode'"
                " AND e.agent_id = p.agent_id AND e.id = p.item_id) AND NOT EXISTS (SELECT 1 FROM relationships r"
                " WHERE p.item_kind = 'relationship' AND r.agent_id = p.agent_id AND r.id = p.item_id)"
                " AND NOT EXISTS (SELECT 1 FROM entities n WHERE p.item_kind = 'entity' AND n.agent_id = p.agent_id"
                " AND n.id = p.item_id)"),
            "not done": one("SELECT count(*) FROM entry_extraction WHERE status <> 'done'"),
            # The full-text word counts (kept by triggers) against a recount of the rows.
            "lexeme counts off": sum(one(
                f"SELECT count(*) FROM (SELECT agent_id, l, count(*) FROM {t}, unnest(array_append(tsvector_to_array(tsv), ''))"
                f" l GROUP BY 1, 2) c FULL JOIN (SELECT * FROM lexeme_frequencies WHERE tbl = '{t}') f"
                " ON (f.agent_id, f.lexeme) = (c.agent_id, c.l) WHERE f.n_rows IS DISTINCT FROM c.count")
                for t in ("episodes", "relationships")),
        }


def test_every_writer_at_once_ends_as_one_clean_catchup(server_dsn, settings, projector, tmp_path):
    rounds = 200 if long_run() else 24
    state = tmp_path / "state"
    transcript = _state(state)
    db = Database(server_dsn)
    home = tmp_path / "home"
    env = dict(os.environ, NOVA_DATABASE_URL=db.dsn, NOVA_HOME=str(home), OPENCLAW_STATE_DIR=str(state),
               NOVA_CATCHUP_CHUNK_ENTRIES="8")
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    outcomes: dict[str, list] = {"cron": [], "killed": [], "answers": []}
    try:
        serve_log = (tmp_path / "serve.log").open("w")  # a pipe nobody reads would fill and stall the service
        serve = subprocess.Popen([sys.executable, "-m", "nova.cli", "serve"], env=env, cwd=ROOT, stdout=serve_log,
                                 stderr=subprocess.STDOUT)
        procs.append(serve)
        deadline = time.monotonic() + 180
        while service_health(home / "nova.sock") is None:
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.3)
        watch = subprocess.Popen([sys.executable, "-m", "nova.cli", "watch", "--rescan", "5"], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(watch)

        def cron():
            while not stop.is_set():
                done = subprocess.run(["bash", str(ROOT / "scripts/memory-catchup.sh")], env=env, capture_output=True,
                                      text=True, timeout=600)
                outcomes["cron"].append((done.returncode, done.stderr[-500:]))
                stop.wait(1.0)

        def killer(rng=random.Random(15)):
            while not stop.is_set():
                victim = subprocess.Popen([sys.executable, "-m", "nova.cli", "catchup"], env=env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append(victim)
                stop.wait(rng.uniform(4.0, 12.0))  # models load in about 5 s: some die loading, some writing
                victim.send_signal(signal.SIGKILL)
                outcomes["killed"].append(victim.wait(30))

        workers = [threading.Thread(target=f, daemon=True) for f in (cron, killer)]
        for w in workers:
            w.start()
        feeder = threading.Thread(target=_feed, args=(home / "nova.sock", transcript, rounds, 0.6, outcomes["answers"]),
                                  daemon=True)
        feeder.start()
        time.sleep(rounds * 0.6 / 3)
        reextracted = _nova(env, "reextract", "--agent", "main")
        assert reextracted.returncode == 0, reextracted.stderr[-2000:]
        forgot = _nova(env, "forget", "--agent", "main", "--session-key", SECRET_KEY, "--yes", "--json")
        assert forgot.returncode == 0, forgot.stderr[-2000:]
        feeder.join(600)
        stop.set()
        for w in workers:
            w.join(600)
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(120) == 0, watch.stderr.read()[-2000:]
        final = _nova(env, "catchup")
        assert final.returncode in (0, 3), final.stderr[-2000:]
        deadline = time.monotonic() + 120
        while (service_health(home / "nova.sock") or {}).get("queued", 1) and time.monotonic() < deadline:
            time.sleep(0.2)

        # Every message was taken live or deferred to catch-up, never refused with an error.
        statuses = {a["status"] if a else "no answer" for a in outcomes["answers"]}
        assert statuses <= {"queued", "duplicate", "busy"}, statuses
        assert all(code in (0, 3, 4) for code, _ in outcomes["cron"]), outcomes["cron"]
        assert outcomes["killed"] and outcomes["cron"]
        print(f"\n{rounds} turns; live answers {Counter(a['status'] if a else None for a in outcomes['answers'])};"
              f" cron exits {Counter(c for c, _ in outcomes['cron'])}; {len(outcomes['killed'])} catch-ups killed")
        assert _invariants(db.dsn) == dict.fromkeys(_invariants(db.dsn), 0)
        with psycopg.connect(db.dsn) as conn:
            assert rows_mentioning(conn, SECRET) == {}
            kept = conn.execute("SELECT count(*) FROM entries WHERE agent_id = 'main'").fetchone()[0]
        assert kept == 2 * 20 + 2 * rounds  # every line of the sessions not forgotten, once

        # The reference: the same transcripts caught up once, by one process, with the same forget scope.
        from nova.ingest.catchup import run_catchup
        from nova.memory.forget import ForgetScope, forget
        from nova.store.connection import open_store

        clean = Database(server_dsn)
        try:
            with open_store(settings.model_copy(update={"database_url": clean.dsn})) as ref:
                forget(ref, ForgetScope("main", session_key=SECRET_KEY), projector_factory=lambda: projector,
                       vacuum="off")
                run_catchup(ref, settings, projector, state)
            assert memories(DsnStore(db.dsn)) == memories(DsnStore(clean.dsn))
            # ... and recall the same bytes (test_recall_determinism.py: more ways to build a store).
            queries = tmp_path / "queries.jsonl"
            queries.write_text("".join(json.dumps({"id": n, "query": q}) + "\n" for n, q in enumerate(
                [f"Where did {p} go?" for p in PEOPLE] + [f"Who took up {h}?" for h in HOBBIES]
                + ["What trip did my colleague book in January 2026?", "Sounds fun!", "Lisbon"])))
            recalled = [_nova(dict(env, NOVA_DATABASE_URL=d.dsn), "recall", "--agent", "main", "--json",
                              "--queries", str(queries)) for d in (db, clean)]
            assert all(r.returncode == 0 for r in recalled), recalled[0].stderr[-2000:] + recalled[1].stderr[-2000:]
            assert recalled[0].stdout == recalled[1].stdout
        finally:
            clean.drop()
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(30)
        db.drop()
