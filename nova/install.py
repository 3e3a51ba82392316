"""``nova install-hooks`` / ``nova uninstall-hooks``: put NOVA's hooks and plugin into an OpenClaw state dir.

What it changes (docs/automation/hooks/configuration.md, docs/gateway/config-extensions.md):
- copies ``hooks/{memory-extract,semantic-recall,session-init}`` (managed hooks), the shared
  client ``hooks/nova-lib`` and the plugin ``hooks/nova-recall-plugin`` into ``<state>/hooks/``,
  and writes ``nova-lib/config.json`` (socket or URL, token file, time budgets) from NOVA's settings;
- in ``openclaw.json`` (after a timestamped backup beside it): ``hooks.internal.entries.<hook>.enabled``,
  the plugin's directory in ``plugins.load.paths``, ``plugins.entries.nova-recall`` with
  ``hooks.allowConversationAccess: true``, and the id in ``plugins.allow`` when that allowlist
  exists. Every other setting is kept as it was (comments in a JSON5 file are not: they stay in the backup).

Uninstalling removes exactly those files and keys.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import json5

from nova.config import Settings

__all__ = ["HOOK_NAMES", "HOOK_DIRS", "PLUGIN_ID", "read_openclaw_config", "InstallReport", "install_hooks", "uninstall_hooks", "InstallError"]

HOOK_NAMES = ("memory-extract", "semantic-recall", "session-init")
SHARED_DIR = "nova-lib"
PLUGIN_DIR = "nova-recall-plugin"
PLUGIN_ID = "nova-recall"
HOOK_DIRS = (*HOOK_NAMES, SHARED_DIR, PLUGIN_DIR)  # what install_hooks copies into <state>/hooks
# The repo's hooks/, shipped inside the package as nova.hooks (pyproject.toml maps it).
HOOKS_PACKAGE = "nova.hooks"


class InstallError(RuntimeError):
    """The state dir or openclaw.json cannot be changed safely; nothing was changed."""


@dataclass
class InstallReport:
    state_dir: Path
    copied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    config_path: Path | None = None
    backup_path: Path | None = None
    config_changes: list[str] = field(default_factory=list)


def read_openclaw_config(path: Path) -> dict:
    """``openclaw.json`` (JSON5) as a dict, {} when it does not exist.

    Raises:
        InstallError: it is not valid JSON5 or not an object (the message names the file).
    """
    if not path.exists():
        return {}
    try:
        data = json5.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InstallError(f"{path} is not valid JSON5 ({err}); fix it first, nothing was changed") from None
    if not isinstance(data, dict):
        raise InstallError(f"{path} does not hold a JSON object; nothing was changed")
    return data


def _write_config(path: Path, data: dict, report: InstallReport) -> None:
    if path.exists():
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        backup = path.with_name(f"{path.name}.nova-backup-{stamp}")
        shutil.copy2(path, backup)
        report.backup_path = backup
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".openclaw.json.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # atomic: the gateway never reads a half-written file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    report.config_path = path


def _dig(data: dict, *keys: str) -> dict:
    node = data
    for key in keys:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise InstallError(f"openclaw.json: {'.'.join(keys)} is not an object; nothing was changed")
        node = child
    return node


def hook_client_config(settings: Settings) -> dict:
    """What the JS client reads from ``nova-lib/config.json``."""
    svc = settings.service
    cfg: dict = {
        "budgetsMs": {"bootstrap": svc.bootstrap_budget_ms, "recall": svc.recall_budget_ms,
                      "message": svc.message_budget_ms},
    }
    if svc.host:
        cfg["url"] = f"http://{svc.host}:{svc.port}"
        cfg["tokenFile"] = str(settings.token_path())
    else:
        cfg["socket"] = str(settings.socket_path())
    return cfg


def install_hooks(settings: Settings, state_dir: Path) -> InstallReport:
    """Copy the hooks and plugin into ``state_dir/hooks`` and enable them in ``openclaw.json``.

    Raises:
        InstallError: the state dir does not exist or openclaw.json is unreadable (nothing changed).
    """
    if not state_dir.is_dir():
        raise InstallError(f"OpenClaw state directory {state_dir} does not exist (set --openclaw-dir)")
    config_path = state_dir / "openclaw.json"
    data = read_openclaw_config(config_path)  # fail before copying anything
    report = InstallReport(state_dir)
    target = state_dir / "hooks"
    with resources.as_file(resources.files(HOOKS_PACKAGE)) as source:
        missing = [name for name in HOOK_DIRS if not (source / name).is_dir()]
        if missing:
            raise InstallError(f"this NOVA install lacks the hook files {', '.join(missing)} (package data"
                               f" {HOOKS_PACKAGE} in {source}): reinstall NOVA; nothing was changed")
        target.mkdir(exist_ok=True)
        for name in HOOK_DIRS:
            dest = target / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(source / name, dest,
                            ignore=shutil.ignore_patterns("config.json", "node_modules", "__pycache__"))
            report.copied.append(str(dest))
    (target / SHARED_DIR / "config.json").write_text(json.dumps(hook_client_config(settings), indent=2) + "\n")

    internal = _dig(data, "hooks", "internal")
    if internal.get("enabled") is False:
        report.config_changes.append("hooks.internal.enabled was false: left as is, so no hook runs until you enable it")
    entries = _dig(data, "hooks", "internal", "entries")
    for name in HOOK_NAMES:
        entry = entries.setdefault(name, {})
        if not isinstance(entry, dict):
            raise InstallError(f"openclaw.json: hooks.internal.entries.{name} is not an object; nothing was changed")
        entry["enabled"] = True
        report.config_changes.append(f"hooks.internal.entries.{name}.enabled = true")
    load = _dig(data, "plugins", "load")
    paths = load.setdefault("paths", [])
    plugin_path = str(target / PLUGIN_DIR)
    if plugin_path not in paths:
        paths.append(plugin_path)
        report.config_changes.append(f"plugins.load.paths += {plugin_path}")
    plugin = _dig(data, "plugins", "entries", PLUGIN_ID)
    plugin["enabled"] = True
    client = hook_client_config(settings)
    plugin_config = _dig(data, "plugins", "entries", PLUGIN_ID, "config")
    for key in ("socket", "url", "tokenFile"):
        plugin_config.pop(key, None)
        if key in client:
            plugin_config[key] = client[key]
    plugin_config["budgetMs"] = settings.service.recall_budget_ms
    _dig(data, "plugins", "entries", PLUGIN_ID, "hooks")["allowConversationAccess"] = True
    report.config_changes.append(f"plugins.entries.{PLUGIN_ID}: enabled, hooks.allowConversationAccess = true,"
                                 f" config = {json.dumps(plugin_config)}")
    allow = data["plugins"].get("allow")
    if isinstance(allow, list) and PLUGIN_ID not in allow:
        allow.append(PLUGIN_ID)
        report.config_changes.append(f"plugins.allow += {PLUGIN_ID}")
    _write_config(config_path, data, report)
    return report


def uninstall_hooks(state_dir: Path) -> InstallReport:
    """Remove what ``install_hooks`` added; other hooks, plugins and settings stay."""
    config_path = state_dir / "openclaw.json"
    data = read_openclaw_config(config_path)
    report = InstallReport(state_dir)
    target = state_dir / "hooks"
    for name in HOOK_DIRS:
        if (target / name).exists():
            shutil.rmtree(target / name)
            report.removed.append(str(target / name))
    entries = data.get("hooks", {}).get("internal", {}).get("entries", {})
    for name in HOOK_NAMES:
        if isinstance(entries, dict) and entries.pop(name, None) is not None:
            report.config_changes.append(f"removed hooks.internal.entries.{name}")
    plugins = data.get("plugins", {})
    if isinstance(plugins, dict):
        paths = plugins.get("load", {}).get("paths")
        plugin_path = str(target / PLUGIN_DIR)
        if isinstance(paths, list) and plugin_path in paths:
            paths.remove(plugin_path)
            report.config_changes.append(f"removed {plugin_path} from plugins.load.paths")
        if isinstance(plugins.get("entries"), dict) and plugins["entries"].pop(PLUGIN_ID, None) is not None:
            report.config_changes.append(f"removed plugins.entries.{PLUGIN_ID}")
        if isinstance(plugins.get("allow"), list) and PLUGIN_ID in plugins["allow"]:
            plugins["allow"].remove(PLUGIN_ID)
            report.config_changes.append(f"removed {PLUGIN_ID} from plugins.allow")
    if report.config_changes:
        _prune_empty(data, ("hooks", "internal", "entries"), ("plugins", "load", "paths"), ("plugins", "entries"))
        _write_config(config_path, data, report)
    return report


def _prune_empty(data: dict, *paths: tuple[str, ...]) -> None:
    """Drop containers that install created and uninstall emptied, innermost first."""
    for keys in paths:
        for depth in range(len(keys), 0, -1):
            parent = data
            for key in keys[: depth - 1]:
                parent = parent.get(key) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and parent.get(keys[depth - 1]) in ({}, []):
                del parent[keys[depth - 1]]
