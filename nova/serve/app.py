"""``nova serve``: the resident service the OpenClaw hooks call (HTTP + JSON, OpenAPI at /openapi.json).

It owns what is slow to load (the embedding model, spaCy) and the database pool, so a hook
costs one local round trip instead of a Python start-up. Endpoints (docs/hooks.md):

- ``POST /v1/messages``: an inbound message (memory-extract hook, ``message:received``).
  Logs it as a live entry at once and projects it in a background worker, so its memories
  are recallable seconds later. Catch-up reconciles it with the transcript line (nova.ingest.live).
- ``POST /v1/recall/precompute``: recall for a session's next run (semantic-recall hook).
- ``POST /v1/recall``: recall for the current message (the plugin's ``before_prompt_build``);
  served from the precomputed result when the message matches.
- ``POST /v1/bootstrap``: the session profile for ``agent:bootstrap`` (session-init hook),
  stable within a session (nova.recall.profile.ProfileCache).
- ``POST /v1/sessions/refresh``: forget a session's profile (after compaction).
- ``POST /v1/forgotten``: drop an agent's held profiles and recalls (``nova forget``).
- ``GET /v1/health``.

Every request names a session key; the agent is ``agentId`` or the key's ``agent:<id>:``
prefix, and every query is scoped to it. Session-key filters apply: a filtered session gets
``status: "skipped"`` and nothing is stored or recalled. Malformed requests get a 422 with the
offending field and change nothing.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import os
import queue
import re
import secrets
import signal
import socket
import threading
import time
from collections import OrderedDict, defaultdict
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Annotated, Literal

import psycopg
from psycopg_pool import PoolTimeout
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator, BaseModel, ConfigDict, Field, field_validator

from nova.serve.activity import MISSED_HEADER, HookActivity, parse_missed
from nova.ingest.envelope import is_synthetic_turn
from nova.ingest.filters import SessionFilter
from nova.ingest.live import LiveMessage, agent_of_session_key, log_live_entry, message_text
from nova.recall.profile import PROFILE_FILE_NAME, ProfileCache, build_profile
from nova.memory.entry_log import entry_columns, fetch_entries
from nova.recall import telemetry
from nova.recall.items import RecallItem, RecallTrace
from nova.recall.search import recall
from nova.recall.block import render_items
from nova.runtime import Runtime
from nova.store.connection import prewarm_for_recall
from nova.store.locks import try_agent_xact_lock
from nova.ingest.transcripts_jsonl import read_session_index
from nova.ingest.workspace import load_speakers
from nova.memory.speakers import Speakers

__all__ = ["create_app", "IngestWorker"]

log = logging.getLogger("nova.service")

SessionKey = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f]+$",
                                  description="OpenClaw sessionKey, e.g. agent:main:main")]
_DEFER_S = 0.5  # how long the ingest worker waits before retrying an agent another writer holds
# A live message waits at most this long on another writer's row or lock (catch-up logging the
# same session): the hook's own budget is short, and what is not logged live catch-up reads later.
_LOG_LOCK_TIMEOUT = "2s"
_SYNTHETIC = "a turn OpenClaw wrote itself (heartbeat poll …)"
_COMMAND = re.compile(r"^/[a-z][\w-]*(?:\s\S*)?$", re.IGNORECASE)  # "/new", "/model gpt-5", not prose
# When the request reached the service (set by a middleware, read by the handler's thread), so an
# answer slower than the hook's budget counts as late however long it queued.
_ARRIVED: ContextVar[float] = ContextVar("nova_request_arrived")


class _NoteArrival:
    """ASGI middleware: stamps each request's arrival (``_ARRIVED``) and adds the lost-call report
    a hook client sent (``x-nova-missed``) to the activity counts. Plain ASGI, not
    ``@app.middleware("http")``, which would wrap every hook call in an extra task and stream."""

    _HEADER = MISSED_HEADER.encode()

    def __init__(self, app, activity: HookActivity):
        self.app, self.activity = app, activity

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            _ARRIVED.set(time.perf_counter())
            header = next((v for k, v in scope["headers"] if k == self._HEADER), None)
            missed = parse_missed(header.decode("latin-1")) if header else {}
            if missed:
                self.activity.missed(missed)
        await self.app(scope, receive, send)


def _not_a_boolean(value):
    # JSON true/false would pass as 1/0 (schemathesis found `"timestamp": true` accepted); 2.0 stays
    # a valid integer, as JSON Schema has it.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


Number = BeforeValidator(_not_a_boolean)
AgentId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=200_000)

    session_key: SessionKey = Field(alias="sessionKey")
    agent_id: AgentId | None = Field(default=None, alias="agentId",
                                     description="Default: the agent in the session key")


class MessageIn(_Request):
    """Fields of OpenClaw's ``message:received`` context (docs/automation/hooks/event-types.md)."""

    content: str = Field(description="context.content: the inbound text")
    sender_name: str | None = Field(default=None, alias="senderName", max_length=256,
                                    description="context.metadata.senderName")
    message_id: str | None = Field(default=None, alias="messageId", max_length=256)
    channel_id: str | None = Field(default=None, alias="channelId", max_length=128)
    timestamp: Annotated[float | None, Number] = Field(default=None, ge=0, le=1e14,
                                    description="context.timestamp: milliseconds since the epoch")


class RecallIn(_Request):
    query: str = Field(min_length=1, pattern=r"\S", description="The current user message (currentUserMessage); not blank")
    budget_tokens: Annotated[int | None, Number] = Field(default=None, alias="budgetTokens", gt=0, le=20_000)
    limit: Annotated[int | None, Number] = Field(default=None, gt=0, le=200)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query is blank")
        return v


class BootstrapIn(_Request):
    session_id: str | None = Field(default=None, alias="sessionId", max_length=256)


class RefreshIn(_Request):
    pass


class ForgottenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent_id: AgentId = Field(alias="agentId")


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong (a message, or FastAPI's list of invalid fields)."""

    detail: str | list


_ERRORS = {
    400: {"model": Problem, "description": "The body is not valid JSON"},
    401: {"model": Problem, "description": "TCP mode: missing or wrong bearer token"},
    503: {"model": Problem, "description": "NOVA could not answer (database down); the hooks fail open"},
}


class Accepted(BaseModel):
    status: Literal["queued", "duplicate", "skipped", "empty", "busy"]
    reason: str | None = None
    entryId: str | None = None


class RecallOut(BaseModel):
    status: Literal["ok", "skipped"]
    reason: str | None = None
    block: str = ""
    items: list[dict] = []
    precomputed: bool = False
    tookMs: float = 0


class BootstrapOut(BaseModel):
    status: Literal["ok", "skipped"]
    reason: str | None = None
    name: str = PROFILE_FILE_NAME
    content: str = ""
    refreshed: str | None = None  # new | reset | changed | stable


class IngestWorker(threading.Thread):
    """Projects live entries in the background, a batch at a time (one model call per batch).

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

    def submit(self, agent_id: str, entry_id: str) -> None:
        self.jobs.put((agent_id, entry_id))

    def stop(self) -> None:
        self.jobs.put(None)

    def run(self) -> None:
        while True:
            job = self.jobs.get()
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

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted entry is projected (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.jobs.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False


def _drop_agent(held: dict, agent_id: str) -> int:
    """Remove ``agent_id``'s entries from a per-session map keyed ``(agent_id, session_key)``; returns how many.

    The caller holds the map's lock.
    """
    keys = [k for k in held if k[0] == agent_id]
    for k in keys:
        del held[k]
    return len(keys)


class _RecallCache:
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


class _Speakers:
    """Speaker names per agent from its workspace files, re-read at most once a minute."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._held: dict[str, tuple[float, Speakers]] = {}

    def __call__(self, agent_id: str) -> Speakers:
        now = time.monotonic()
        held = self._held.get(agent_id)
        if held is None or now - held[0] > 60:
            held = (now, load_speakers(self.rt.settings.state_dir(), agent_id))
            self._held[agent_id] = held
        return held[1]


def _prewarm(rt: Runtime) -> None:
    """Recall's indexes and tables into the buffer cache, beside the first requests rather than before them."""
    started = time.perf_counter()
    try:
        with rt.store.connection() as conn:
            warmed = prewarm_for_recall(conn)
    except (psycopg.Error, PoolTimeout) as err:
        log.warning("indexes not prewarmed: %s", err)
        return
    log.info("prewarmed %d indexes and tables (%d MB) in %.1f s", len(warmed), sum(b for _, b in warmed) // 2**20,
             time.perf_counter() - started)


def load_worker_projector(rt: Runtime):
    """The ingest worker's projector with its models loaded and run once (spaCy, the embedder)."""
    from nova.memory.extract import ExtractionInput

    projector = rt.background_projector()
    projector.embedder.encode(["warm up"])
    list(projector.extractor.extract_batch([ExtractionInput("Warm up.", "user", "assistant", None)]))
    return projector


_WARMUP_AGENT = "nova-warmup"  # read only: it has no memories and nothing is written for it


def warm_request_paths(rt: Runtime) -> None:
    """Run a profile build and a recall once, on an agent with no memories, before listening.

    The first request of a new process otherwise pays for its code paths, the pool's first
    connections and the model's first call in one go; on two busy cores that took the first
    bootstrap after a restart past session-init's 300 ms budget, and the turn lost its profile."""
    with rt.store.connection() as conn, rt.store.spare_connection() as side:
        build_profile(conn, _WARMUP_AGENT, Speakers("User", "Assistant", False, False))
        recall(conn, rt.embedder, _WARMUP_AGENT, "warm up", side_conn=side)
        conn.rollback()


def create_app(rt: Runtime, *, token: str | None = None, start_worker: bool = True,
               worker_projector=None) -> FastAPI:
    """The service's ASGI app. ``token``: require ``Authorization: Bearer <token>`` (TCP mode).

    ``worker_projector``: what the ingest worker extracts with (default: its own model copy).
    """
    settings = rt.settings
    svc = settings.service
    session_filter = SessionFilter(settings.filters)
    profiles = ProfileCache(min_changes=svc.profile_min_changes)
    recalls = _RecallCache()
    speakers = _Speakers(rt)
    redactor = rt.redactor
    worker = IngestWorker(rt, svc.ingest_batch, svc.ingest_delay_ms / 1000)
    activity = HookActivity()
    started = time.time()
    # Each hook's budget (hooks/nova-lib/client.js): semantic-recall waits a second longer.
    budgets_s = {"message": svc.message_budget_ms / 1000, "recall": svc.recall_budget_ms / 1000,
                 "precompute": svc.recall_budget_ms / 1000 + 1, "bootstrap": svc.bootstrap_budget_ms / 1000}

    def count_if_late(agent: str, kind: str) -> None:
        if time.perf_counter() - _ARRIVED.get(time.perf_counter()) > budgets_s[kind]:
            activity.late(agent)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt.embedder  # load the model before the first request, not during it (serve() did already)
        threading.Thread(target=_prewarm, args=(rt,), name="nova-prewarm", daemon=True).start()
        if start_worker:
            worker.projector = worker_projector or load_worker_projector(rt)
            worker.start()
        yield
        if start_worker:
            worker.stop()
            worker.join(timeout=30)

    app = FastAPI(
        title="NOVA Memory service",
        version="1",
        description="Long-term memory for OpenClaw agents: what the NOVA hooks and plugin call.",
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.state.worker = worker
    app.state.profiles = profiles
    app.state.activity = activity

    app.add_middleware(_NoteArrival, activity=activity)

    def authorised(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    def agent_of(req: _Request) -> str:
        try:
            return req.agent_id or agent_of_session_key(req.session_key, svc.default_agent)
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None

    def scope(req: _Request) -> tuple[str, bool, str]:
        agent = agent_of(req)
        allowed, rule = session_filter.decide(req.session_key)
        return agent, allowed, rule

    session_index: dict[str, tuple[float, dict[str, str]]] = {}

    def session_id_of(agent: str, session_key: str) -> str | None:
        """The key's sessionId in sessions.json, re-read only when the file changed."""
        path = settings.state_dir() / "agents" / agent / "sessions" / "sessions.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        held = session_index.get(agent)
        if held is None or held[0] != mtime:
            held = (mtime, {key: sid for sid, key in read_session_index(settings.state_dir(), agent).items()})
            session_index[agent] = held
        return held[1].get(session_key)

    def do_recall(agent: str, req: RecallIn, query: str, source: str) -> RecallOut:
        """Recall for ``query``, the request's text as ``message_text`` normalised it; sampled into telemetry."""
        t0 = time.perf_counter()
        if not query:
            return RecallOut(status="ok", tookMs=0)
        trace = RecallTrace(detailed=False) if telemetry.sampled(settings.telemetry_sample_rate) else None
        with rt.store.connection() as conn, rt.store.spare_connection() as side:
            # The message itself (logged live a moment ago) is not a memory worth recalling.
            def current_message() -> set[tuple[str, str]]:
                return {(s, e) for s, e in conn.execute(
                    "SELECT session_id, entry_id FROM entries WHERE text = %s AND agent_id = %s AND session_key = %s"
                    " AND role = 'user' AND ingested_at > now() - interval '1 hour'",
                    (query, agent, req.session_key))}

            current = current_message()
            while True:
                items = recall(conn, rt.embedder, agent, query,
                               limit=req.limit or settings.recall_limit,
                               budget_tokens=req.budget_tokens or settings.recall_budget_tokens,
                               known_sources=current, trace=trace, side_conn=side)
                # memory-extract and semantic-recall run side by side: the message may have been
                # logged (and projected) while this recall ran. Then recall once more knowing it.
                later = current_message()
                if later <= current or not any({(s["session_id"], s["entry_id"]) for s in i.sources} & later
                                               for i in items):
                    break
                current = later
            took = round((time.perf_counter() - t0) * 1000, 2)
            if trace is not None:
                try:
                    telemetry.record(conn, agent, source, took, trace, items, settings.telemetry_retention_days)
                except psycopg.Error as err:  # telemetry never costs an answer
                    conn.rollback()
                    log.warning("recall telemetry not written: %s", err)
        return RecallOut(status="ok", block=render_items(items), items=[_item(i) for i in items], tookMs=took)

    @app.get("/v1/health", dependencies=[Depends(authorised)])
    def health() -> dict:
        """Liveness, the extraction queue, and hook activity per agent since ``activitySince`` (nova.serve.activity).

        ``database`` is false (and ``status`` "degraded") when PostgreSQL is unreachable.
        """
        try:
            with rt.store.connection() as conn:
                conn.execute("SELECT 1")
            db = True
        except Exception:
            db = False
        return {"status": "ok" if db else "degraded", "database": db, "model": settings.embedding_model,
                "queued": worker.jobs.unfinished_tasks, "projected": worker.projected, "failed": worker.failed,
                "deferred": worker.deferred,
                "uptimeS": round(time.time() - started, 1),
                "activitySince": activity.since.isoformat(), "agents": activity.snapshot()}

    @app.post("/v1/messages", status_code=202, response_model=Accepted, dependencies=[Depends(authorised)])
    def post_message(req: MessageIn) -> Accepted:
        """Log an inbound message as a live entry and queue its extraction."""
        agent = agent_of(req)
        answer = log_message(agent, req)
        activity.message(agent, queued=answer.status == "queued")
        count_if_late(agent, "message")
        return answer

    def log_message(agent: str, req: MessageIn) -> Accepted:
        allowed, rule = session_filter.decide(req.session_key)
        if not allowed:
            return Accepted(status="skipped", reason=rule)
        at = datetime.fromtimestamp(req.timestamp / 1000, tz=timezone.utc) if req.timestamp else datetime.now(timezone.utc)
        msg = LiveMessage(req.session_key, req.content, req.sender_name, req.message_id, at, req.channel_id)
        text = message_text(req.content)
        if not text:
            return Accepted(status="empty", reason="no text after removing envelope and memory blocks")
        if _COMMAND.match(req.content.strip()):
            return Accepted(status="skipped", reason="a chat command (/new, /reset …), not a memory")
        if is_synthetic_turn(text):
            return Accepted(status="skipped", reason=f"{_SYNTHETIC}, not a memory")
        try:
            with rt.store.connection() as conn, conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_LOG_LOCK_TIMEOUT}'")
                entry = log_live_entry(conn, agent, session_id_of(agent, req.session_key), msg, speakers(agent),
                                       redactor)
        except psycopg.errors.LockNotAvailable:
            return Accepted(status="busy", reason="another writer is logging this session; catch-up reads the"
                            " message from the transcript")
        if entry is None:
            return Accepted(status="duplicate", reason="already logged (live or from the transcript)")
        worker.submit(agent, entry.entry_id)
        return Accepted(status="queued", entryId=entry.entry_id)

    @app.post("/v1/recall/precompute", status_code=202, response_model=RecallOut, dependencies=[Depends(authorised)])
    def precompute(req: RecallIn) -> RecallOut:
        """Recall for this message now and keep it for the session's next run."""
        agent, allowed, rule = scope(req)
        if not allowed:
            return RecallOut(status="skipped", reason=rule)
        key, query = (agent, req.session_key), redactor(message_text(req.query))
        if is_synthetic_turn(query):
            return RecallOut(status="skipped", reason=_SYNTHETIC)
        recalls.begin(key, query)
        result = None
        try:
            result = do_recall(agent, req, query, "precompute")
        finally:
            recalls.put(key, query, result)
        activity.recall(agent, len(result.items), precompute=True)
        count_if_late(agent, "precompute")
        return result

    @app.post("/v1/recall", response_model=RecallOut, dependencies=[Depends(authorised)])
    def post_recall(req: RecallIn) -> RecallOut:
        """Memories for the current message: the precomputed result when it matches, else computed now."""
        agent, allowed, rule = scope(req)
        if not allowed:
            return RecallOut(status="skipped", reason=rule)
        query = redactor(message_text(req.query))
        if is_synthetic_turn(query):
            return RecallOut(status="skipped", reason=_SYNTHETIC)
        held = recalls.get((agent, req.session_key), query, wait_s=svc.recall_budget_ms / 1000)
        if held is not None and req.budget_tokens is None and req.limit is None:
            answer = held.model_copy(update={"precomputed": True})
        else:
            answer = do_recall(agent, req, query, "recall")
        activity.recall(agent, len(answer.items), precompute=False)
        count_if_late(agent, "recall")
        return answer

    @app.post("/v1/bootstrap", response_model=BootstrapOut, dependencies=[Depends(authorised)])
    def post_bootstrap(req: BootstrapIn) -> BootstrapOut:
        """The NOVA_MEMORY.md content for ``agent:bootstrap``: the same bytes all session long."""
        agent, allowed, rule = scope(req)
        if not allowed:
            return BootstrapOut(status="skipped", reason=rule)
        with rt.store.connection() as conn:
            fresh = build_profile(conn, agent, speakers(agent), max_chars=svc.profile_max_chars,
                                  inbound=_inbound_message(conn, agent, req.session_key))
            profile, why = profiles.settle(conn, agent, req.session_key, req.session_id, fresh)
        content = profile.text
        if svc.bootstrap_recall:
            held = recalls.get((agent, req.session_key))
            if held is not None and held.block:
                content = f"{content}\n{held.block}\n" if content else f"{held.block}\n"
        activity.bootstrap(agent, has_content=bool(content))
        count_if_late(agent, "bootstrap")
        return BootstrapOut(status="ok", content=content, refreshed=why)

    @app.post("/v1/sessions/refresh", dependencies=[Depends(authorised)])
    def refresh(req: RefreshIn) -> dict:
        """Rebuild the session's profile at its next bootstrap (after compaction)."""
        with rt.store.connection() as conn:
            return {"status": "ok", "dropped": profiles.invalidate(conn, agent_of(req), req.session_key)}

    @app.post("/v1/forgotten", dependencies=[Depends(authorised)])
    def forgotten(req: ForgottenIn) -> dict:
        """Drop what the service holds of an agent (profiles, precomputed recalls): ``nova forget`` calls it."""
        with rt.store.connection() as conn:
            dropped = profiles.invalidate_agent(conn, req.agent_id)
        return {"status": "ok", "profiles": dropped, "recalls": recalls.drop_agent(req.agent_id)}

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
            log.warning("%s %s: the database is unreachable (%s)", request.method, request.url.path, type(exc).__name__)
            why = "the database is unreachable"
        else:
            log.exception("%s %s failed", request.method, request.url.path)
            why = type(exc).__name__
        return JSONResponse(status_code=503, content={"detail": f"NOVA could not answer: {why}"})

    return app


_INBOUND_WINDOW = "2 minutes"  # message:received to agent:bootstrap of the same turn: well under a second


def _inbound_message(conn, agent: str, session_key: str) -> tuple[str, str] | None:
    """The turn's own inbound message, ``(session_id, entry_id)``: memory-extract logs it before
    ``agent:bootstrap`` runs, and a profile that repeated it would show the user their own
    message as a memory. The newest user entry of the session logged just now (live, or already
    adopted by a watcher that read the transcript first)."""
    return conn.execute(
        "SELECT session_id, entry_id FROM entries WHERE agent_id = %s AND session_key = %s"
        " AND role = 'user' AND ingested_at > now() - %s::interval ORDER BY ingested_at DESC, seq DESC LIMIT 1",
        (agent, session_key, _INBOUND_WINDOW)).fetchone()


def _item(item: RecallItem) -> dict:
    """An item without its text (the block has it): what was recalled, why, and from where."""
    d = item.to_json()
    return {k: d[k] for k in ("kind", "key", "score", "tokens", "sources", "paths")}


def refuse_if_serving(path) -> None:
    """Remove a stale socket at ``path`` (left by a crash).

    Raises:
        OSError: another process is serving there.
    """
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)
    else:
        raise OSError(f"{path} is in use: another nova serve is running")
    finally:
        probe.close()


def bind_unix_socket(path) -> "socket.socket":
    """A listening Unix socket at ``path`` with mode 0600 from the start (no window where others can connect).

    Raises:
        OSError: another process is already serving there, or the directory is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_if_serving(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(256)
    return sock


def load_or_create_token(path) -> str:
    """The bearer token for TCP mode, created (mode 0600) on first use."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def serve(rt: Runtime, *, host: str | None, port: int, socket_path) -> None:
    """Run until SIGINT/SIGTERM: on a Unix socket (default) or TCP ``host:port`` with a bearer token."""
    import uvicorn

    # uvicorn re-raises the stop signal once it has shut down; with these handlers in place that
    # re-raise is a no-op and a SIGTERM ends the process with status 0 (what systemd expects).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    token = load_or_create_token(rt.settings.token_path()) if host else None
    if not host:
        refuse_if_serving(socket_path)  # before the models load: a second serve fails in a second
    # Nothing listens until the models are loaded: a hook that finds no socket fails open at
    # once, where one that connects to a loading service would wait out its whole budget.
    started = time.perf_counter()
    log.info("nova serve: loading the models")
    rt.embedder
    projector = load_worker_projector(rt)
    warm_request_paths(rt)
    log.info("nova serve: models loaded in %.1f s", time.perf_counter() - started)
    app = create_app(rt, token=token, worker_projector=projector)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    if host:
        log.info("nova serve: listening on http://%s:%d (bearer token in %s)", host, port, rt.settings.token_path())
        config.host, config.port = host, port
        server.run()
    else:
        sock = bind_unix_socket(socket_path)
        log.info("nova serve: listening on %s", socket_path)
        try:
            server.run(sockets=[sock])
        finally:
            socket_path.unlink(missing_ok=True)


def get_json(socket_path, route: str, timeout: float = 10.0, body: dict | None = None) -> dict | None:
    """GET ``route`` (POST ``body`` when given) from a service on ``socket_path``; None when nothing answers."""
    class _UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(socket_path))

    try:
        conn = _UnixConnection("nova")
        if body is None:
            conn.request("GET", route)
        else:
            conn.request("POST", route, json.dumps(body), {"content-type": "application/json"})
        return json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return None


def service_address(settings) -> str:
    """Where the configured ``nova serve`` listens: ``http://host:port`` in TCP mode, else the socket path."""
    svc = settings.service
    return f"http://{svc.host}:{svc.port}" if svc.host else str(settings.socket_path())


def ask_service(settings, route: str, body: dict | None = None, timeout: float = 5.0) -> dict | None:
    """GET ``route`` (POST ``body`` when given) from the configured ``nova serve``: its TCP address
    with the bearer token when ``service.host`` is set, else its Unix socket. None when nothing
    answers (or it refuses)."""
    svc = settings.service
    if not svc.host:
        return get_json(settings.socket_path(), route, timeout=timeout, body=body)
    try:
        token = settings.token_path().read_text().strip()
        conn = http.client.HTTPConnection(svc.host, svc.port, timeout=timeout)
        headers = {"authorization": f"Bearer {token}"}
        if body is None:
            conn.request("GET", route, headers=headers)
        else:
            conn.request("POST", route, json.dumps(body), {**headers, "content-type": "application/json"})
        response = conn.getresponse()
        return json.loads(response.read()) if response.status < 400 else None
    except (OSError, ValueError):
        return None
