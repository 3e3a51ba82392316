"""Who "I" and "you" are in an agent's transcripts, from its workspace files.

USER.md names the user and IDENTITY.md the agent, as ``- **Name:** value`` lines
(docs/reference/templates/IDENTITY.md: "Fields are parsed as `- Label: value` lines").
Workspace location (docs/concepts/agent-workspace.md): the agent's ``workspace`` in
openclaw.json, else ``<agents.defaults.workspace>/<agentId>`` or ``<state>/workspace-<agentId>``
in a multi-agent roster, else ``agents.defaults.workspace`` or ``<state>/workspace``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import json5

from nova.memory.speakers import Speakers

__all__ = ["load_openclaw_config", "workspace_dir", "load_speakers"]

log = logging.getLogger(__name__)

# "- **Name:** X", "- **Name**: X", "- Name: X"
_FIELD = re.compile(r"^\s*[-*]\s*\*{0,2}(?P<label>[^:*\n]+?)\s*(?::\*{0,2}|\*{0,2}:)\s*(?P<value>.*)$")
_NAME_LABELS = ("name", "preferred name", "what to call them", "call them")


def load_openclaw_config(state_dir: Path) -> dict:
    """``<state>/openclaw.json`` (JSON5) as a dict; {} when missing or unreadable."""
    path = state_dir / "openclaw.json"
    if not path.is_file():
        return {}
    try:
        data = json5.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except Exception as err:  # a broken config must not stop catch-up
        log.warning("cannot parse %s: %s", path, err)
        return {}


def workspace_dir(state_dir: Path, agent_id: str, config: dict) -> Path:
    agents = config.get("agents") if isinstance(config.get("agents"), dict) else {}
    roster = [a for a in agents.get("list") or [] if isinstance(a, dict)]
    defaults = agents.get("defaults") if isinstance(agents.get("defaults"), dict) else {}
    root = defaults.get("workspace")
    for entry in roster:
        if entry.get("id") == agent_id and isinstance(entry.get("workspace"), str):
            return Path(entry["workspace"]).expanduser()
    if len(roster) > 1 or (agent_id != "main" and roster):
        if isinstance(root, str):
            return Path(root).expanduser() / agent_id
        return state_dir / f"workspace-{agent_id}"
    if isinstance(root, str):
        return Path(root).expanduser()
    return state_dir / "workspace" if agent_id == "main" else state_dir / f"workspace-{agent_id}"


def _name_in(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        m = _FIELD.match(line)
        if not m or m.group("label").strip().lower() not in _NAME_LABELS:
            continue
        value = m.group("value").strip().strip("*_ ").strip()
        if value and not value.startswith("("):  # "(pick something you like)" is a placeholder
            return value
    return None


def load_speakers(state_dir: Path, agent_id: str, config: dict | None = None) -> Speakers:
    ws = workspace_dir(state_dir, agent_id, config if config is not None else load_openclaw_config(state_dir))
    user = _name_in(ws / "USER.md")
    assistant = _name_in(ws / "IDENTITY.md")
    return Speakers(
        user=user or "User",
        assistant=assistant or "Assistant",
        user_known=user is not None,
        assistant_known=assistant is not None,
    )
