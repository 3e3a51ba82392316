"""The ingest worker: projects live entries in the background, a batch at a time."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict

from nova.memory.entry_log import entry_columns, fetch_entries
from nova.runtime import Runtime
from nova.store.locks import try_agent_xact_lock

__all__ = ["IngestWorker", "load_worker_projector"]

log = logging.getLogger("nova.service")

_DEFER_S = 0.5  # how long the ingest worker waits before retrying an agent another writer holds
# The dense pass in the service: after this long without a message, one batch of _FILL_BATCH texts
# (about half a second of the dense model on two cores: a message arriving meanwhile waits at most
# that), again at once while some are pending, else a look every _FILL_POLL_S.
_FILL_IDLE_S = 1.0
_FILL_NEXT_S = 0.05
_FILL_POLL_S = 30.0
_FILL_BATCH = 64


class IngestWorker(threading.Thread):
    """Projects live entries in the background, a batch at a time (one model call per batch), and
    when idle fills in dense vectors (the static tier writes only static ones with the entry).

    Entries stay ``pending`` in the entry log until projected, so whatever a crash leaves
    behind, the next catch-up projects (catch-up retries open entries first).
    """

    def __init__(self, rt: Runtime, batch: int, delay_s: float = 0.0):
        super().__init__(name="nova-ingest", daemon=True)
        self.rt = rt
        self.batch = batch
        self.delay_s = delay_s
        self.projector = None  # set before start()
        self.jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.projected = 0
        self.failed = 0
        self.deferred = 0  # batches put back because another writer held the agent
        self.dense_filled = 0  # dense vectors written when idle

    def submit(self, agent_id: str, entry_id: str) -> None:
        self.jobs.put((agent_id, entry_id))

    def stop(self) -> None:
        self.jobs.put(None)

    def run(self) -> None:
        idle_s = _FILL_IDLE_S
        while True:
            try:
                job = self.jobs.get(timeout=idle_s)
            except queue.Empty:
                # Idle: fill dense vectors, one batch at a time so a new message waits at most one batch.
                idle_s = _FILL_NEXT_S if self._fill_some() else _FILL_POLL_S
                continue
            idle_s = _FILL_IDLE_S
            if job is None:
                return
            if self.delay_s:
                time.sleep(self.delay_s)  # the turn's bootstrap and recall go first (ServiceSettings.ingest_delay_ms)
            jobs = [job]
            while len(jobs) < self.batch:
                try:
                    nxt = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.jobs.put(None)  # finish this batch, then stop
                    break
                jobs.append(nxt)
            deferred: list[tuple[str, str]] = []
            try:
                deferred = self._project(jobs)
            except Exception as err:  # pending entries are retried by catch-up; never kill the worker
                self.failed += len(jobs)
                log.warning("projecting %d live entries failed: %s", len(jobs), err)
            finally:
                if deferred:  # another writer holds the agent: try again shortly (still unfinished for drain)
                    self.deferred += len(deferred)
                    time.sleep(_DEFER_S)
                    for job in deferred:
                        self.jobs.put(job)
                for _ in jobs:
                    self.jobs.task_done()

    def _project(self, jobs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Project ``jobs``; returns those of agents another writer holds (``nova.store.locks.agent_lock``)."""
        by_agent: dict[str, list[str]] = defaultdict(list)
        for agent_id, entry_id in jobs:
            by_agent[agent_id].append(entry_id)
        projector = self.projector
        deferred: list[tuple[str, str]] = []
        for agent_id, entry_ids in by_agent.items():
            with self.rt.store.connection() as conn, conn.transaction():
                # A catch-up, re-extraction or forget of this agent runs: its rows are being
                # rewritten, and waiting on them would hold a pooled connection for minutes.
                if not try_agent_xact_lock(conn, agent_id):
                    deferred += [(agent_id, e) for e in entry_ids]
                    continue
                # Re-read: catch-up may have adopted (re-keyed and projected) an entry meanwhile.
                entries = fetch_entries(
                    conn,
                    f"SELECT {entry_columns('en')} FROM entries en"
                    " JOIN entry_extraction ee USING (agent_id, session_id, entry_id)"
                    " WHERE en.agent_id = %s AND en.entry_id = ANY(%s) AND en.live AND ee.status = 'pending'"
                    " FOR UPDATE OF ee SKIP LOCKED",
                    (agent_id, entry_ids),
                )
                stats = projector.project(conn, agent_id, entries)
            self.projected += stats.done
            self.failed += stats.failed
        return deferred

    def _fill_some(self) -> bool:
        """One batch of the dense pass (``nova.memory.dense_fill``) with the worker's own model copy;
        True when it wrote something (more may be pending). Never raises: the next idle moment retries."""
        from nova.memory.dense_fill import fill_vectors

        try:
            with self.rt.store.connection() as conn:
                stats = fill_vectors(conn, self.projector.embedder, batch=_FILL_BATCH, max_rows=_FILL_BATCH)
        except Exception as err:
            log.warning("filling dense vectors failed (retried when idle): %s", err)
            return False
        self.dense_filled += stats.dense
        return stats.dense > 0

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted entry is projected (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.jobs.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False


def load_worker_projector(rt: Runtime):
    """The ingest worker's projector with its models loaded and run once (spaCy, the embedder)."""
    from nova.memory.extract import ExtractionInput

    projector = rt.background_projector()
    projector.embedder.encode(["warm up"])
    list(projector.extractor.extract_batch([ExtractionInput("Warm up.", "user", "assistant", None)]))
    return projector
