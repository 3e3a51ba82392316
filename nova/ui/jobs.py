"""The rebuilds a merge or a split starts (``nova.memory.curation``), run beside the page.

A rebuild re-extracts the whole agent from its entry log (at catch-up speed: seconds for a LoCoMo
conversation, minutes for 100k entries), longer than a browser should wait on one request. The POST
checks its input and answers at once with a job page that shows the progress and reloads itself
(``<meta http-equiv="refresh">``: no script), then sends the browser to the entity the curation made.
One rebuild at a time per ``nova ui``; the agent's lock keeps it apart from every other writer.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from nova.memory.curation import Curated, CurationBusy

__all__ = ["Job", "Jobs", "JobRunning"]

log = logging.getLogger("nova.ui")

_KEPT = 50  # finished jobs remembered for their pages


@dataclass
class Job:
    id: str
    agent: str
    action: str                 # merge | split
    total: int                  # the agent's entries: what the rebuild goes through
    done: int = 0
    state: str = "running"      # running | done | failed
    entity_id: int | None = None
    note: str = ""              # what the entity page says once it is done
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0


class JobRunning(RuntimeError):
    """A rebuild is already running in this ``nova ui`` (``job``)."""

    def __init__(self, job: Job):
        super().__init__(f"a {job.action} of agent {job.agent} is rebuilding ({job.done} of {job.total} entries)")
        self.job = job


class Jobs:
    def __init__(self, after: Callable[[str], None]):
        """``after(agent)``: run once a rebuild committed (dense vectors, the service's caches)."""
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._after = after

    def start(self, agent: str, action: str, total: int, work: Callable[..., Curated],
              describe: Callable[[Curated], str]) -> Job:
        """Run ``work(progress)`` in a thread of its own; ``describe(result)`` is the note shown after.

        Raises:
            JobRunning: another rebuild has not finished.
        """
        with self._lock:
            running = next((j for j in self._jobs.values() if j.state == "running"), None)
            if running is not None:
                raise JobRunning(running)
            job = Job(secrets.token_hex(6), agent, action, total)
            self._jobs[job.id] = job
            for old in [j for j in self._jobs.values() if j.state != "running"][:-_KEPT]:
                del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job, work, describe), name=f"nova-ui-{action}", daemon=True).start()
        return job

    def get(self, agent: str, job_id: str) -> Job | None:
        """The job, if it is this agent's."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.agent == agent else None

    def _run(self, job: Job, work, describe) -> None:
        def progress(_agent: str, n: int) -> None:
            job.done += n

        try:
            result = work(progress)
            job.entity_id, job.note = result.entity_id, describe(result)
            job.state = "done"
        except (CurationBusy, LookupError, ValueError) as e:  # another writer, or it changed since the check
            job.error, job.state = str(e), "failed"
        except Exception as e:  # the transaction rolled back: nothing changed
            log.exception("%s of agent %s failed", job.action, job.agent)
            job.error, job.state = f"{type(e).__name__}: {e} (nothing was changed; the nova ui log has the details)", "failed"
        finally:
            job.seconds = time.monotonic() - job.started
        if job.state == "done":
            self._after(job.agent)
