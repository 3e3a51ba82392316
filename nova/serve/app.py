"""``nova serve``: the resident service the OpenClaw hooks call (HTTP + JSON, OpenAPI at /openapi.json).

It owns what is slow to load (the embedding model, spaCy) and the database pool, so a hook
costs one local round trip instead of a Python start-up. This module builds the ASGI app: the
``ServiceContext`` (nova.serve.context), the routes (nova.serve.routes and nova.serve.memory_routes,
listed there), the
arrival middleware, the 503 for an unreachable database, and start-up (model load, prewarm, the
ingest worker). ``nova.serve.server`` runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from nova.memory.speakers import Speakers
from nova.recall.profile import build_profile
from nova.recall.search import recall
from nova.runtime import Runtime
from nova.serve.context import ServiceContext
from nova.serve.middleware import NoteArrival
from nova.serve.models import ERRORS
from nova.serve.memory_routes import router as memory_router
from nova.serve.routes import router
from nova.serve.worker import load_worker_projector
from nova.store.connection import prewarm_for_recall

__all__ = ["create_app", "warm_request_paths"]

log = logging.getLogger("nova.service")


def create_app(rt: Runtime, *, token: str | None = None, start_worker: bool = True,
               worker_projector=None) -> FastAPI:
    """The service's ASGI app. ``token``: require ``Authorization: Bearer <token>`` (TCP mode).

    ``worker_projector``: what the ingest worker extracts with (default: its own model copy).
    """
    ctx = ServiceContext(rt, token)
    worker = ctx.worker

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
        responses=ERRORS,
    )
    app.state.nova = ctx

    app.add_middleware(NoteArrival, activity=ctx.activity, token=token)
    app.include_router(router)
    app.include_router(memory_router)

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
