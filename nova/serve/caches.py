"""What the service keeps between requests: the precomputed recall per session, speaker names per
agent, and each agent's session ids from sessions.json. All keyed by agent: nothing crosses agents."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from nova.ingest.transcripts_jsonl import read_session_index
from nova.ingest.workspace import load_speakers
from nova.memory.speakers import Speakers
from nova.serve.models import RecallOut

__all__ = ["RecallCache", "SpeakerNames", "SessionIds"]


def _drop_agent(held: dict, agent_id: str) -> int:
    """Remove ``agent_id``'s entries from a per-session map keyed ``(agent_id, session_key)``; returns how many.

    The caller holds the map's lock.
    """
    keys = [k for k in held if k[0] == agent_id]
    for k in keys:
        del held[k]
    return len(keys)


class RecallCache:
    """The last precomputed recall per session: (normalised query, result or None while computing).

    A plugin call that arrives while semantic-recall is still computing the same message waits
    for that result instead of computing it a second time.
    """

    def __init__(self, max_sessions: int = 10_000):
        self._held: OrderedDict[tuple[str, str], tuple[str, RecallOut | None, threading.Event]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sessions = max_sessions

    def begin(self, key: tuple[str, str], query: str) -> None:
        with self._lock:
            self._held[key] = (query, None, threading.Event())
            self._held.move_to_end(key)
            while len(self._held) > self.max_sessions:
                self._held.popitem(last=False)

    def put(self, key: tuple[str, str], query: str, result: RecallOut | None) -> None:
        with self._lock:
            held = self._held.get(key)
            if held is None or held[0] != query:
                return
            if result is None:
                del self._held[key]
            else:
                self._held[key] = (query, result, held[2])
        held[2].set()

    def drop_agent(self, agent_id: str) -> int:
        with self._lock:
            return _drop_agent(self._held, agent_id)

    def get(self, key: tuple[str, str], query: str | None = None, wait_s: float = 0.0) -> RecallOut | None:
        with self._lock:
            held = self._held.get(key)
        if held is None or (query is not None and held[0] != query):
            return None
        if held[1] is None and wait_s > 0 and held[2].wait(wait_s):
            with self._lock:
                held = self._held.get(key)
            return held[1] if held is not None and held[0] == query else None
        return held[1]


class SpeakerNames:
    """Speaker names per agent from its workspace files, re-read at most once a minute."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self._held: dict[str, tuple[float, Speakers]] = {}

    def __call__(self, agent_id: str) -> Speakers:
        now = time.monotonic()
        held = self._held.get(agent_id)
        if held is None or now - held[0] > 60:
            held = (now, load_speakers(self.state_dir(), agent_id))
            self._held[agent_id] = held
        return held[1]


class SessionIds:
    """A session key's sessionId in the agent's sessions.json, re-read only when the file changed."""

    def __init__(self, state_dir):
        self.state_dir = state_dir  # () -> Path: the OpenClaw state dir (Settings.state_dir)
        self._held: dict[str, tuple[float, dict[str, str]]] = {}

    def __call__(self, agent: str, session_key: str) -> str | None:
        path = self.state_dir() / "agents" / agent / "sessions" / "sessions.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        held = self._held.get(agent)
        if held is None or held[0] != mtime:
            held = (mtime, {key: sid for sid, key in read_session_index(self.state_dir(), agent).items()})
            self._held[agent] = held
        return held[1].get(session_key)
