"""``nova doctor`` and ``nova serve --check`` on real set-ups, healthy and broken the ways operators break them.

Each case is a real state: a running ``nova serve`` (or none), the sample OpenClaw state dir
with NOVA installed by ``nova install-hooks``, the real ``openclaw`` CLI from npm on PATH
for the cases that need OpenClaw's own view, a transcript that grew after catch-up, a database
nobody migrated. The doctor runs as the operator runs it, ``nova doctor --json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from conftest import ROOT, serve_process


def _nova(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nova.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _doctor(env) -> tuple[int, dict[str, dict]]:
    done = _nova(env, "doctor", "--json")
    assert done.stdout.startswith("{"), done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["exitCode"] == done.returncode, done.stderr[-2000:]
    return done.returncode, {c["name"]: c for c in report["checks"]}


@pytest.fixture
def installed(settings, state_dir, openclaw):
    """(env with the openclaw CLI on PATH, env without it, state dir): NOVA installed and caught up."""
    node, package = openclaw
    base = dict(os.environ, NOVA_HOME=str(settings.home), NOVA_DATABASE_URL=settings.database_url,
                OPENCLAW_STATE_DIR=str(state_dir))
    base.pop("NOVA_SOCKET", None)
    bare = dict(base, PATH=os.pathsep.join(p for p in base["PATH"].split(os.pathsep)
                                           if not (os.path.isfile(os.path.join(p, "openclaw")))))
    with_cli = dict(base, PATH=f"{node.parent}{os.pathsep}{base['PATH']}")
    assert (node.parent / "openclaw").exists()
    for step in (("install-hooks",), ("catchup",)):
        done = _nova(bare, *step)
        assert done.returncode == 0, done.stderr[-2000:]
    return with_cli, bare, state_dir


def _edit_config(state_dir, change) -> None:
    path = state_dir / "openclaw.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_doctor_passes_a_healthy_install_and_names_each_breakage(installed, settings):
    with_cli, bare, state_dir = installed
    service = serve_process(bare)
    try:
        code, checks = _doctor(with_cli)
        assert code == 0, {n: c for n, c in checks.items() if c["status"] != "pass"}
        assert all(c["status"] == "pass" for c in checks.values()), checks
        assert "memory-extract" in checks["openclaw hooks list"]["detail"]
        assert "loaded" in checks["openclaw plugins inspect"]["detail"]
        check = _nova(bare, "serve", "--check")
        assert check.returncode == 0 and "ok" in check.stdout, check.stderr

        # Hooks disabled in openclaw.json: our own reading and OpenClaw's both say so.
        _edit_config(state_dir, lambda d: d["hooks"]["internal"]["entries"]["memory-extract"].update(enabled=False))
        code, checks = _doctor(with_cli)
        assert code == 2
        assert checks["hooks enabled"]["status"] == "fail" and "memory-extract" in checks["hooks enabled"]["detail"]
        assert checks["hooks enabled"]["fix"] == "openclaw hooks enable memory-extract"
        assert checks["openclaw hooks list"]["status"] == "fail"
        assert "memory-extract: disabled in config" in checks["openclaw hooks list"]["detail"]
        assert checks["recall plugin"]["status"] == "pass"
        _edit_config(state_dir, lambda d: d["hooks"]["internal"]["entries"]["memory-extract"].update(enabled=True))

        # An allowlist without the plugin, and conversation access withdrawn.
        def not_allowed(d):
            d["plugins"]["allow"] = ["some-other-plugin"]
            d["plugins"]["entries"]["nova-recall"]["hooks"]["allowConversationAccess"] = False
        _edit_config(state_dir, not_allowed)
        code, checks = _doctor(with_cli)
        assert code == 2
        plugin = checks["recall plugin"]
        assert plugin["status"] == "fail" and "plugins.allow exists and lacks nova-recall" in plugin["detail"]
        assert "allowConversationAccess is not true" in plugin["detail"]
        assert checks["openclaw plugins inspect"]["status"] == "fail", checks["openclaw plugins inspect"]
        assert checks["hooks enabled"]["status"] == "pass"
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0

    # Service down (the plugin still broken from above; the rest as installed).
    code, checks = _doctor(bare)
    assert code == 2
    assert checks["service"]["status"] == "fail" and checks["service"]["fix"].startswith("nova serve")
    assert checks["openclaw hooks list"]["status"] == "skip"  # no openclaw CLI on this PATH
    assert _nova(bare, "serve", "--check").returncode == 2


def test_doctor_warns_of_a_transcript_catch_up_has_not_read(installed):
    _, bare, state_dir = installed
    code, checks = _doctor(bare)
    assert checks["catch-up lag"]["status"] == "pass", checks["catch-up lag"]
    assert "main: up to date" in checks["catch-up lag"]["detail"]

    # Two hours of messages appended after the last catch-up: nobody runs cron or the watcher.
    session = state_dir / "agents" / "main" / "sessions" / "9a0b1c2d-3333-4e5f-a0b1-cccccccccccc.jsonl"
    at = datetime.now(timezone.utc) - timedelta(hours=2)
    lines = [{"type": "message", "id": f"late-{i}", "parentId": "9a0b-02",
              "timestamp": (at + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
              "message": {"role": "user", "content": [{"type": "text", "text": f"Late news number {i}."}]}}
             for i in range(3)]
    with session.open("a") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    code, checks = _doctor(bare)
    lag = checks["catch-up lag"]
    assert code == 2  # the service is not running in this test: that check fails too
    assert lag["status"] == "warn" and "main: 3 entries unread in 1 transcript(s)" in lag["detail"], lag
    assert "nova catchup" in lag["fix"]

    assert _nova(bare, "catchup").returncode == 0
    _, checks = _doctor(bare)
    assert checks["catch-up lag"]["status"] == "pass", checks["catch-up lag"]


def test_doctor_fails_an_unmigrated_database_and_changes_nothing(server_dsn, tmp_path):
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=name)
    env = dict(os.environ, NOVA_HOME=str(tmp_path / "home"), NOVA_DATABASE_URL=dsn,
               OPENCLAW_STATE_DIR=str(tmp_path / "no-openclaw"))
    try:
        code, checks = _doctor(env)
        assert code == 2
        assert checks["database"]["status"] == "pass"
        migrations = checks["migrations"]
        assert migrations["status"] == "fail" and migrations["fix"] == "nova migrate"
        shipped = len(list((ROOT / "sql").glob("*.sql")))
        assert migrations["detail"].startswith(f"{shipped} of {shipped} not applied")
        assert checks["openclaw.json"]["status"] == "fail" and "--openclaw-dir" in checks["openclaw.json"]["fix"]
        with psycopg.connect(dsn) as conn:  # the doctor looked, it did not migrate
            assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None

        assert _nova(env, "migrate").returncode == 0
        _, checks = _doctor(env)
        assert checks["migrations"]["status"] == "pass"
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
