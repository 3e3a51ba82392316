"""nova install-hooks / uninstall-hooks on a real state dir: files, openclaw.json edits, backups."""

from __future__ import annotations

import json
import subprocess
import sys

import json5
import pytest

from conftest import ROOT

OPENCLAW_JSON5 = """// operator's config, with comments and trailing commas (JSON5)
{
  agents: { list: [{ id: "main", workspace: "~/work/main" }], defaults: { model: "anthropic/claude" } },
  hooks: { internal: { enabled: true, entries: { "session-memory": { enabled: true } } } },
  plugins: { allow: ["voice-call"], entries: { "voice-call": { enabled: false } } },
  channels: { telegram: { botToken: "123:abc" } },
}
"""


def _nova(*args, env):
    return subprocess.run([sys.executable, "-m", "nova.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)


@pytest.fixture
def env(tmp_path, monkeypatch):
    import os

    e = dict(os.environ, NOVA_HOME=str(tmp_path / "nova-home"))
    e.pop("OPENCLAW_STATE_DIR", None)
    return e


def test_install_then_uninstall_keeps_every_other_setting(tmp_path, env):
    state = tmp_path / "state"
    state.mkdir()
    (state / "openclaw.json").write_text(OPENCLAW_JSON5)
    original = json5.loads(OPENCLAW_JSON5)

    r = _nova("install-hooks", "--openclaw-dir", str(state), env=env)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((state / "openclaw.json").read_text())  # valid strict JSON now
    assert cfg["agents"] == original["agents"] and cfg["channels"] == original["channels"]
    assert cfg["hooks"]["internal"]["entries"]["session-memory"] == {"enabled": True}
    for hook in ("memory-extract", "semantic-recall", "session-init"):
        assert cfg["hooks"]["internal"]["entries"][hook] == {"enabled": True}
        assert (state / "hooks" / hook / "HOOK.md").is_file() and (state / "hooks" / hook / "handler.js").is_file()
    plugin_dir = state / "hooks" / "nova-recall-plugin"
    assert cfg["plugins"]["load"]["paths"] == [str(plugin_dir)]
    assert cfg["plugins"]["allow"] == ["voice-call", "nova-recall"]
    entry = cfg["plugins"]["entries"]["nova-recall"]
    assert entry["enabled"] is True and entry["hooks"] == {"allowConversationAccess": True}
    assert entry["config"]["socket"] == str(tmp_path / "nova-home" / "nova.sock")
    client_cfg = json.loads((state / "hooks" / "nova-lib" / "config.json").read_text())
    assert client_cfg["socket"] == entry["config"]["socket"] and client_cfg["budgetsMs"]["bootstrap"] == 300
    backups = list(state.glob("openclaw.json.nova-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == OPENCLAW_JSON5
    assert "openclaw hooks list" in r.stdout

    # Twice is the same as once.
    assert _nova("install-hooks", "--openclaw-dir", str(state), env=env).returncode == 0
    assert json.loads((state / "openclaw.json").read_text()) == cfg

    r = _nova("uninstall-hooks", "--openclaw-dir", str(state), env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads((state / "openclaw.json").read_text()) == original
    assert sorted(p.name for p in (state / "hooks").iterdir()) == []


def test_install_refuses_a_broken_config_and_changes_nothing(tmp_path, env):
    state = tmp_path / "state"
    state.mkdir()
    (state / "openclaw.json").write_text("{ hooks: ")
    r = _nova("install-hooks", "--openclaw-dir", str(state), env=env)
    assert r.returncode == 2 and "not valid JSON5" in r.stderr
    assert (state / "openclaw.json").read_text() == "{ hooks: "
    assert not (state / "hooks").exists()
    r = _nova("install-hooks", "--openclaw-dir", str(tmp_path / "missing"), env=env)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_tcp_mode_writes_url_and_token_file(tmp_path, env):
    state = tmp_path / "state"
    state.mkdir()
    env = dict(env, NOVA_SERVICE__HOST="127.0.0.1", NOVA_SERVICE__PORT="7777")
    assert _nova("install-hooks", "--openclaw-dir", str(state), env=env).returncode == 0
    client_cfg = json.loads((state / "hooks" / "nova-lib" / "config.json").read_text())
    assert client_cfg["url"] == "http://127.0.0.1:7777"
    assert client_cfg["tokenFile"] == str(tmp_path / "nova-home" / "service.token")
    assert "socket" not in client_cfg
