"""What every route of the service works with, built once per app: the runtime, the session-key
filter, the caches, the ingest worker and the hook activity counts; and the two things routes do
with them (log a message as a live entry, recall for a message)."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone

import psycopg
from fastapi import HTTPException

from nova.ingest.envelope import is_synthetic_turn, remembered_text
from nova.ingest.filters import SessionFilter
from nova.ingest.live import ForgottenScope, LiveMessage, agent_of_session_key, log_live_entry, message_text
from nova.recall import telemetry
from nova.recall.block import render_items
from nova.recall.items import RecallItem, RecallTrace
from nova.recall.profile import ProfileCache
from nova.recall.search import recall
from nova.runtime import Runtime
from nova.serve.activity import HookActivity
from nova.serve.caches import RecallCache, SessionIds, SpeakerNames
from nova.serve.middleware import seconds_since_arrival
from nova.serve.models import Accepted, MessageIn, RecallIn, RecallOut, SessionRequest
from nova.serve.worker import IngestWorker

__all__ = ["ServiceContext", "SYNTHETIC"]

log = logging.getLogger("nova.service")

# A live message waits at most this long on another writer's row or lock (catch-up logging the
# same session): the hook's own budget is short, and what is not logged live catch-up reads later.
_LOG_LOCK_TIMEOUT = "2s"
SYNTHETIC = "a turn OpenClaw wrote itself (heartbeat poll …)"
_COMMAND = re.compile(r"^/[a-z][\w-]*(?:\s\S*)?$", re.IGNORECASE)  # "/new", "/model gpt-5", not prose


class ServiceContext:
    """The service's state, shared by its routes (``app.state.nova``). ``token``: the bearer token
    TCP mode requires, None on the Unix socket."""

    def __init__(self, rt: Runtime, token: str | None):
        settings = rt.settings
        svc = settings.service
        self.rt, self.settings, self.svc, self.token = rt, settings, svc, token
        self.session_filter = SessionFilter(settings.filters)
        self.profiles = ProfileCache(min_changes=svc.profile_min_changes)
        self.recalls = RecallCache()
        self.speakers = SpeakerNames(settings.state_dir)
        self.session_ids = SessionIds(settings.state_dir)
        self.redactor = rt.redactor
        self.worker = IngestWorker(rt, svc.ingest_batch, svc.ingest_delay_ms / 1000)
        self.activity = HookActivity()
        self.started = time.time()
        # Each hook's budget (hooks/nova-lib/client.js): semantic-recall waits a second longer.
        self.budgets_s = {"message": svc.message_budget_ms / 1000, "recall": svc.recall_budget_ms / 1000,
                          "precompute": svc.recall_budget_ms / 1000 + 1, "bootstrap": svc.bootstrap_budget_ms / 1000}

    def count_if_late(self, agent: str, kind: str) -> None:
        if seconds_since_arrival() > self.budgets_s[kind]:
            self.activity.late(agent)

    def agent_of(self, req: SessionRequest) -> str:
        try:
            return req.agent_id or agent_of_session_key(req.session_key, self.svc.default_agent)
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None

    def scope(self, req: SessionRequest) -> tuple[str, bool, str]:
        agent = self.agent_of(req)
        allowed, rule = self.session_filter.decide(req.session_key)
        return agent, allowed, rule

    def recall_for(self, agent: str, req: RecallIn, query: str, source: str) -> RecallOut:
        """Recall for ``query``, the request's text as ``message_text`` normalised it; sampled into telemetry."""
        t0 = time.perf_counter()
        if not query:
            return RecallOut(status="ok", tookMs=0)
        trace = RecallTrace(detailed=False) if telemetry.sampled(self.settings.telemetry_sample_rate) else None
        with self.rt.store.connection() as conn, self.rt.store.spare_connection() as side:
            # The message itself (logged live a moment ago) is not a memory worth recalling.
            def current_message() -> set[tuple[str, str]]:
                return {(s, e) for s, e in conn.execute(
                    "SELECT session_id, entry_id FROM entries WHERE text = %s AND agent_id = %s AND session_key = %s"
                    " AND role = 'user' AND ingested_at > now() - interval '1 hour'",
                    (query, agent, req.session_key))}

            current = current_message()
            while True:
                items = recall(conn, self.rt.embedder, agent, query,
                               limit=req.limit or self.settings.recall_limit,
                               budget_tokens=req.budget_tokens or self.settings.recall_budget_tokens,
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
                    telemetry.record(conn, agent, source, took, trace, items, self.settings.telemetry_retention_days)
                except psycopg.Error as err:  # telemetry never costs an answer
                    conn.rollback()
                    log.warning("recall telemetry not written: %s", err)
        return RecallOut(status="ok", block=render_items(items), items=[_item(i) for i in items], tookMs=took)

    def log_message(self, agent: str, req: MessageIn) -> Accepted:
        """Log an inbound message as a live entry (unless filtered, empty, a command or a synthetic
        turn) and queue its extraction."""
        allowed, rule = self.session_filter.decide(req.session_key)
        if not allowed:
            return Accepted(status="skipped", reason=rule)
        at = datetime.fromtimestamp(req.timestamp / 1000, tz=timezone.utc) if req.timestamp else datetime.now(timezone.utc)
        msg = LiveMessage(req.session_key, req.content, req.sender_name, req.message_id, at, req.channel_id)
        text = message_text(req.content)
        if not text:
            return Accepted(status="empty", reason="no text after removing envelope and memory blocks")
        if remembered_text(text) is not None:
            return Accepted(status="skipped", reason="the /remember command stores its text itself")
        if _COMMAND.match(req.content.strip()):
            return Accepted(status="skipped", reason="a chat command (/new, /reset …), not a memory")
        if is_synthetic_turn(text):
            return Accepted(status="skipped", reason=f"{SYNTHETIC}, not a memory")
        try:
            with self.rt.store.connection() as conn, conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_LOG_LOCK_TIMEOUT}'")
                entry = log_live_entry(conn, agent, self.session_ids(agent, req.session_key), msg,
                                       self.speakers(agent), self.redactor)
        except ForgottenScope as e:
            return Accepted(status="skipped", reason=str(e))
        except psycopg.errors.LockNotAvailable:
            return Accepted(status="busy", reason="another writer is logging this session; catch-up reads the"
                            " message from the transcript")
        if entry is None:
            return Accepted(status="duplicate", reason="already logged (live or from the transcript)")
        self.worker.submit(agent, entry.entry_id)
        return Accepted(status="queued", entryId=entry.entry_id)


def _item(item: RecallItem) -> dict:
    """An item without its text (the block has it): what was recalled, why, and from where."""
    d = item.to_json()
    return {k: d[k] for k in ("kind", "key", "score", "tokens", "sources", "paths")}
