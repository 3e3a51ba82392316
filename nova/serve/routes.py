"""The service's endpoints (docs/hooks.md), thin: each reads the request, asks the
``ServiceContext`` (``app.state.nova``) and counts what it did in the hook activity.

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
import time

from fastapi import APIRouter, Depends, HTTPException, Request

from nova.ingest.envelope import is_synthetic_turn
from nova.ingest.live import message_text
from nova.recall.profile import build_profile
from nova.serve.context import SYNTHETIC, ServiceContext
from nova.serve.models import (
    Accepted,
    BootstrapIn,
    BootstrapOut,
    ForgottenIn,
    MessageIn,
    RecallIn,
    RecallOut,
    RefreshIn,
)

__all__ = ["router"]

router = APIRouter()


async def service(request: Request) -> ServiceContext:
    """The app's ``ServiceContext`` (async: read on the event loop, no thread hop)."""
    return request.app.state.nova


def authorised(request: Request) -> None:
    token = request.app.state.nova.token
    if token is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


@router.get("/v1/health", dependencies=[Depends(authorised)])
def health(ctx: ServiceContext = Depends(service)) -> dict:
    """Liveness, the extraction queue, and hook activity per agent since ``activitySince`` (nova.serve.activity).

    ``database`` is false (and ``status`` "degraded") when PostgreSQL is unreachable.
    """
    try:
        with ctx.rt.store.connection() as conn:
            conn.execute("SELECT 1")
        db = True
    except Exception:
        db = False
    return {"status": "ok" if db else "degraded", "database": db, "model": ctx.settings.embedding_model,
            "queued": ctx.worker.jobs.unfinished_tasks, "projected": ctx.worker.projected, "failed": ctx.worker.failed,
            "deferred": ctx.worker.deferred,
            "uptimeS": round(time.time() - ctx.started, 1),
            "activitySince": ctx.activity.since.isoformat(), "agents": ctx.activity.snapshot()}


@router.post("/v1/messages", status_code=202, response_model=Accepted, dependencies=[Depends(authorised)])
def post_message(req: MessageIn, ctx: ServiceContext = Depends(service)) -> Accepted:
    """Log an inbound message as a live entry and queue its extraction."""
    agent = ctx.agent_of(req)
    answer = ctx.log_message(agent, req)
    ctx.activity.message(agent, queued=answer.status == "queued")
    ctx.count_if_late(agent, "message")
    return answer


@router.post("/v1/recall/precompute", status_code=202, response_model=RecallOut, dependencies=[Depends(authorised)])
def precompute(req: RecallIn, ctx: ServiceContext = Depends(service)) -> RecallOut:
    """Recall for this message now and keep it for the session's next run."""
    agent, query, skipped = _recall_query(req, ctx)
    if skipped is not None:
        return skipped
    key = (agent, req.session_key)
    ctx.recalls.begin(key, query)
    result = None
    try:
        result = ctx.recall_for(agent, req, query, "precompute")
    finally:
        ctx.recalls.put(key, query, result)
    ctx.activity.recall(agent, len(result.items), precompute=True)
    ctx.count_if_late(agent, "precompute")
    return result


@router.post("/v1/recall", response_model=RecallOut, dependencies=[Depends(authorised)])
def post_recall(req: RecallIn, ctx: ServiceContext = Depends(service)) -> RecallOut:
    """Memories for the current message: the precomputed result when it matches, else computed now."""
    agent, query, skipped = _recall_query(req, ctx)
    if skipped is not None:
        return skipped
    held = ctx.recalls.get((agent, req.session_key), query, wait_s=ctx.svc.recall_budget_ms / 1000)
    if held is not None and req.budget_tokens is None and req.limit is None:
        answer = held.model_copy(update={"precomputed": True})
    else:
        answer = ctx.recall_for(agent, req, query, "recall")
    ctx.activity.recall(agent, len(answer.items), precompute=False)
    ctx.count_if_late(agent, "recall")
    return answer.model_copy(update={"injection": ctx.settings.recall_injection})


def _recall_query(req: RecallIn, ctx: ServiceContext) -> tuple[str, str, RecallOut | None]:
    """``(agent, query, None)``: the text recall runs on (the message without envelope and memory
    blocks, secrets redacted); or the answer for a filtered session or a synthetic turn in third place."""
    agent, allowed, rule = ctx.scope(req)
    if not allowed:
        return agent, "", RecallOut(status="skipped", reason=rule)
    query = ctx.redactor(message_text(req.query))
    if is_synthetic_turn(query):
        return agent, query, RecallOut(status="skipped", reason=SYNTHETIC)
    return agent, query, None


@router.post("/v1/bootstrap", response_model=BootstrapOut, dependencies=[Depends(authorised)])
def post_bootstrap(req: BootstrapIn, ctx: ServiceContext = Depends(service)) -> BootstrapOut:
    """The NOVA_MEMORY.md content for ``agent:bootstrap``: the same bytes all session long."""
    agent, allowed, rule = ctx.scope(req)
    if not allowed:
        return BootstrapOut(status="skipped", reason=rule)
    with ctx.rt.store.connection() as conn:
        built_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        fresh = build_profile(conn, agent, ctx.speakers(agent), max_chars=ctx.svc.profile_max_chars,
                              inbound=_inbound_message(conn, agent, req.session_key))
        profile, why = ctx.profiles.settle(conn, agent, req.session_key, req.session_id, fresh, built_at)
    content = profile.text
    if ctx.svc.bootstrap_recall:
        held = ctx.recalls.get((agent, req.session_key))
        if held is not None and held.block:
            content = f"{content}\n{held.block}\n" if content else f"{held.block}\n"
    ctx.activity.bootstrap(agent, has_content=bool(content))
    ctx.count_if_late(agent, "bootstrap")
    return BootstrapOut(status="ok", content=content, refreshed=why)


@router.post("/v1/sessions/refresh", dependencies=[Depends(authorised)])
def refresh(req: RefreshIn, ctx: ServiceContext = Depends(service)) -> dict:
    """Rebuild the session's profile at its next bootstrap (after compaction)."""
    with ctx.rt.store.connection() as conn:
        return {"status": "ok", "dropped": ctx.profiles.invalidate(conn, ctx.agent_of(req), req.session_key)}


@router.post("/v1/forgotten", dependencies=[Depends(authorised)])
def forgotten(req: ForgottenIn, ctx: ServiceContext = Depends(service)) -> dict:
    """Drop what the service holds of an agent (profiles, precomputed recalls): ``nova forget`` calls it."""
    with ctx.rt.store.connection() as conn:
        dropped = ctx.profiles.invalidate_agent(conn, req.agent_id)
    return {"status": "ok", "profiles": dropped, "recalls": ctx.recalls.drop_agent(req.agent_id)}


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
