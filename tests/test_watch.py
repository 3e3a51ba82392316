"""``nova watch``: real files, real inotify, the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nova.ingest.watch import watch_state_dir

from conftest import ROOT, write_transcript


def entry_ids(store) -> list[str]:
    with store.connection() as conn:
        return sorted(r[0] for r in conn.execute("SELECT entry_id FROM entries"))


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def line(eid, parent, text, minute=10):
    return json.dumps({"type": "message", "id": eid, "parentId": parent, "timestamp": f"2023-05-08T14:{minute:02d}:00Z",
                       "message": {"role": "user", "content": [{"type": "text", "text": text}]}}) + "\n"


@pytest.fixture
def watcher(store, settings, projector, tmp_path):
    state = tmp_path / "late-state"   # does not exist yet: the watcher waits for it
    stop = threading.Event()
    reports = []
    thread = threading.Thread(target=watch_state_dir, daemon=True, kwargs=dict(
        settings=settings, store=store, projector=projector, state_dir=state, stop=stop,
        on_report=reports.append, debounce_ms=100))
    thread.start()
    yield state, reports
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def test_watcher_follows_appends_rotation_rewrites_and_new_agents(store, watcher):
    state, reports = watcher
    time.sleep(1.2)
    sessions = state / "agents" / "main" / "sessions"
    live = sessions / "s1.jsonl"
    write_transcript(live, "s1", [("user", "I adopted a cat named Luna.")])
    assert wait_for(lambda: entry_ids(store) == ["e1"], 30)

    # An append in several writes: nothing is taken until the line is complete.
    text = line("e2", "e1", "Luna loves tuna.")
    with live.open("a") as fh:
        fh.write(text[:25])
        fh.flush()
        time.sleep(0.6)
        assert entry_ids(store) == ["e1"]
        fh.write(text[25:])
    assert wait_for(lambda: entry_ids(store) == ["e1", "e2"])

    # Rotation: the live file becomes an archive and a new one starts; nothing is re-ingested.
    runs = len(reports)
    live.rename(sessions / "s1.jsonl.reset.2026-11-23T10-00-00.000Z")
    write_transcript(sessions / "s2.jsonl", "s2", [("user", "I started pottery classes.")], id_prefix="p")
    assert wait_for(lambda: "p1" in entry_ids(store))
    assert entry_ids(store) == ["e1", "e2", "p1"]
    assert all(r.entries_new <= 1 for r in reports[runs:])

    # A rewrite shorter than the cursor, then a new key in sessions.json and a new agent.
    (sessions / "s2.jsonl").write_text((sessions / "s2.jsonl").read_text().splitlines()[0] + "\n")
    (sessions / "sessions.json").write_text(json.dumps({"agent:main:telegram:direct:7": {"sessionId": "s3"}}))
    write_transcript(state / "agents" / "ops" / "sessions" / "o.jsonl", "o", [("user", "The deploy is on Friday.")],
                     id_prefix="o")
    assert wait_for(lambda: "o1" in entry_ids(store))

    def registered():
        with store.connection() as conn:
            return conn.execute("SELECT session_key FROM sessions WHERE session_id = 's3'").fetchone()
    assert wait_for(registered)
    with store.connection() as conn:
        key = registered()
        dupes = conn.execute("SELECT count(*) - count(DISTINCT (agent_id, session_id, entry_id)) FROM entries").fetchone()[0]
    assert key == ("agent:main:telegram:direct:7",)   # registered before any s3 transcript exists
    assert dupes == 0 and entry_ids(store) == ["e1", "e2", "o1", "p1"]


def test_nova_watch_exits_cleanly_on_sigterm(settings, tmp_path):
    state = tmp_path / "state"
    write_transcript(state / "agents" / "main" / "sessions" / "a.jsonl", "a", [("user", "I live in Porto.")])
    env = dict(os.environ, NOVA_HOME=str(settings.home), NOVA_DATABASE_URL=settings.database_url)
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "watch", "--openclaw-dir", str(state)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import psycopg

        def ingested():
            with psycopg.connect(settings.database_url) as conn:
                try:
                    return conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
                except psycopg.errors.UndefinedTable:
                    return False
        assert wait_for(ingested, 120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "stopped after" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
