"""The service's endpoints for what an agent asks on purpose (docs/hooks.md, "Agent tools"): the
nova-recall plugin's agent tools and its ``memory_search`` / ``memory_get`` corpus supplement call them.

- ``POST /v1/memory/search``: recall narrowed by time range, entity and kind (nova.recall.lookup).
- ``POST /v1/memory/get``: one memory with its transcript entries, or the transcript around an entry.
- ``POST /v1/memory/entity``: an entity with its relationships, current and superseded.
- ``POST /v1/memory/forget``: forget one memory (nova.memory.forget_one), recorded as via ``tool``.
- ``POST /v1/memory/remember``: the user's ``/remember <text>``, logged as their own words in the session.

Same rules as the hook endpoints: the agent is the session key's, session-key filters apply (a
sub-agent or cron session gets ``status: "skipped"`` and nothing), malformed input is a 422 that
changes nothing. Each answer carries ``text``, what the tool shows the model, within the token
budget, with a citation (``nova:entry:<session_id>/<entry_id>``) per memory.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from fastapi import APIRouter, Depends

from nova.ingest.live import message_text
from nova.memory.forget_one import MemoryBusy, MemoryRef, forget_memory
from nova.recall.lookup import SearchFilter, cite, entity_facts, memory_detail, search_memories, transcript_excerpt
from nova.serve.context import ServiceContext
from nova.serve.models import (EntityIn, MemoryForgetIn, MemoryGetIn, MemoryRememberIn, MemorySearchIn, MessageIn,
                               SessionRequest, ToolOut)
from nova.serve.routes import authorised, service

__all__ = ["router", "DEFAULT_RESULTS"]

router = APIRouter()

DEFAULT_RESULTS = 8  # memory_search's own default page is 10 hits; a tool answer stays short


def _skipped(req: SessionRequest, ctx: ServiceContext) -> tuple[str, ToolOut | None]:
    agent, allowed, rule = ctx.scope(req)
    return agent, (None if allowed else ToolOut(status="skipped", reason=rule))


def _time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)



@router.post("/v1/memory/search", response_model=ToolOut, dependencies=[Depends(authorised)])
def memory_search(req: MemorySearchIn, ctx: ServiceContext = Depends(service)) -> ToolOut:
    """The agent's memories for ``query``, filtered; ``results``: ``[{ref, kind, text, score, tokens,
    occurredAt, validFrom, validTo, citation, sources: [{session_key, session_id, entry_id, occurred_at}]}]``."""
    t0 = time.perf_counter()
    agent, skipped = _skipped(req, ctx)
    if skipped is not None:
        return skipped
    query = ctx.redactor(req.query)
    flt = SearchFilter(_time(req.since), _time(req.until), req.entity, frozenset(req.kinds))
    with ctx.rt.store.connection() as conn, ctx.rt.store.spare_connection() as side:
        items = search_memories(conn, ctx.rt.embedder, agent, query, flt, limit=req.max_results or DEFAULT_RESULTS,
                                budget_tokens=req.budget_tokens or ctx.settings.recall_budget_tokens, side_conn=side)
        sources = cite(conn, agent, items)
    results = []
    for item in items:
        cited = sources[(item.kind, item.id)]
        results.append({
            "ref": f"{item.kind}:{item.id}", "kind": item.kind, "text": item.text, "score": round(item.score, 6),
            "tokens": item.tokens, "occurredAt": _iso(item.occurred_at), "validFrom": _iso(item.valid_from),
            "validTo": _iso(item.valid_to), "citation": _citation(cited), "sources": cited})
    return ToolOut(status="ok", results=results, text=_render_search(req.query, results),
                   tookMs=round((time.perf_counter() - t0) * 1000, 2))


@router.post("/v1/memory/get", response_model=ToolOut, dependencies=[Depends(authorised)])
def memory_get(req: MemoryGetIn, ctx: ServiceContext = Depends(service)) -> ToolOut:
    """``detail``: the memory (``ref``, ``text``, dates, ``sources`` with each entry's text), or for an
    ``entry:`` ref ``{"entries": [...]}``, the transcript around it; ``status: not_found`` when this
    agent has neither."""
    agent, skipped = _skipped(req, ctx)
    if skipped is not None:
        return skipped
    ref = req.ref.removeprefix("nova:")
    kind, _, rest = ref.partition(":")
    with ctx.rt.store.connection() as conn:
        if kind == "entry":
            session_id, _, entry_id = rest.partition("/")
            entries = transcript_excerpt(conn, agent, session_id, entry_id, req.around) if entry_id else None
            detail = None if entries is None else {"ref": req.ref, "entries": entries}
        else:
            try:  # the one parser of memory refs: ASCII digits of a bigint ("²".isdigit() was a 503)
                ref = MemoryRef.parse(req.ref)
            except ValueError:
                ref = None
            detail = memory_detail(conn, agent, ref.kind, ref.id) if ref else None
    if detail is None:
        return ToolOut(status="not_found", reason=f"this agent has no {req.ref}")
    return ToolOut(status="ok", detail=detail, text=_render_detail(detail))


@router.post("/v1/memory/entity", response_model=ToolOut, dependencies=[Depends(authorised)])
def memory_entity(req: EntityIn, ctx: ServiceContext = Depends(service)) -> ToolOut:
    """``detail``: nova.recall.lookup.entity_facts for ``name``; ``status: not_found`` when unknown."""
    agent, skipped = _skipped(req, ctx)
    if skipped is not None:
        return skipped
    with ctx.rt.store.connection() as conn:
        detail = entity_facts(conn, agent, req.name, budget_tokens=ctx.settings.recall_budget_tokens)
    if detail is None:
        return ToolOut(status="not_found", reason=f"NOVA knows no one or nothing called {req.name!r}")
    return ToolOut(status="ok", detail=detail, text=_render_entity(detail))


@router.post("/v1/memory/forget", response_model=ToolOut, dependencies=[Depends(authorised)])
def memory_forget(req: MemoryForgetIn, ctx: ServiceContext = Depends(service)) -> ToolOut:
    """Forget one memory of the calling agent (audited as via ``tool`` with the session key); the
    agent's held profiles and precomputed recalls are dropped so no later turn shows it."""
    agent, skipped = _skipped(req, ctx)
    if skipped is not None:
        return skipped
    ref = MemoryRef.parse(req.ref)
    try:
        with ctx.rt.store.connection() as conn:
            gone = forget_memory(conn, ctx.rt.embedder, agent, ref, via="tool", session_key=req.session_key)
    except MemoryBusy as e:  # a rebuild holds the agent: answer now rather than hold a pooled connection
        return ToolOut(status="busy", reason=str(e))
    if gone is None:
        return ToolOut(status="not_found", reason=f"this agent has no {ref}")
    ctx.recalls.drop_agent(agent)
    return ToolOut(status="forgotten", detail={"ref": str(ref), "rules": gone.rules},
                   text=f"Forgotten: {ref} ({gone.text[:200]}). It will not be remembered again from the same"
                        " conversation; the operator can restore it.")


@router.post("/v1/memory/remember", response_model=ToolOut, dependencies=[Depends(authorised)])
def memory_remember(req: MemoryRememberIn, ctx: ServiceContext = Depends(service)) -> ToolOut:
    """Log ``text`` as the user's own words in this session, now, and queue its extraction (the
    ``/remember`` command: nova-recall's hooks/nova-recall-plugin/commands.js). Catch-up later finds the
    command's transcript entry, reads ``/remember <text>`` as ``<text>`` and adopts this live entry, so
    its provenance is the command's own entry. Refused (``skipped``) in a session the filters exclude
    and in a sub-agent's, whatever the filters say: a sub-agent's words are not the user's. A text the
    user already said in this session is not stored twice. ``detail``: ``{"entryId"}`` when logged."""
    agent, skipped = _skipped(req, ctx)
    if skipped is not None:
        return skipped
    if ":subagent:" in req.session_key:
        return ToolOut(status="skipped", reason="a sub-agent's session: only the user's own words are remembered")
    text = ctx.redactor(message_text(req.text))  # as the entry log stores it (nova.ingest.live)
    if not text:  # only an envelope or an injected memory block
        return ToolOut(status="skipped", reason="nothing to remember: the text holds no words of the user's")
    with ctx.rt.store.connection() as conn:  # said before in this session (live or from the transcript)
        known = conn.execute("SELECT 1 FROM entries WHERE agent_id = %s AND session_key = %s AND role = 'user'"
                             " AND text = %s LIMIT 1", (agent, req.session_key, text)).fetchone()
    if known:
        return ToolOut(status="remembered", text=f"NOVA already has this: {text}")
    logged = ctx.log_message(agent, MessageIn(sessionKey=req.session_key, agentId=agent, content=text))
    if logged.status == "queued":
        return ToolOut(status="remembered", detail={"entryId": logged.entryId}, text=f"NOVA will remember: {text}")
    if logged.status == "duplicate":
        return ToolOut(status="remembered", text=f"NOVA already has this: {text}")
    if logged.status == "busy":
        return ToolOut(status="busy", reason=logged.reason)
    return ToolOut(status="skipped", reason=logged.reason)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _citation(sources: list[dict]) -> str:
    """``agent:main:main 2024-05-08 · nova:entry:<session_id>/<entry_id>`` for the first entry, ``+N`` more."""
    if not sources:
        return ""
    first = sources[0]
    when = (first["occurred_at"] or "")[:10]
    more = f" (+{len(sources) - 1} more)" if len(sources) > 1 else ""
    return f"{first['session_key']} {when} · nova:entry:{first['session_id']}/{first['entry_id']}{more}".replace("  ", " ")


def _render_search(query: str, results: list[dict]) -> str:
    if not results:
        return f"NOVA has no memories for {query!r}."
    lines = [f"NOVA memories for {query!r} ({len(results)}), best first:"]
    for n, r in enumerate(results, 1):
        lines.append(f"{n}. [{r['ref']}] {r['text']}")
        if r["citation"]:
            lines.append(f"   Source: {r['citation']}")
    return "\n".join(lines)


def _render_detail(detail: dict) -> str:
    if "entries" in detail:
        return "\n".join(f"[{e['occurred_at'] or ''}] {e['speaker']}: {e['text']}" for e in detail["entries"])
    lines = [f"[{detail['ref']}] {detail['text']}", "From:"]
    lines += [f"- {e['session_key']} {(e['occurred_at'] or '')[:16]} {e['speaker']}: {e['text']}"
              f" (nova:entry:{e['session_id']}/{e['entry_id']})" for e in detail["sources"]]
    return "\n".join(lines)


def _render_entity(d: dict) -> str:
    others = [a for a in d["aliases"] if a != d["name"]]
    head = f"{d['name']} ({d['kind']}){'; also called ' + ', '.join(others) if others else ''};" \
           f" mentioned {d['mentions']} times, {(d['first_seen'] or '?')[:10]} to {(d['last_seen'] or '?')[:10]}."
    lines = [head] + ([f"Summary: {d['summary']}"] if d["summary"] else [])
    current = [r for r in d["relationships"] if r["current"]]
    past = [r for r in d["relationships"] if not r["current"]]
    if current:
        lines += ["Current:"] + [f"- [{r['ref']}] {r['text']}" for r in current]
    if past:
        lines += ["No longer true (superseded):"] + [f"- [{r['ref']}] {r['text']}" for r in past]
    if d["more"]:
        lines.append(f"({d['more']} more not shown: search with nova_recall and entity={d['name']!r})")
    return "\n".join(lines)
