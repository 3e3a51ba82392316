"""Extraction ahead of projection, in worker processes, for bulk runs (``nova catchup``).

A backfill spends about 60% of its time in spaCy (about 130 entries/s on one core here) and the rest
writing to PostgreSQL; one after the other, the second core mostly waits. ``ExtractAhead`` forks
worker processes that parse the entries the run will project next (catch-up offers the next
transcripts' entries, ``offer``) while this process writes the current ones; projection then takes
the finished extractions (``take``) instead of parsing them again.

- Extraction is a pure function of ``ExtractionInput`` (text, speaker, addressee, time) and the
  extractor's version, so results are looked up by the input itself: an entry that turned out to
  be known, forgotten or different from what was offered simply finds nothing and is extracted in
  this process, as without workers.
- Workers are forked from this process after the model is loaded here (copy-on-write: no second
  model load, no start-up wait). Fork is only used on Linux; elsewhere, and for small runs (fewer
  than ``start_at`` entries offered), nothing is forked and extraction stays in-process.
- A worker that fails or dies costs nothing but speed: its inputs are extracted in-process, and a
  broken pool is not used again in the run.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from typing import Callable

from nova.memory.extract import Extraction, ExtractionInput, Extractor

__all__ = ["ExtractAhead", "default_workers"]

log = logging.getLogger(__name__)

# Entries per task: spaCy's own batch size (nova.memory.spacy_extractor), so a worker parses whole
# batches; many small transcripts are pooled into one task.
TASK_ENTRIES = 64
_KEEP_DONE = 64 * TASK_ENTRIES  # extractions kept for projection at most (a few MB)


def default_workers() -> int:
    """One worker per core but one (1 here): the run's own process extracts too, whenever it would
    otherwise wait (``take``), and it and PostgreSQL need a core. Measured on both LoCoMo dev sets on
    2 cores: 1 worker 150 / 178 entries/s, 2 workers 122 / 152 (bench/bench_catchup.py)."""
    return max(1, (os.cpu_count() or 1) - 1)


_worker_extractor: Extractor | None = None


_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies


def _worker_start(extractor: Extractor, parent: int) -> None:
    global _worker_extractor
    _worker_extractor = extractor
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent's run; it shuts us down
    _die_with(parent)


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` ends without shutting the pool down (SIGKILL, the OOM killer,
    ``timeout -s KILL`` around a cron job): an orphaned worker finishes its task, then blocks for
    ever writing the result to a pipe nobody reads, holding the model's memory. prctl(2) is Linux's,
    and workers are only forked on Linux."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the pool's own shutdown still ends us
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _worker_extract(inputs: list[ExtractionInput]) -> list[Extraction]:
    return _worker_extractor.extract_batch(inputs)


class ExtractAhead:
    """Extractions computed ahead by forked workers, keyed by their input.

    Args:
        extractor: gives the projector's extractor (models load on the first call, so a run with
            little to do loads nothing here); its model is loaded in this process before the fork.
        workers: worker processes (default ``default_workers()``); 0 disables them.
        start_at: entries offered before the workers are forked (a watcher's one new line is
            parsed in-process: forking for it would only add latency).
    """

    def __init__(self, extractor: Callable[[], Extractor], workers: int | None = None,
                 start_at: int = 2 * TASK_ENTRIES):
        self._extractor = extractor
        self.workers = default_workers() if workers is None else workers
        self.start_at = start_at
        self._pool: ProcessPoolExecutor | None = None
        self._extractor_here: Extractor | None = None  # set when the workers start
        self._broken = self.workers <= 0 or sys.platform != "linux"
        self._buffer: list[ExtractionInput] = []      # offered, not yet sent
        self._tasks: deque[tuple[list[ExtractionInput], Future]] = deque()
        self._done: dict[ExtractionInput, Extraction] = {}
        self.offered = 0
        self.taken = 0       # extractions projection got from here (the workers', or taken back)
        self.forked = 0      # worker processes started

    # -- the run's side -------------------------------------------------------------------

    def offer(self, inputs: list[ExtractionInput]) -> None:
        """Entries the run expects to project soon, in the order it will project them."""
        if self._broken or not inputs:
            return
        self._buffer += inputs
        self.offered += len(inputs)
        if self._pool is None and len(self._buffer) >= self.start_at:
            self._start()
        self._send(flush=False)

    def backlog(self) -> int:
        """Entries offered and not yet extracted (queued for the workers, or in their hands)."""
        return len(self._buffer) + sum(len(task) for task, future in self._tasks if not future.done())

    def take(self, inputs: list[ExtractionInput]) -> list[Extraction | None]:
        """The workers' extraction of each input, waiting for tasks already under way; None where
        there is none (never offered, not started, or the worker failed)."""
        wanted = set(inputs)
        if self._pool is not None and wanted.intersection(self._buffer):
            self._send(flush=True)
        self._buffer = [i for i in self._buffer if i not in wanted]
        # Tasks run in the order they were sent; wait for those holding a wanted input. While one
        # is under way, this process would only wait: it takes back the newest task no worker has
        # started, and extracts that itself.
        while self._tasks and not wanted.issubset(self._done) and any(
                i in wanted for task, _ in self._tasks for i in task):
            task, future = self._tasks[0]
            if not future.done() and self._steal_newest():
                continue
            self._tasks.popleft()
            try:
                self._done.update(zip(task, future.result(), strict=True))
            except BrokenExecutor as err:  # a worker died: in-process from here on
                self._fail(err)
            except Exception as err:  # an entry of the task fails: projection finds which, in-process
                log.debug("an extraction task failed in a worker: %s: %s", type(err).__name__, err)
        out = [self._done.pop(i, None) for i in inputs]
        self.taken += sum(r is not None for r in out)
        if len(self._done) > _KEEP_DONE:
            self._done.clear()  # offered and never projected (known entries): forget them
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "ExtractAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- workers -------------------------------------------------------------------------

    def _start(self) -> None:
        extractor = self._extractor_here = self._extractor()
        extractor.extract_batch([])  # load the model here: the workers inherit it
        try:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_start, initargs=(extractor, os.getpid()))
            self.forked = self.workers
        except (OSError, ValueError) as err:
            self._fail(err)

    def _steal_newest(self) -> bool:
        """Extract the newest task no worker has started here; False when every task has started."""
        for k in range(len(self._tasks) - 1, -1, -1):
            task, future = self._tasks[k]
            if future.cancel():
                del self._tasks[k]
                try:
                    self._done.update(zip(task, self._extractor_here.extract_batch(task), strict=True))
                except Exception:  # an entry of it fails: projection finds which, when it gets there
                    pass
                return True
        return False

    def _send(self, flush: bool) -> None:
        while self._pool is not None and (len(self._buffer) >= TASK_ENTRIES or (flush and self._buffer)):
            task, self._buffer = self._buffer[:TASK_ENTRIES], self._buffer[TASK_ENTRIES:]
            try:
                self._tasks.append((task, self._pool.submit(_worker_extract, task)))
            except Exception as err:  # BrokenProcessPool, or shut down
                self._fail(err)

    def _fail(self, err: Exception) -> None:
        if not self._broken:
            log.warning("extraction workers failed (%s: %s); extracting in-process for the rest of the run",
                        type(err).__name__, err)
        self._broken = True
        self._buffer = []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
