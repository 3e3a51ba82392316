"""Catch-up as real processes: kill -9 in the middle then rerun, and two runs at once.

Both must end with exactly the rows of one uninterrupted run: no duplicates, no gaps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from conftest import ROOT, write_transcript
from test_reextract import memories

PEOPLE = ["Ana", "Ben", "Chloe", "Dev", "Emil", "Farah"]
PLACES = ["Lisbon", "Porto", "Hamburg", "Oslo", "Kyoto", "Lima"]
HOBBIES = ["cello", "pottery", "climbing", "chess", "sailing", "baking"]


def corpus(state, agents=("main", "ops"), sessions=3, turns=16):
    for a, agent in enumerate(agents):
        for s in range(sessions):
            lines = []
            for t in range(turns):
                i = a * 7 + s * 3 + t
                who, where, what = PEOPLE[i % 6], PLACES[(i // 2) % 6], HOBBIES[(i // 3) % 6]
                lines.append(("user", f"My friend {who} moved to {where} and took up {what} in week {t}."))
                lines.append(("assistant", f"Good for {who}! How is {where}?"))
            write_transcript(state / "agents" / agent / "sessions" / f"s{s}.jsonl", f"s{s}", lines,
                             start=f"2025-0{s + 1}-10T10:00:00Z", id_prefix=f"{agent}{s}-")
    return len(agents) * sessions * turns * 2


class Database:
    def __init__(self, server_dsn):
        self.server_dsn = server_dsn
        self.name = "p_" + uuid.uuid4().hex[:12]
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        self.dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=self.name)

    def drop(self):
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def catchup(dsn, home, state, wait=True, chunk: int | None = 8):
    """`nova catchup --cron` of ``state`` into ``dsn`` as a process, in chunks of ``chunk`` entries (None: the default)."""
    env = dict(os.environ, NOVA_DATABASE_URL=dsn, NOVA_HOME=str(home))
    if chunk is not None:
        env["NOVA_CATCHUP_CHUNK_ENTRIES"] = str(chunk)
    proc = subprocess.Popen([sys.executable, "-m", "nova.cli", "catchup", "--cron", "--openclaw-dir", str(state)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        proc.wait(600)
    return proc


def entry_count(dsn) -> int:
    try:
        with psycopg.connect(dsn) as conn:
            return conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0


class DsnStore:
    """Just enough of nova.store.connection.Store for memories()."""

    def __init__(self, dsn):
        self.dsn = dsn

    def connection(self):
        return psycopg.connect(self.dsn)


@pytest.fixture(scope="module")
def clean_run(server_dsn, tmp_path_factory):
    """The reference: one uninterrupted catch-up of the corpus."""
    state = tmp_path_factory.mktemp("state")
    total = corpus(state)
    db = Database(server_dsn)
    proc = catchup(db.dsn, tmp_path_factory.mktemp("home"), state)
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
    yield state, total, memories(DsnStore(db.dsn))
    db.drop()


def assert_same_as_clean(dsn, total, reference):
    with psycopg.connect(dsn) as conn:
        n, distinct = conn.execute("SELECT count(*), count(DISTINCT (agent_id, session_id, entry_id)) FROM entries").fetchone()
    assert n == distinct == total
    assert memories(DsnStore(dsn)) == reference


def test_kill_9_mid_catchup_then_rerun_equals_a_clean_run(server_dsn, clean_run, tmp_path):
    state, total, reference = clean_run
    db = Database(server_dsn)
    try:
        proc = catchup(db.dsn, tmp_path / "home", state, wait=False)
        deadline = time.monotonic() + 300
        while entry_count(db.dsn) < total // 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            time.sleep(0.02)
        proc.kill()   # SIGKILL: no cleanup of any kind
        proc.wait(30)
        partial = entry_count(db.dsn)
        assert 0 < partial < total, f"killed too late or too early: {partial}/{total} entries"
        rerun = catchup(db.dsn, tmp_path / "home", state)
        assert rerun.returncode == 0, rerun.stderr.read()[-2000:]
        assert_same_as_clean(db.dsn, total, reference)
    finally:
        db.drop()


def test_two_concurrent_catchups_do_the_work_once(server_dsn, clean_run, tmp_path):
    state, total, reference = clean_run
    db = Database(server_dsn)
    try:
        first = catchup(db.dsn, tmp_path / "home", state, wait=False)
        second = catchup(db.dsn, tmp_path / "home", state, wait=False)
        codes = sorted((first.wait(600), second.wait(600)))
        assert all(c in (0, 3, 4) for c in codes), (first.stderr.read()[-2000:], second.stderr.read()[-2000:])
        assert codes[0] == 0  # at least one did the work; the other did the rest, nothing, or found all busy
        assert_same_as_clean(db.dsn, total, reference)
    finally:
        db.drop()
