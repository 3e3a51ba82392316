"""Catch-up from the SQLite transcript store of OpenClaw ≥ 2026.9 (and its cold archives).

Fixtures are built by tests/e2e/openclaw_sqlite_store.mjs with OpenClaw's own schema SQL from
the npm package, in Node's SQLite, with node:zlib's zstd, as OpenClaw writes them.
"""

from __future__ import annotations

import json
import subprocess
import time

from nova.ingest.catchup import run_catchup
from nova.ingest.transcripts_sqlite import agent_db_path

from conftest import ROOT, row_counts, write_transcript

BUILDER = ROOT / "tests" / "e2e" / "openclaw_sqlite_store.mjs"


def message(eid: str, parent: str | None, role: str, text: str, minute: int) -> dict:
    return {"type": "message", "id": eid, "parentId": parent, "timestamp": f"2023-05-08T14:{minute:02d}:00Z",
            "message": {"role": role, "content": [{"type": "text", "text": text}]}}


def header(sid: str) -> dict:
    return {"type": "session", "version": 3, "id": sid, "timestamp": "2023-05-08T13:56:00Z", "cwd": "/w"}


def build(openclaw, db, sessions, hold_ms=0, wait=True):
    node, pkg = openclaw
    spec = json.dumps({"db": str(db), "sessions": sessions, "holdMs": hold_ms})
    proc = subprocess.Popen([str(node), str(BUILDER), str(pkg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdin.write(spec)
    proc.stdin.close()
    if not wait:
        return proc
    assert proc.wait(60) == 0, proc.stderr.read()
    return proc


def test_hot_compressed_and_cold_sessions_are_read_with_their_keys(store, settings, projector, tmp_path, openclaw):
    state = tmp_path / "state"
    db = agent_db_path(state, "main")
    build(openclaw, db, [
        {"sessionId": "hot", "sessionKey": "agent:main:main", "compressFrom": 2, "events": [
            header("hot"),
            message("h1", None, "user", "My dog Biscuit loves the beach.", 1),
            message("h2", "h1", "assistant", "Biscuit sounds like a happy dog!", 2),
        ]},
        {"sessionId": "coldfile", "sessionKey": "agent:main:telegram:direct:42", "cold": "file", "events": [
            header("coldfile"), message("c1", None, "user", "I moved to Hamburg in March.", 3),
        ]},
        {"sessionId": "coldblob", "sessionKey": "agent:main:main", "cold": "sqlite", "events": [
            header("coldblob"), message("b1", None, "user", "My sister Ana plays the cello.", 4),
        ]},
        {"sessionId": "sub", "sessionKey": "agent:main:subagent:0b9f7c1e", "events": [
            header("sub"), message("s1", None, "user", "zxqv subagent chatter", 5),
        ]},
    ])
    report = run_catchup(store, settings, projector, state)
    assert report.entries_new == 4 and report.projection.failed == 0
    assert report.entries_filtered == 1
    with store.connection() as conn:
        rows = dict(conn.execute("SELECT entry_id, session_key || ' ' || source_file FROM entries").fetchall())
        text = " ".join(r[0] for r in conn.execute("SELECT fact FROM relationships"))
    assert rows == {
        "h1": "agent:main:main sqlite:hot",
        "h2": "agent:main:main sqlite:hot",   # zstd-compressed event
        "c1": "agent:main:telegram:direct:42 sqlite:coldfile",
        "b1": "agent:main:main sqlite:coldblob",
    }
    assert "Hamburg" in text and "zxqv" not in text

    again = run_catchup(store, settings, projector, state)
    assert again.nothing_new and again.files_read == 0


def test_appends_are_incremental_and_cooling_a_read_session_costs_nothing(store, settings, projector, tmp_path,
                                                                          openclaw):
    state = tmp_path / "state"
    db = agent_db_path(state, "main")
    session = {"sessionId": "s", "sessionKey": "agent:main:main",
               "events": [header("s"), message("m1", None, "user", "I adopted a cat named Luna.", 1)]}
    build(openclaw, db, [session])
    assert run_catchup(store, settings, projector, state).entries_new == 1
    build(openclaw, db, [dict(session, events=[message("m2", "m1", "user", "Luna loves tuna.", 2)])])
    appended = run_catchup(store, settings, projector, state)
    assert appended.entries_new == 1 and appended.entries_known == 0
    counts = row_counts(store)
    build(openclaw, db, [dict(session, events=[], cold="file")])
    cooled = run_catchup(store, settings, projector, state)
    assert cooled.files_read == 0 and cooled.entries_new == 0
    assert row_counts(store) == counts


def test_a_session_in_both_jsonl_and_sqlite_is_stored_once(store, settings, projector, tmp_path, openclaw):
    state = tmp_path / "state"
    lines = write_transcript(state / "agents" / "main" / "sessions" / "both.jsonl", "both",
                             [("user", "I work at Acme as a welder."), ("assistant", "Nice!")])
    build(openclaw, agent_db_path(state, "main"),
          [{"sessionId": "both", "sessionKey": "agent:main:main", "events": lines}])
    report = run_catchup(store, settings, projector, state)
    assert report.entries_new == 2 and report.entries_known == 2


def test_reading_never_waits_for_the_gateways_writer(store, settings, projector, tmp_path, openclaw):
    state = tmp_path / "state"
    db = agent_db_path(state, "main")
    build(openclaw, db, [{"sessionId": "s", "sessionKey": "agent:main:main",
                          "events": [header("s"), message("m1", None, "user", "Remember my locker code is blue.", 1)]}])
    writer = build(openclaw, db, [], hold_ms=8000, wait=False)
    assert writer.stdout.readline().strip() == "holding"
    t0 = time.monotonic()
    report = run_catchup(store, settings, projector, state)
    took = time.monotonic() - t0
    still_writing = writer.poll() is None
    assert writer.wait(30) == 0
    assert still_writing and took < 8, f"catch-up took {took:.1f} s while the writer held its transaction"
    assert report.entries_new == 1


def test_an_undecodable_event_is_counted_as_such_and_the_rest_is_read(store, settings, projector, tmp_path, openclaw):
    import sqlite3

    state = tmp_path / "state"
    db = agent_db_path(state, "main")
    build(openclaw, db, [{"sessionId": "hot", "sessionKey": "agent:main:main", "compressFrom": 2, "events": [
        header("hot"),
        message("h1", None, "user", "My dog Biscuit loves the beach.", 1),
        message("h2", "h1", "user", "My sister Ana plays the cello.", 2),
        message("h3", "h2", "user", "I moved to Hamburg in March.", 3),
    ]}])
    with sqlite3.connect(db) as conn:  # one compressed event's bytes damaged on disk
        damaged = conn.execute("UPDATE transcript_events SET event_zstd = x'28b52ffd00deadbeef'"
                               " WHERE session_id = 'hot' AND event_zstd IS NOT NULL AND seq ="
                               " (SELECT min(seq) FROM transcript_events WHERE session_id = 'hot'"
                               "  AND event_zstd IS NOT NULL)").rowcount
    assert damaged == 1
    report = run_catchup(store, settings, projector, state)
    assert report.lines.skipped["undecodable"] == 1 and report.lines.skipped["blank"] == 0
    assert report.entries_new == 2 and report.projection.failed == 0
