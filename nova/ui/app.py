"""``nova ui``: the local memory browser's pages, for one agent at a time (``/a/<agent>/...``).

Server-rendered HTML (Jinja2 templates in ``nova/ui/templates``, FastAPI routes): every read-only page
works with JavaScript off (details open with ``<details>``, filters are GET forms, pictures are inline
SVG), and nothing is fetched from anywhere but this process. Pages:

- ``search``: the recall the hooks use (same defaults: ``recall_limit`` items, ``recall_budget_tokens``),
  the block the model would read, and per item its explain trace (each path's rank and score, the RRF
  score, why kept) and its provenance (the transcript entries, with a link to each in context);
- ``entry``: one transcript entry among its neighbours, and the memories made from it;
- ``timeline``: episodes by date, filtered by session key and by person;
- ``entities`` and ``entity``: kinds, alias counts; relationships current and superseded
  (``valid_from``/``valid_to``), a graph of the neighbours, merge candidates, aliases to split off;
- ``health``: ``nova status``'s figures, catch-up lag, sampled recall latency per hour, ``nova doctor`` on demand;
- ``audit``: the curation audit.

Writes (forget, merge, split: ``nova.memory.curation``) are POST forms that carry the token
(``nova.ui.auth``); each answers with a redirect to the page that shows its effect.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException

from nova.memory import curation
from nova.memory.forget_one import MemoryBusy, MemoryRef
from nova.recall.block import render_items
from nova.recall.items import RecallTrace
from nova.recall import telemetry
from nova.recall.search import recall
from nova.runtime import Runtime
from nova.ui import svg, views
from nova.ui.auth import BadForm, TokenGate, form_with_token
from nova.ui.jobs import JobRunning, Jobs

__all__ = ["create_app"]

log = logging.getLogger("nova.ui")

_MAX_QUERY_CHARS = 2000
_CUT_SHOWN = 30
# Source entries shown per item: a fact said again and again (each copy of a conversation, each "I love
# painting") carries every entry's provenance; past this the page says how many more there are.
_SOURCES_SHOWN = 10


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("nova.ui", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if isinstance(d, datetime) else "–"
    env.filters["day"] = lambda d: d.strftime("%a %d %b %Y") if isinstance(d, datetime) else "undated"
    env.globals["q"] = lambda s: quote(str(s), safe="")
    return env


def create_app(rt: Runtime, *, token: str, host: str = "127.0.0.1", state_dir: Path | None = None) -> FastAPI:
    """The browser's ASGI app over ``rt``'s store. ``token``: what every request must carry (``nova.ui.auth``);
    ``host``: the address it is served on; ``state_dir``: the OpenClaw state directory the health page
    measures catch-up lag against (None: not shown)."""
    app = FastAPI(title="NOVA memory browser", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(TokenGate(token, host))
    templates = Jinja2Templates(env=_environment())
    filling = threading.Lock()

    def page(request: Request, template: str, code: int = 200, **context) -> HTMLResponse:
        context.setdefault("agent", None)
        return templates.TemplateResponse(request, template, {"token": token, "note": request.query_params.get("note"),
                                                           **context}, status_code=code)

    def known_agent(conn, agent: str) -> None:
        if not views.agent_exists(conn, agent):
            raise HTTPException(404, f"this store has no agent {agent!r}")

    def back_to(agent: str, path: str, note: str) -> RedirectResponse:
        joint = "&" if "?" in path else "?"
        return RedirectResponse(f"/a/{quote(agent, safe='')}{path}{joint}{urlencode({'note': note})}", status_code=303)

    def fill_dense_later(agent: str) -> None:
        """The rebuilt rows have static vectors (searchable now); their dense ones follow in the background."""
        def run() -> None:
            with filling:
                try:
                    rt.fill_dense([agent])
                except Exception:  # the next nova serve / catch-up fills what this missed
                    log.exception("dense vectors after a curation of %s", agent)
        threading.Thread(target=run, name="nova-ui-dense", daemon=True).start()

    def tell_service(agent: str) -> None:
        """The running ``nova serve`` drops what it cached of the agent (profiles, precomputed recalls)."""
        from nova.serve.client import ask_service

        ask_service(rt.settings, "/v1/forgotten", {"agentId": agent}, timeout=2)

    def after_rebuild(agent: str) -> None:
        fill_dense_later(agent)
        tell_service(agent)

    jobs = Jobs(after_rebuild)

    def actor(request: Request) -> str:
        return f"{getpass.getuser()} via ui from {request.client.host if request.client else 'unknown'}"

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return page(request, "error.html", exc.status_code, status=exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        what = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return page(request, "error.html", 422, status=422, detail=f"bad request: {what}")

    @app.exception_handler(BadForm)
    async def bad_form(request: Request, exc: BadForm):
        return page(request, "error.html", exc.status, status=exc.status, detail=exc.detail)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        with rt.store.connection() as conn:
            return page(request, "agents.html", agents=views.agents(conn))

    @app.get("/a/{agent}", response_class=HTMLResponse)
    def agent_home(agent: str):
        return RedirectResponse(f"/a/{quote(agent, safe='')}/search", status_code=303)

    @app.get("/a/{agent}/search", response_class=HTMLResponse)
    def search(request: Request, agent: str, q: str = ""):
        if len(q) > _MAX_QUERY_CHARS:
            raise HTTPException(400, f"a query of at most {_MAX_QUERY_CHARS} characters")
        result = None
        with rt.store.connection() as conn, rt.store.spare_connection() as side:
            known_agent(conn, agent)
            if q.strip():
                trace, started = RecallTrace(), time.perf_counter()
                items = recall(conn, rt.embedder, agent, q, limit=rt.settings.recall_limit,
                               budget_tokens=rt.settings.recall_budget_tokens, trace=trace, side_conn=side)
                took_ms = (time.perf_counter() - started) * 1000
                if telemetry.sampled(rt.settings.telemetry_sample_rate):  # a recall like the service's: sampled the same
                    telemetry.record(conn, agent, "ui", took_ms, trace, items, rt.settings.telemetry_retention_days)
                    conn.commit()
                entries = views.sources(conn, agent, [(s["session_id"], s["entry_id"]) for i in items
                                                      for s in i.sources[:_SOURCES_SHOWN]])
                result = _explained(items, trace, entries, took_ms)
        return page(request, "search.html", agent=agent, tab="search", query=q, result=result)

    @app.get("/a/{agent}/entry/{session_id}/{entry_id}", response_class=HTMLResponse)
    def entry(request: Request, agent: str, session_id: str, entry_id: str):
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            found, around = views.entry_context(conn, agent, session_id, entry_id)
            if found is None:
                raise HTTPException(404, f"agent {agent} has no transcript entry {session_id}/{entry_id}")
            made = views.memories_from_entry(conn, agent, session_id, entry_id)
        return page(request, "entry.html", agent=agent, tab="timeline", entry=found, around=around, made=made)

    @app.get("/a/{agent}/timeline", response_class=HTMLResponse)
    def timeline(request: Request, agent: str, session: str = "", person: str = "", before: str = ""):
        try:
            person_id = int(person) if person else None
        except ValueError:
            raise HTTPException(400, f"person must be an entity id, not {person!r}") from None
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            try:
                got = views.timeline(conn, agent, session_key=session or None, person=person_id, before=before or None)
            except ValueError as e:
                raise HTTPException(400, str(e)) from None
            keys, people = views.timeline_filters(conn, agent)
        more = urlencode({k: v for k, v in (("session", session), ("person", person),
                                            ("before", got.next_before)) if v}) if got.next_before else None
        return page(request, "timeline.html", agent=agent, tab="timeline", episodes=got.episodes, keys=keys,
                    people=people, session=session, person=person_id, more=more)

    @app.get("/a/{agent}/entities", response_class=HTMLResponse)
    def entities(request: Request, agent: str, kind: str = "", name: str = "", page_no: int = 0):
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            rows, more = views.entities(conn, agent, kind=kind or None, name=name or None, page=max(page_no, 0))
            kinds = views.entity_kinds(conn, agent)
        nxt = urlencode({k: v for k, v in (("kind", kind), ("name", name), ("page_no", page_no + 1)) if v}) if more else None
        return page(request, "entities.html", agent=agent, tab="entities", rows=rows, kinds=kinds, kind=kind,
                    name=name, more=nxt)

    @app.get("/a/{agent}/entity/{entity_id}", response_class=HTMLResponse)
    def entity(request: Request, agent: str, entity_id: int):
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            ent = views.entity(conn, agent, entity_id)
            if ent is None:
                raise HTTPException(404, f"agent {agent} has no entity {entity_id}")
            facts = views.relationships_of(conn, agent, entity_id)
            near = views.neighbours(conn, agent, entity_id)
            twins = views.duplicate_candidates(conn, agent, ent)
        graph = svg.neighbour_graph(ent, near, lambda i: f"/a/{quote(agent, safe='')}/entity/{i}")
        return page(request, "entity.html", agent=agent, tab="entities", ent=ent, facts=facts, graph=graph,
                    twins=twins)

    @app.get("/a/{agent}/health", response_class=HTMLResponse)
    def health(request: Request, agent: str, doctor: int = 0):
        from nova.memory.dense_fill import pending_dense
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            figures = views.figures(conn, agent)
            figures["dense_pending"] = pending_dense(conn, agent).get(agent, 0)
            recalls = telemetry.summary(conn, agent)
            chart = svg.latency_chart(views.latency_by_hour(conn, agent))
            lag = _lag(conn, rt, state_dir, agent)
        checks = None
        if doctor and state_dir is not None:
            from nova.doctor import run_checks

            checks = run_checks(rt.settings, state_dir)
        return page(request, "health.html", agent=agent, tab="health", figures=figures, recalls=recalls,
                    chart=chart, lag=lag, checks=checks, state_dir=state_dir)

    @app.get("/a/{agent}/audit", response_class=HTMLResponse)
    def audit(request: Request, agent: str):
        with rt.store.connection() as conn:
            known_agent(conn, agent)
            rows = curation.audit_rows(conn, agent)
        return page(request, "audit.html", agent=agent, tab="audit", rows=rows)

    @app.post("/a/{agent}/forget")
    async def forget(request: Request, agent: str):
        fields = await form_with_token(request, token)
        try:
            ref = MemoryRef.parse(fields.get("ref", ""))
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        try:
            gone = await run_in_threadpool(curation.forget, rt.store, rt.embedder, agent, ref, actor=actor(request))
        except MemoryBusy as e:
            raise HTTPException(409, str(e)) from None
        if gone is None:
            raise HTTPException(404, f"agent {agent} has no {ref}")
        await run_in_threadpool(tell_service, agent)
        back = fields.get("back", "")
        path = back if back.startswith("/search") or back.startswith("/entity/") else "/search"
        return back_to(agent, path, f"Forgot {ref}: it will not be made again, not even by nova reextract."
                       " What it did to other memories (a summary, an older fact it superseded) is re-derived"
                       " by the agent's next catch-up.")

    def start_rebuild(agent: str, action: str, check, work, describe) -> RedirectResponse:
        """Check the input now (a 4xx changes nothing), then rebuild in a job and show its page."""
        with rt.store.connection() as conn:
            try:
                check(conn)
            except LookupError as e:
                raise HTTPException(404, str(e)) from None
            except ValueError as e:
                raise HTTPException(400, str(e)) from None
            total = conn.execute("SELECT count(*) FROM entries WHERE agent_id = %s", (agent,)).fetchone()[0]
        try:
            job = jobs.start(agent, action, total, work, describe)
        except JobRunning as e:
            raise HTTPException(409, f"{e}: wait for it to finish") from None
        return RedirectResponse(f"/a/{quote(agent, safe='')}/job/{job.id}", status_code=303)

    @app.post("/a/{agent}/entity/{entity_id}/merge")
    async def merge(request: Request, agent: str, entity_id: int):
        fields = await form_with_token(request, token)
        try:
            other = int(fields.get("other", ""))
        except ValueError:
            raise HTTPException(400, "other must be the id of the entity to merge into this one") from None
        who = actor(request)
        return await run_in_threadpool(
            start_rebuild, agent, "merge", lambda conn: curation.check_merge(conn, agent, entity_id, other),
            lambda progress: curation.merge_entities(rt.store, rt.projector, agent, entity_id, other, actor=who,
                                                     redactor=rt.redactor, progress=progress),
            lambda done: f"Merged entity {other} into this one and rebuilt {done.entries} entries in"
                         f" {done.seconds:.1f} s; nova reextract keeps the merge.")

    @app.post("/a/{agent}/entity/{entity_id}/split")
    async def split(request: Request, agent: str, entity_id: int):
        fields = await form_with_token(request, token)
        alias = fields.get("alias", "").strip()
        if not alias:
            raise HTTPException(400, "alias: the name to split off is missing")
        who = actor(request)
        return await run_in_threadpool(
            start_rebuild, agent, "split", lambda conn: curation.check_split(conn, agent, entity_id, alias),
            lambda progress: curation.split_alias(rt.store, rt.projector, agent, entity_id, alias, actor=who,
                                                  redactor=rt.redactor, progress=progress),
            lambda done: f"Split {alias!r} off entity {entity_id} into this entity and rebuilt {done.entries}"
                         f" entries in {done.seconds:.1f} s; nova reextract keeps the split.")

    @app.get("/a/{agent}/job/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, agent: str, job_id: str):
        job = jobs.get(agent, job_id)
        if job is None:
            raise HTTPException(404, f"no rebuild {job_id} of agent {agent} in this nova ui")
        if job.state == "done":
            return back_to(agent, f"/entity/{job.entity_id}" if job.entity_id else "/entities", job.note)
        return page(request, "job.html", 409 if job.state == "failed" else 200, agent=agent, tab="entities", job=job,
                    elapsed=time.monotonic() - job.started)

    return app


def _lag(conn, rt: Runtime, state_dir: Path | None, agent: str):
    """Catch-up lag against the OpenClaw state directory (``nova.ingest.catchup.lag``), when it has the agent."""
    if state_dir is None or not (state_dir / "agents" / agent).is_dir():
        return None
    from nova.ingest.catchup import lag

    return lag(conn, rt.settings, state_dir, agent)


def _explained(items, trace: RecallTrace, entries: dict, took_ms: float) -> dict:
    """Recall's result for the search page: per item its ranks on each path, RRF score, why it was kept,
    and its source entries; then what was cut and why."""
    ranks: dict[tuple[str, int], list[tuple[str, int, float]]] = {}
    for path, hits in trace.paths.items():
        for rank, (kind, item_id, score) in enumerate(hits, 1):
            ranks.setdefault((kind, item_id), []).append((path, rank, score))
    fused = {(k, i): (sc, ps) for k, i, sc, ps in trace.fused}
    why = {(k, i): (d, r) for k, i, d, r in trace.decisions}
    shown = []
    for item in items:
        key = (item.kind, item.id)
        shown.append({
            "item": item, "ref": f"{item.kind}:{item.id}", "ranks": ranks.get(key, []),
            "rrf": fused.get(key, (item.score, item.paths))[0], "why": why.get(key, ("kept", ""))[1],
            "sources": [entries.get((s["session_id"], s["entry_id"])) or {"session_id": s["session_id"],
                        "entry_id": s["entry_id"], "text": None} for s in item.sources[:_SOURCES_SHOWN]],
            "sources_total": len(item.sources),
        })
    cut = [{"ref": f"{k}:{i}", "reason": r, "text": trace.texts.get((k, i), ""), "ranks": ranks.get((k, i), [])}
           for k, i, d, r in trace.decisions if d == "cut"][:_CUT_SHOWN]
    return {"items": shown, "block": render_items(items), "cut": cut, "took_ms": took_ms,
            "tokens": sum(i.tokens for i in items), "trace": trace}
