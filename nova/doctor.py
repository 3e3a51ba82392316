"""``nova doctor``: every way NOVA can be quietly not working, checked, explained, with the fix.

Each check gives ``pass``, ``warn``, ``fail`` or ``skip`` (not applicable here, or blocked by a
failed check it needs), a one-line detail and, unless it passed, the command or setting that
fixes it. Nothing is changed: the store is opened without migrating, OpenClaw's config is only
read, and the ``openclaw`` CLI (when on PATH) is asked read-only reports.

What is checked, in order:

1. database reachable (``NOVA_DATABASE_URL`` or the embedded server) with pgvector;
2. migrations: every one this NOVA ships applied, none edited since;
3. HNSW vector indexes for the configured embedding model;
4. the embedding model loads offline (``HF_HUB_OFFLINE=1``) and its dimension matches the store;
   the static tier's model (``embedding_tiers``) is there and is the one the store's static vectors are from;
5. hooks copied into ``<state>/hooks`` and identical to this NOVA's (``nova install-hooks``);
6. hooks enabled in ``openclaw.json`` (``hooks.internal``);
7. ``openclaw hooks list --json``: memory-extract, semantic-recall, session-init ``loadable``;
8. the nova-recall plugin: on ``plugins.load.paths``, enabled, allowed (``plugins.allow`` /
   ``plugins.deny``), ``hooks.allowConversationAccess: true``, and pointing where the service
   listens; then ``openclaw plugins inspect nova-recall --json`` (``status: loaded``);
9. the service answers ``/v1/health`` at the configured socket or address, its database is up;
10. catch-up lag per agent (``nova.ingest.catchup.lag``);
11. failed and dead-lettered extractions; dense vectors pending and whether a dense pass is draining them;
12. disk: NOVA_HOME and database size, free space.

Exit code (``exit_code``): 0 all passed, 1 warnings, 2 a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Literal

from nova.config import Settings
from nova.install import HOOK_DIRS, HOOK_NAMES, PLUGIN_ID

__all__ = ["Check", "run_checks", "exit_code", "LAG_WARN_AFTER", "OPENCLAW_TIMEOUT_S"]

Status = Literal["pass", "warn", "fail", "skip"]

# Catch-up behind by more than this is a warning: cron runs it every few minutes and the watcher
# in real time, so an hour means neither is running.
LAG_WARN_AFTER = timedelta(hours=1)
OPENCLAW_TIMEOUT_S = 60.0      # `openclaw hooks list` / `plugins inspect` take 8-15 s on 2 cores
_MIN_FREE_BYTES = 2 * 1024**3  # below this the embedded PostgreSQL soon cannot write


@dataclass
class Check:
    """One finding: ``name``, ``status``, what was found (``detail``) and how to fix it (``fix``)."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def exit_code(checks: list[Check]) -> int:
    """2 when any check failed, 1 when any warned, else 0."""
    statuses = {c.status for c in checks}
    return 2 if "fail" in statuses else 1 if "warn" in statuses else 0


def run_checks(settings: Settings, state_dir: Path, *, openclaw: str | None = None) -> list[Check]:
    """All checks, in the module docstring's order. ``openclaw``: the CLI to ask (default: PATH)."""
    openclaw = openclaw or shutil.which("openclaw")
    checks: list[Check] = []
    # The two openclaw reports take seconds each: start them now, read them when their turn comes.
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = {}
        if openclaw and state_dir.is_dir():
            reports["hooks"] = pool.submit(_openclaw_json, openclaw, state_dir, "hooks", "list", "--json")
            reports["plugin"] = pool.submit(_openclaw_json, openclaw, state_dir, "plugins", "inspect", PLUGIN_ID,
                                            "--json")
        store = _database(settings, checks)
        try:
            dim, migrated = None, False
            if store is not None:
                with store.connection() as conn:
                    migrated = _migrations(conn, checks)
                    dim = _model(settings, conn, checks)
                    _static_model(settings, conn, checks)
                    _vector_indexes(conn, dim, checks)
            else:
                for name in ("migrations", "model", "static model", "vector indexes"):
                    checks.append(Check(name, "skip", "needs the database"))
            config = _openclaw_config(state_dir, checks)
            _hook_files(settings, state_dir, checks)
            _hooks_enabled(config, checks)
            _openclaw_hooks(reports.get("hooks"), openclaw, checks)
            _plugin_config(settings, state_dir, config, checks)
            _openclaw_plugin(reports.get("plugin"), openclaw, checks)
            _service(settings, checks)
            if migrated:
                with store.connection() as conn:
                    _catchup_lag(settings, state_dir, conn, checks)
                    _extractions(conn, checks)
                    _dense_pending(conn, checks)
                    _disk(settings, conn, checks)
            else:
                for name in ("catch-up lag", "extractions", "dense vectors"):
                    checks.append(Check(name, "skip", "needs a migrated database"))
                _disk(settings, None, checks)
        finally:
            if store is not None:
                store.close()
    return checks


def _database(settings: Settings, checks: list[Check]):
    from nova.store.errors import StoreError
    from nova.store.connection import open_store

    where = "NOVA_DATABASE_URL" if settings.database_url else f"embedded PostgreSQL in {settings.home / 'pg'}"
    try:
        store = open_store(settings, migrate=False)
    except StoreError as err:
        checks.append(Check("database", "fail", str(err),
                            "start PostgreSQL or fix NOVA_DATABASE_URL" if settings.database_url else
                            f"check {settings.home / 'pg'} (disk full? another user's server?); `nova -v status` logs the start"))
        return None
    with store.connection() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        vector = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if vector is None:
        checks.append(Check("database", "fail", f"PostgreSQL {version} ({where}) has no pgvector extension",
                            "install pgvector on that server"))
        store.close()
        return None
    checks.append(Check("database", "pass", f"PostgreSQL {version} with pgvector {vector[0]} ({where})"))
    return store


def _migrations(conn, checks: list[Check]) -> bool:
    """True when the schema is this NOVA's (the checks after it can query it)."""
    from nova.store.errors import StoreError
    from nova.store.migrations import migration_checksum, migration_files

    try:
        shipped = migration_files()
    except StoreError as err:
        checks.append(Check("migrations", "fail", str(err), "reinstall NOVA"))
        return False
    applied = {}
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None:
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
    conn.commit()
    pending = [name for version, name, _ in shipped if version not in applied]
    edited = [name for version, name, sql in shipped
              if version in applied and applied[version] != migration_checksum(sql)]
    newer = sorted(set(applied) - {version for version, _, _ in shipped})
    if edited:
        checks.append(Check("migrations", "fail", f"applied migrations differ from this NOVA's: {', '.join(edited)}",
                            "run the NOVA version that migrated this database, or start a fresh one"))
        return False
    if pending:
        checks.append(Check("migrations", "fail", f"{len(pending)} of {len(shipped)} not applied: {', '.join(pending)}",
                            "nova migrate"))
        return False
    if newer:
        checks.append(Check("migrations", "warn", f"the database has migrations this NOVA does not know ({newer}):"
                            " a newer NOVA migrated it", "upgrade this NOVA install"))
    else:
        checks.append(Check("migrations", "pass", f"all {len(shipped)} applied"))
    return True


def _model(settings: Settings, conn, checks: list[Check]) -> int | None:
    from nova.memory.embed import Embedder, EmbeddingError
    from nova.store.migrations import stored_embedding_model

    os.environ["HF_HUB_OFFLINE"] = "1"  # the check is that it loads without a network
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    t0 = time.perf_counter()
    try:
        embedder = Embedder(settings.embedding_model)
        embedder.encode(["NOVA doctor"])
        dim = embedder.dim
    except EmbeddingError as err:
        checks.append(Check("model", "fail", str(err), "set NOVA_EMBEDDING_MODEL to a local model path"))
        return None
    took = time.perf_counter() - t0
    stored = stored_embedding_model(conn) if conn.execute("SELECT to_regclass('nova_meta')").fetchone()[0] else None
    conn.commit()
    wanted = f"{settings.embedding_model}|{dim}"
    if stored is not None and stored != wanted:
        checks.append(Check("model", "fail", f"{settings.embedding_model} ({dim}-d) loads, but the store holds"
                            f" embeddings of {stored!r}", "use that model again, or re-extract into a fresh database"))
    else:
        checks.append(Check("model", "pass", f"{settings.embedding_model}: {dim}-d, loaded offline in {took:.1f} s"))
    return dim


def _static_model(settings: Settings, conn, checks: list[Check]) -> None:
    """The static tier's model: there (not distilled here: the doctor changes nothing), loadable, and the
    one the store's static vectors came from (else they are recomputed at the next model load)."""
    from nova.memory.embed import EmbeddingError
    from nova.memory.static_embed import configured_static_embedder
    from nova.store.migrations import stored_static_model

    if settings.embedding_tiers != "static+dense":
        checks.append(Check("static model", "skip", "NOVA_EMBEDDING_TIERS=dense: the dense model alone"))
        return
    static = configured_static_embedder(settings)
    where = static.model_dir
    if static.distill_from is not None and not static.present:
        checks.append(Check("static model", "warn", f"not distilled yet (it will be, into {where}, on first use:"
                            " 30-60 s on two cores)", "nova catchup (or nova serve) distils it"))
        return
    try:
        static.encode(["NOVA doctor"])
    except EmbeddingError as err:
        checks.append(Check("static model", "fail", str(err), "point NOVA_STATIC_MODEL at a model2vec model"
                            " directory, unset it to distil one, or set NOVA_EMBEDDING_TIERS=dense"))
        return
    stored = stored_static_model(conn) if conn.execute("SELECT to_regclass('nova_meta')").fetchone()[0] else None
    conn.commit()
    wanted = f"{static.name}|{static.dim}"
    if stored is not None and stored != wanted:
        checks.append(Check("static model", "warn", f"{where} is {wanted}, but the store's static vectors are from"
                            f" {stored}: they are recomputed when NOVA next loads its models",
                            "nova catchup (or restart nova serve)"))
    else:
        checks.append(Check("static model", "pass", f"{wanted} from {where}"))


def _dense_pending(conn, checks: list[Check]) -> None:
    """Memories waiting for their dense vector, and whether a dense pass drains them."""
    from nova.memory.dense_fill import last_fill_rate, pending_dense

    pending = sum(pending_dense(conn).values())
    rate = last_fill_rate(conn)
    conn.commit()
    if not pending:
        checks.append(Check("dense vectors", "pass", "none pending"))
        return
    last = datetime.fromisoformat(rate["at"].replace("Z", "+00:00")) if rate else None
    if last is None or datetime.now(timezone.utc) - last > _DENSE_STALL:
        since = f"the last pass ran {last:%Y-%m-%d %H:%M} UTC" if last else "no dense pass has run yet"
        checks.append(Check("dense vectors", "warn", f"{pending} memories wait for their dense vector and {since}:"
                            " they are found by their static vectors meanwhile, less well",
                            "keep nova serve or nova watch running, or run nova catchup"))
        return
    minutes = pending / rate["texts_per_s"] / 60 if rate["texts_per_s"] else 0
    checks.append(Check("dense vectors", "pass", f"{pending} pending, draining at {rate['texts_per_s']:.0f} texts/s"
                        f" (about {minutes:.0f} min)"))


def _vector_indexes(conn, dim: int | None, checks: list[Check]) -> None:
    from nova.store.migrations import VECTOR_TABLES, missing_vector_indexes

    if dim is None:
        checks.append(Check("vector indexes", "skip", "needs the model"))
        return
    if conn.execute("SELECT to_regclass('entities')").fetchone()[0] is None:
        conn.commit()
        checks.append(Check("vector indexes", "skip", "no schema yet (see migrations)"))
        return
    missing = missing_vector_indexes(conn, dim)
    conn.commit()
    if missing:
        checks.append(Check("vector indexes", "warn", f"no HNSW index for {dim}-d embeddings on {', '.join(missing)}:"
                            " recall scans those tables", "nova catchup (or restart nova serve): NOVA creates them"
                            " when it loads the model"))
    else:
        checks.append(Check("vector indexes", "pass", f"HNSW ({dim}-d, cosine) on {', '.join(VECTOR_TABLES)}"))


def _openclaw_config(state_dir: Path, checks: list[Check]) -> dict | None:
    from nova.install import InstallError, read_openclaw_config

    path = state_dir / "openclaw.json"
    if not state_dir.is_dir():
        checks.append(Check("openclaw.json", "fail", f"no OpenClaw state directory at {state_dir}",
                            "pass --openclaw-dir, or set OPENCLAW_STATE_DIR / NOVA_OPENCLAW_DIR"))
        return None
    if not path.is_file():
        checks.append(Check("openclaw.json", "fail", f"{path} does not exist: OpenClaw was never configured here",
                            "nova install-hooks --openclaw-dir " + str(state_dir)))
        return None
    try:
        data = read_openclaw_config(path)
    except InstallError as err:
        checks.append(Check("openclaw.json", "fail", str(err), "fix the file"))
        return None
    checks.append(Check("openclaw.json", "pass", str(path)))
    return data


def _package_files(root) -> dict[str, bytes]:
    out = {}
    stack = [("", root)]
    while stack:
        prefix, node = stack.pop()
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name not in ("node_modules", "__pycache__"):
                    stack.append((rel + "/", child))
            elif child.name != "config.json":
                out[rel] = child.read_bytes()
    return out


def _hook_files(settings: Settings, state_dir: Path, checks: list[Check]) -> None:
    from nova.install import hook_client_config

    if not state_dir.is_dir():
        checks.append(Check("hook files", "skip", "needs the state directory"))
        return
    target = state_dir / "hooks"
    source = resources.files("nova.hooks")
    missing, differ = [], []
    for name in HOOK_DIRS:
        if not (target / name).is_dir():
            missing.append(name)
            continue
        ours, theirs = _package_files(source / name), _package_files(target / name)
        if any(theirs.get(rel) != data for rel, data in ours.items()):
            differ.append(name)
    fix = f"nova install-hooks --openclaw-dir {state_dir}"
    if missing:
        checks.append(Check("hook files", "fail", f"not in {target}: {', '.join(missing)}", fix))
        return
    if differ:
        checks.append(Check("hook files", "warn", f"{', '.join(differ)} in {target} differ from this NOVA's"
                            " (installed by another version?)", fix + ", then restart the gateway"))
        return
    client = target / "nova-lib" / "config.json"
    try:
        written = json.loads(client.read_text())
    except (OSError, ValueError):
        checks.append(Check("hook files", "fail", f"{client} is missing or unreadable: the hooks would guess"
                            " where the service is", fix))
        return
    wanted = _target(hook_client_config(settings))
    if _target(written) != wanted:
        checks.append(Check("hook files", "fail", f"the hooks call {_target(written)} but this NOVA's service listens"
                            f" at {wanted}", fix + " (with the same NOVA_HOME and [service] settings as nova serve)"))
        return
    checks.append(Check("hook files", "pass", f"{len(HOOK_DIRS)} directories in {target}, as this NOVA ships them"))


def _target(client_config: dict) -> dict:
    """Where a hook client config (``nova-lib/config.json``, the plugin's config) points the calls."""
    return {key: client_config.get(key) for key in ("socket", "url")}


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _hooks_enabled(config: dict | None, checks: list[Check]) -> None:
    if config is None:
        checks.append(Check("hooks enabled", "skip", "needs openclaw.json"))
        return
    if _dig(config, "hooks", "internal", "enabled") is False:
        checks.append(Check("hooks enabled", "fail", "hooks.internal.enabled is false: OpenClaw runs no internal hook",
                            "set hooks.internal.enabled to true in openclaw.json (or `openclaw hooks enable"
                            " memory-extract`)"))
        return
    off = [name for name in HOOK_NAMES if _dig(config, "hooks", "internal", "entries", name, "enabled") is not True]
    if off:
        checks.append(Check("hooks enabled", "fail", f"not enabled in openclaw.json: {', '.join(off)}",
                            " ; ".join(f"openclaw hooks enable {name}" for name in off)))
        return
    checks.append(Check("hooks enabled", "pass", "hooks.internal.entries: " + ", ".join(HOOK_NAMES)))


def _openclaw_json(openclaw: str, state_dir: Path, *args: str):
    env = dict(os.environ, OPENCLAW_STATE_DIR=str(state_dir))
    try:
        done = subprocess.run([openclaw, *args], env=env, capture_output=True, text=True, timeout=OPENCLAW_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`openclaw {' '.join(args)}` did not answer: {err}"
    try:
        return json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"`openclaw {' '.join(args)}` exited {done.returncode}: {tail[0][:300]}"


def _openclaw_report(name: str, pending, openclaw: str | None, checks: list[Check]) -> dict | None:
    """The parsed report of an openclaw CLI call started by ``run_checks``; None (and a skip or
    warn check) when there is none to read."""
    if pending is None:
        checks.append(Check(name, "skip", "the openclaw CLI is not on PATH" if not openclaw
                            else "needs the state directory"))
        return None
    report = pending.result()
    if isinstance(report, str):
        checks.append(Check(name, "warn", report, f"run `{name}` yourself"))
        return None
    return report


def _openclaw_hooks(pending, openclaw: str | None, checks: list[Check]) -> None:
    report = _openclaw_report("openclaw hooks list", pending, openclaw, checks)
    if report is None:
        return
    listed = {h.get("name"): h for h in report.get("hooks", []) if isinstance(h, dict)}
    problems = []
    for name in HOOK_NAMES:
        hook = listed.get(name)
        if hook is None:
            problems.append(f"{name}: not discovered")
        elif not hook.get("loadable"):
            problems.append(f"{name}: {hook.get('blockedReason') or 'not loadable'}")
    if problems:
        checks.append(Check("openclaw hooks list", "fail", "; ".join(problems),
                            "openclaw hooks info <name> says why; nova install-hooks, then restart the gateway"))
    else:
        checks.append(Check("openclaw hooks list", "pass", "ready: " + ", ".join(HOOK_NAMES)))


def _plugin_config(settings: Settings, state_dir: Path, config: dict | None, checks: list[Check]) -> None:
    from nova.install import hook_client_config

    if config is None:
        checks.append(Check("recall plugin", "skip", "needs openclaw.json"))
        return
    fix = f"nova install-hooks --openclaw-dir {state_dir}"
    plugin_dir = str(state_dir / "hooks" / "nova-recall-plugin")
    paths = _dig(config, "plugins", "load", "paths") or []
    entry = _dig(config, "plugins", "entries", PLUGIN_ID) or {}
    allow, deny = _dig(config, "plugins", "allow"), _dig(config, "plugins", "deny")
    problems = []
    if _dig(config, "plugins", "enabled") is False:
        problems.append("plugins.enabled is false: OpenClaw loads no plugin")
    if plugin_dir not in paths:
        problems.append(f"{plugin_dir} is not in plugins.load.paths")
    if entry.get("enabled") is not True:
        problems.append(f"plugins.entries.{PLUGIN_ID}.enabled is not true")
    if isinstance(allow, list) and PLUGIN_ID not in allow:
        problems.append(f"plugins.allow exists and lacks {PLUGIN_ID}")
    if isinstance(deny, list) and PLUGIN_ID in deny:
        problems.append(f"plugins.deny holds {PLUGIN_ID}")
    if _dig(entry, "hooks", "allowConversationAccess") is not True:
        problems.append(f"plugins.entries.{PLUGIN_ID}.hooks.allowConversationAccess is not true: OpenClaw"
                        " withholds the message, so no recall reaches the turn")
    wanted = _target(hook_client_config(settings))
    plugin_config = _dig(entry, "config")
    target = _target(plugin_config if isinstance(plugin_config, dict) else {})
    if target != wanted:
        problems.append(f"it calls {target}, the service listens at {wanted}")
    if problems:
        checks.append(Check("recall plugin", "fail", "; ".join(problems), fix + ", then restart the gateway"))
    else:
        where = wanted["socket"] or wanted["url"]
        checks.append(Check("recall plugin", "pass", f"enabled, allowed, allowConversationAccess, calls {where}"))


def _openclaw_plugin(pending, openclaw: str | None, checks: list[Check]) -> None:
    report = _openclaw_report("openclaw plugins inspect", pending, openclaw, checks)
    if report is None:
        return
    plugin = report.get("plugin") or {}
    errors = [d.get("message", "") for d in report.get("diagnostics") or []
              if isinstance(d, dict) and d.get("level") == "error"]
    if plugin.get("status") != "loaded" or not plugin.get("enabled") or errors:
        why = plugin.get("activationReason") or plugin.get("status") or "not found"
        checks.append(Check("openclaw plugins inspect", "fail", f"{PLUGIN_ID}: {why}" + (f"; {errors[0][:300]}" if errors else ""),
                            f"openclaw plugins inspect {PLUGIN_ID}; nova install-hooks, then restart the gateway"))
    elif not (report.get("policy") or {}).get("allowConversationAccess"):
        checks.append(Check("openclaw plugins inspect", "fail", f"{PLUGIN_ID} is loaded but OpenClaw's policy denies"
                            " it conversation access", f"set plugins.entries.{PLUGIN_ID}.hooks.allowConversationAccess"
                            " to true"))
    else:
        checks.append(Check("openclaw plugins inspect", "pass", f"{PLUGIN_ID}: loaded ({plugin.get('activationReason')})"
                            ", conversation access allowed"))


def _service(settings: Settings, checks: list[Check]) -> None:
    from nova.serve.client import ask_service, service_address

    where = service_address(settings)
    health = ask_service(settings, "/v1/health", timeout=5)
    if health is None:
        checks.append(Check("service", "fail", f"nothing answers at {where}: every hook fails open, so nothing is"
                            " stored or recalled live", "nova serve (or its systemd unit, docs/hooks.md)"))
        return
    detail = (f"{health['status']} at {where}, up {health['uptimeS']:.0f} s, {health['queued']} queued,"
              f" {health['projected']} extracted, {health['failed']} failed")
    if not health.get("database"):
        checks.append(Check("service", "fail", detail + "; it cannot reach the database", "see the database check"))
    elif health.get("model") != settings.embedding_model:
        checks.append(Check("service", "warn", detail + f"; it runs model {health.get('model')}, this NOVA is set to"
                            f" {settings.embedding_model}", "restart nova serve with the same settings"))
    else:
        checks.append(Check("service", "pass", detail))


def _catchup_lag(settings: Settings, state_dir: Path, conn, checks: list[Check]) -> None:
    from nova.ingest.catchup import lag
    from nova.ingest.sources import list_agents

    if not state_dir.is_dir():
        checks.append(Check("catch-up lag", "skip", "needs the state directory"))
        return
    agents = list_agents(state_dir)
    if not agents:
        checks.append(Check("catch-up lag", "skip", f"no agent transcripts under {state_dir / 'agents'}"))
        return
    now = datetime.now(timezone.utc)
    parts, behind = [], []
    for agent in agents:
        held = lag(conn, settings, state_dir, agent)
        if not held.unread:
            parts.append(f"{agent}: up to date")
            continue
        since = (f", {held.oldest_unread_at:%Y-%m-%d %H:%M} to {held.newest_unread_at:%Y-%m-%d %H:%M} UTC"
                 if held.oldest_unread_at else "")
        if held.newest_stored_at:
            since += f" (newest stored: {held.newest_stored_at:%Y-%m-%d %H:%M} UTC)"
        parts.append(f"{agent}: {held.unread} entries unread in {held.streams_behind} transcript(s){since}")
        if held.streams_never_read or held.oldest_unread_at is None or now - held.oldest_unread_at > LAG_WARN_AFTER:
            behind.append(agent)
    if behind:
        checks.append(Check("catch-up lag", "warn", "; ".join(parts),
                            f"nova catchup --openclaw-dir {state_dir} now; keep it running with `nova watch` or"
                            " scripts/memory-catchup.sh in cron (docs/operations.md)"))
    else:
        checks.append(Check("catch-up lag", "pass", "; ".join(parts)))


_DENSE_STALL = timedelta(minutes=10)  # pending dense vectors and no pass for this long: nothing is filling them


def _extractions(conn, checks: list[Check]) -> None:
    failed, dead = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'dead')"
        " FROM entry_extraction").fetchone()
    conn.commit()
    if dead:
        checks.append(Check("extractions", "warn", f"{dead} dead-lettered (gave up after repeated failures),"
                            f" {failed} failed (retried by the next catch-up)",
                            "nova status shows them per agent; nova catchup --retry-failed retries the dead ones"))
    elif failed:
        checks.append(Check("extractions", "warn", f"{failed} failed, retried by the next catch-up", "nova catchup"))
    else:
        checks.append(Check("extractions", "pass", "none failed"))


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _disk(settings: Settings, conn, checks: list[Check]) -> None:
    home = settings.home
    if not home.exists():
        checks.append(Check("disk", "skip", f"{home} does not exist yet"))
        return
    used = _dir_bytes(home)
    db = None
    if conn is not None:
        db = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        conn.commit()
    free = shutil.disk_usage(home)
    detail = (f"{home}: {used / 1024**2:.0f} MB" + (f", database {db / 1024**2:.0f} MB" if db is not None else "")
              + f"; {free.free / 1024**3:.1f} GB free of {free.total / 1024**3:.0f} GB")
    if free.free < _MIN_FREE_BYTES or free.free < free.total * 0.05:
        checks.append(Check("disk", "warn", detail, "free space on that filesystem, or move NOVA_HOME"))
    else:
        checks.append(Check("disk", "pass", detail))
