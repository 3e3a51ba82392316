"""``nova watch``: catch up in real time as OpenClaw writes transcripts.

Watches the state directory with watchfiles (inotify; no polling, so idle CPU stays near zero)
and runs the incremental catch-up (``nova.ingest.catchup``) for the agents whose transcripts,
``sessions.json`` or SQLite store changed. Everything hard (partial lines, renames to
``.reset.<iso>``, truncation and rewrites, new agents, new session keys) is the catch-up's job:
it is idempotent, so the watcher only decides *when* to run it.

- A missing state directory is waited for (checked every second).
- Every ``rescan_s`` seconds without events a full catch-up runs anyway, so a missed event
  (e.g. an NFS mount, an overflowed inotify queue) costs latency, never memories.
- ``stop`` (SIGTERM/SIGINT in the CLI) ends the loop between transcripts: the chunk in
  progress commits first.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nova.ingest.catchup import CatchupReport, StateDirError, run_catchup
from nova.config import Settings

__all__ = ["watch_state_dir", "agents_touched"]

log = logging.getLogger("nova.watch")  # the name in operators' logs, kept from the flat layout


@dataclass
class WatchStats:
    runs: int = 0
    entries_new: int = 0
    errors: int = 0


IDLE_POLL_S = 30.0  # how often the watcher looks for idle work (dense vectors) when there was none


def transcript_paths(paths: set[str]) -> set[Path]:
    """Changed paths as transcript paths: a SQLite store's -wal/-shm/-journal stand for the store."""
    out = set()
    for raw in paths:
        for suffix in ("-wal", "-shm", "-journal"):
            if raw.endswith(".sqlite" + suffix):
                raw = raw[: -len(suffix)]
        out.add(Path(raw))
    return out


def agents_touched(state_dir: Path, paths: set[str]) -> set[str]:
    """Agent ids whose transcripts changed: ``agents/<id>/sessions/...`` or ``agents/<id>/agent/openclaw-agent.sqlite*``.

    ``state_dir`` and ``paths`` are resolved (watchfiles reports paths under the resolved directory).
    """
    root = state_dir / "agents"
    out = set()
    for raw in paths:
        try:
            parts = Path(raw).relative_to(root).parts
        except ValueError:
            continue
        if len(parts) >= 3 and parts[1] == "sessions":
            out.add(parts[0])
        elif len(parts) >= 3 and parts[1] == "agent" and parts[2].startswith("openclaw-agent.sqlite"):
            out.add(parts[0])
        elif len(parts) == 1 or (len(parts) == 2 and parts[1] in ("sessions", "agent")):
            out.add(parts[0])  # a new agent's directory appeared
    return out


def _relevant(state_dir: Path) -> Callable[[object, str], bool]:
    agents = str(state_dir / "agents")

    def keep(_change, path: str) -> bool:
        return path.startswith(agents)

    return keep


def _wait_for_agents(state_dir: Path, stop: threading.Event, message: str) -> None:
    """Return once ``<state_dir>/agents`` exists (checked every second) or ``stop`` is set; warns once."""
    if not (state_dir / "agents").is_dir():
        log.warning(message, state_dir)
    while not stop.is_set() and not (state_dir / "agents").is_dir():
        stop.wait(1.0)


def watch_state_dir(
    settings: Settings,
    store,
    projector,
    state_dir: Path,
    stop: threading.Event,
    agents: list[str] | None = None,
    on_report: Callable[[CatchupReport], None] | None = None,
    rescan_s: float = 300.0,
    debounce_ms: int = 300,
    on_idle: Callable[[], bool] | None = None,
) -> WatchStats:
    """Run until ``stop`` is set; returns what was done.

    ``on_idle()``: called when no file changed for a moment (the dense pass, a batch at a time); it
    returns whether it did anything, and when it did not it is called again only after a catch-up
    or ``IDLE_POLL_S``."""
    import watchfiles

    stats = WatchStats()
    state_dir = state_dir.expanduser().resolve()  # watchfiles reports resolved paths; streams must match

    def catch_up(only: set[str] | None, paths: set[Path] | None = None) -> None:
        wanted = agents
        if only is not None:
            wanted = sorted(only & set(agents) if agents else only)
            if not wanted:
                return
        try:
            report = run_catchup(store, settings, projector, state_dir, wanted, stop=stop.is_set, paths=paths)
        except StateDirError as err:
            log.info("%s", err)
            return
        except Exception:  # a bad moment (database restart, racing writer): the next event retries
            stats.errors += 1
            log.exception("catch-up failed; retrying on the next change")
            return
        stats.runs += 1
        stats.entries_new += report.entries_new
        if report.entries_new or report.retried:
            idle_due[0] = time.monotonic() + 1.0  # new memories: their dense vectors are pending
        if on_report:
            on_report(report)

    idle_due = [0.0]  # when on_idle is next called
    _wait_for_agents(state_dir, stop, "waiting for %s/agents to appear")
    if stop.is_set():
        return stats
    catch_up(None)
    last_full = time.monotonic()
    # inotify watches a new directory only once it has seen it: a file created in it right away
    # can go unreported. Agents with a new directory get a full catch-up again a moment later.
    recheck: dict[str, float] = {}
    for changes in watchfiles.watch(
        state_dir, watch_filter=_relevant(state_dir), debounce=debounce_ms, step=50, stop_event=stop,
        rust_timeout=500, yield_on_timeout=True, raise_interrupt=False,
    ):
        if stop.is_set():
            break
        if not (state_dir / "agents").is_dir():
            _wait_for_agents(state_dir, stop, "%s/agents disappeared; waiting for it")
            continue
        now = time.monotonic()
        if changes:
            log.debug("changes: %s", sorted(changes))
            changed = {p for _, p in changes}
            touched = agents_touched(state_dir, changed)
            new_dirs = agents_touched(state_dir, {p for p in changed if Path(p).is_dir()})
            if new_dirs:
                catch_up(new_dirs)
                recheck.update((a, now + 1.0) for a in new_dirs)
            if touched - new_dirs:
                catch_up(touched - new_dirs, transcript_paths(changed))
        due = {a for a, t in recheck.items() if t <= now}
        if due:
            for a in due:
                del recheck[a]
            catch_up(due)
        if now - last_full >= rescan_s:
            catch_up(None)
            last_full = time.monotonic()
        if on_idle is not None and not changes and now >= idle_due[0] and not stop.is_set():
            try:
                busy = on_idle()
            except Exception:  # e.g. the database restarting: try again later
                log.exception("idle work failed; retrying later")
                busy = False
            idle_due[0] = time.monotonic() + (0.0 if busy else IDLE_POLL_S)
    return stats
