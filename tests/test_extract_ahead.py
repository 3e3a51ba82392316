"""Extraction ahead in worker processes (nova.memory.extract_ahead) during a large catch-up: the same
memories as extraction in-process, a worker that dies costs only speed, and workers end with a run
that is killed."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from nova.ingest.catchup import run_catchup
from nova.memory.projection import Projector

from test_reextract import memories


def _two_copies(tmp_path: Path, dialogue: Path) -> Path:
    """One conversation of the tests' corpus (about 350 transcript entries) as two agents' transcripts."""
    state = tmp_path / "state"
    source = dialogue / "agents" / "friends-1"
    for agent in ("inproc", "workers"):
        shutil.copytree(source, state / "agents" / agent)
    return state


def _without_agent(rows: dict[str, list]) -> dict[str, list]:
    return {table: sorted(r[1:] for r in found) for table, found in rows.items()}


def test_workers_extract_the_same_memories_as_one_process(store, settings, projector, tmp_path, dialogue_state):
    state = _two_copies(tmp_path, dialogue_state)
    alone = run_catchup(store, settings.model_copy(update={"extraction_workers": 0}), projector, state,
                        agents=["inproc"])
    ahead = run_catchup(store, settings.model_copy(update={"extraction_workers": 1}), projector, state,
                        agents=["workers"])
    assert alone.extracted_ahead == 0 and alone.extraction_workers == 0
    assert ahead.extraction_workers == 1
    # Every entry but the first transcript's (written while the worker starts) came from the workers.
    assert ahead.extracted_ahead >= ahead.entries_new - 64, (ahead.extracted_ahead, ahead.entries_new)
    assert ahead.entries_new == alone.entries_new > 300 and ahead.projection.failed == 0
    assert _without_agent(memories(store, "workers")) == _without_agent(memories(store, "inproc"))


class _DiesInWorker:
    """The real extractor, except that a worker process running its second task exits."""

    def __init__(self, inner, parent: int):
        self.inner, self.parent, self.version, self.calls = inner, parent, inner.version, 0

    def extract_batch(self, items):
        if os.getpid() != self.parent:
            self.calls += 1
            if self.calls == 2:
                os._exit(3)
        return self.inner.extract_batch(items)


def test_a_worker_that_dies_costs_only_speed(store, settings, projector, tmp_path, caplog, dialogue_state):
    state = _two_copies(tmp_path, dialogue_state)
    run_catchup(store, settings.model_copy(update={"extraction_workers": 0}), projector, state, agents=["inproc"])
    dying = Projector(_DiesInWorker(projector.extractor, os.getpid()), projector.embedder)
    with caplog.at_level(logging.WARNING, logger="nova.memory.extract_ahead"):
        report = run_catchup(store, settings.model_copy(update={"extraction_workers": 1}), dying, state,
                             agents=["workers"])
    assert "extraction workers failed" in caplog.text
    assert report.projection.failed == 0 and report.entries_new > 300
    assert _without_agent(memories(store, "workers")) == _without_agent(memories(store, "inproc"))


# A run that forks its worker, gives it work, and is killed (as the OOM killer or `timeout -s KILL`
# would) before it can shut the pool down. It prints the worker's pid first.
_KILLED_RUN = """
import multiprocessing, os, signal
from nova.memory.extract import ExtractionInput
from nova.memory.extract_ahead import ExtractAhead
from nova.memory.spacy_extractor import SpacyExtractor

extractor = SpacyExtractor()
ahead = ExtractAhead(lambda: extractor, workers=1)
ahead.offer([ExtractionInput(f"Dana moved to Lisbon in May, take {i}.", "Dana", "", None) for i in range(2000)])
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # dead, not yet reaped
    except psutil.NoSuchProcess:
        return True


def test_workers_end_when_the_run_is_killed(tmp_path):
    out, err = tmp_path / "out", tmp_path / "err"
    # Files, not pipes: a worker left alive would hold a pipe open, and the run would never end.
    with out.open("w") as stdout, err.open("w") as stderr:
        run = subprocess.run([sys.executable, "-c", _KILLED_RUN], stdout=stdout, stderr=stderr, timeout=300,
                             cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == -signal.SIGKILL, err.read_text()
    workers = [int(pid) for pid in out.read_text().split()]
    assert len(workers) == 1, out.read_text()
    deadline = time.monotonic() + 10
    while not all(_ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if not _ended(pid)]
    for pid in left:  # do not leave them behind either way
        os.kill(pid, signal.SIGKILL)
    assert not left, "an extraction worker outlived its killed run"
