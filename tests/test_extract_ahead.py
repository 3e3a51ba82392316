"""Extraction ahead in worker processes (nova.memory.extract_ahead) during a large catch-up: the same
memories as extraction in-process, and a worker that dies costs only speed."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from nova.ingest.catchup import run_catchup
from nova.memory.projection import Projector

from test_reextract import memories

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev"


def _two_copies(tmp_path: Path) -> Path:
    """One LoCoMo conversation (about 400 transcript entries) as two agents' transcripts."""
    state = tmp_path / "state"
    source = LOCOMO / "agents" / "locomo-26"
    for agent in ("inproc", "workers"):
        shutil.copytree(source, state / "agents" / agent)
    return state


def _without_agent(rows: dict[str, list]) -> dict[str, list]:
    return {table: sorted(r[1:] for r in found) for table, found in rows.items()}


def test_workers_extract_the_same_memories_as_one_process(store, settings, projector, tmp_path):
    state = _two_copies(tmp_path)
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


def test_a_worker_that_dies_costs_only_speed(store, settings, projector, tmp_path, caplog):
    state = _two_copies(tmp_path)
    run_catchup(store, settings.model_copy(update={"extraction_workers": 0}), projector, state, agents=["inproc"])
    dying = Projector(_DiesInWorker(projector.extractor, os.getpid()), projector.embedder)
    with caplog.at_level(logging.WARNING, logger="nova.memory.extract_ahead"):
        report = run_catchup(store, settings.model_copy(update={"extraction_workers": 1}), dying, state,
                             agents=["workers"])
    assert "extraction workers failed" in caplog.text
    assert report.projection.failed == 0 and report.entries_new > 300
    assert _without_agent(memories(store, "workers")) == _without_agent(memories(store, "inproc"))
