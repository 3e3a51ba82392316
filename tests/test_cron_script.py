"""scripts/memory-catchup.sh: env file, host lock, rotating log, exit codes."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import subprocess

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "memory-catchup.sh"


def run(env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)


def test_exit_codes_lock_env_file_and_log(settings, state_dir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env_file = home / "nova.env"
    env_file.write_text(f"OPENCLAW_STATE_DIR={state_dir}\nNOVA_DATABASE_URL={shlex.quote(settings.database_url)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVA_", "OPENCLAW_"))}
    env.update(NOVA_HOME=str(home), NOVA_BIN=str(ROOT / ".venv" / "bin" / "nova")
               if (ROOT / ".venv" / "bin" / "nova").exists() else "nova")

    first = run(env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""   # cron mails stdout: nothing unless something is wrong
    assert run(env).returncode == 3

    log = (home / "logs" / "catchup.log").read_text()
    summaries = [json.loads(line.split("catch-up ", 1)[1]) for line in log.splitlines() if "nova.catchup: catch-up {" in line]
    assert [s["entries_new"] for s in summaries] == [12, 0]
    assert "memory-catchup: done (exit 0)" in log and "memory-catchup: nothing new (exit 3)" in log

    with open(home / "catchup.lock", "a") as held:  # another run on this host holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run(env).returncode == 4
        fcntl.flock(held, fcntl.LOCK_UN)

    env_file.write_text(f"OPENCLAW_STATE_DIR={tmp_path / 'nowhere'}\nNOVA_DATABASE_URL={shlex.quote(settings.database_url)}\n")
    bad = run(env)
    assert bad.returncode == 2 and "no OpenClaw agents" in bad.stderr
    assert "no OpenClaw agents" in (home / "logs" / "catchup.log").read_text()

    missing = run(dict(env, NOVA_ENV_FILE=str(tmp_path / "absent.env")))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
