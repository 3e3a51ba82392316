"""What a command or script needs: settings, the store, and (lazily) the models.

Models load on first use: ``nova status`` never pays for torch, ``nova recall`` never loads spaCy.
"""

from __future__ import annotations

from nova.config import Settings

__all__ = ["Runtime"]


class Runtime:
    """What a command needs: settings, the store, and (lazily) the models."""

    def __init__(self, settings: Settings, *, migrate: bool = True):
        from nova.store.connection import open_store

        self.settings = settings
        self.store = open_store(settings, migrate=migrate)
        self._embedder = None
        self._projector = None
        self._redactor = None

    @property
    def redactor(self):
        """The secret redactor for the configured patterns (``nova.memory.redact``)."""
        if self._redactor is None:
            from nova.memory.redact import Redactor

            self._redactor = Redactor(self.settings.redaction)
        return self._redactor

    @property
    def embedder(self):
        """The dense model, with the static tier beside it (``embedding_tiers``); loaded, and the store's
        vector indexes made for both, on first use."""
        if self._embedder is None:
            from nova.store.migrations import ensure_static_indexes, ensure_vector_indexes

            embedder = self._new_embedder()
            with self.store.connection() as conn:
                ensure_vector_indexes(conn, self.settings.embedding_model, embedder.dim)
                if embedder.static is not None:
                    ensure_static_indexes(conn, embedder.static.name, embedder.static.dim)
            self._embedder = embedder
        return self._embedder

    def _new_embedder(self, static=None):
        """A dense model instance of its own; the static tier ``static`` (shared: it holds no state
        but its weights), else loaded here when ``embedding_tiers`` has it."""
        from nova.memory.embed import Embedder

        if static is None and self.settings.embedding_tiers == "static+dense":
            from nova.memory.static_embed import configured_static_embedder

            static = configured_static_embedder(self.settings)
        return Embedder(self.settings.embedding_model, self.settings.embedding_batch_size, static=static)

    @property
    def projector(self):
        if self._projector is None:
            self._projector = self._new_projector(self.embedder)
        return self._projector

    def lazy_projector(self):
        """A projector that loads the models only when it is first given entries (a no-op catch-up never does)."""
        return _LazyProjector(self)

    def background_projector(self):
        """A projector with a model copy of its own, for a background thread.

        Extraction batches then never hold the embedder that per-request recall uses
        (encoding is serialised per model instance), so a busy ingest does not stall recall.
        """
        return self._new_projector(self._new_embedder(static=self.embedder.static))

    def _new_projector(self, embedder):
        from nova.memory.spacy_extractor import SpacyExtractor
        from nova.memory.projection import Projector

        return Projector(SpacyExtractor(self.settings.spacy_model), embedder)

    def fill_dense(self, agents: list[str] | None = None, progress=None, stop=None, on_total=None,
                   max_rows: int | None = None):
        """The dense pass (``nova.memory.dense_fill``) over ``agents`` (default: all) until nothing is
        pending, after the static vectors the store lacks (``static_fill``); loads the models only when
        something is pending. ``on_total(n)``: the rows pending at the start, ``progress(n)``: rows done.
        ``max_rows``: stop after about this many dense vectors (a batch at a time, for a watcher).
        Returns the ``FillStats``, or None when nothing was pending."""
        from nova.memory.dense_fill import FillStats, fill_static, fill_vectors, pending_dense, static_fill_pending

        with self.store.connection() as conn:
            with conn.transaction():
                pending = {a: n for a, n in pending_dense(conn).items() if agents is None or a in agents}
            static = self.settings.embedding_tiers == "static+dense" and static_fill_pending(conn)
        if not pending and not static:
            return None
        embedder = self.embedder
        if on_total is not None:
            on_total(sum(pending.values()))
        total = FillStats()
        with self.store.connection() as conn:
            if static:
                total.merge(fill_static(conn, embedder, stop=stop))
            for agent in sorted(pending):
                left = None if max_rows is None else max_rows - total.dense
                if (stop is not None and stop()) or (left is not None and left <= 0):
                    break
                total.merge(fill_vectors(conn, embedder, agent_id=agent, batch=self.settings.dense_fill_batch,
                                         max_rows=left, progress=progress, stop=stop))
        return total

    def close(self) -> None:
        self.store.close()


class _LazyProjector:
    def __init__(self, runtime: Runtime):
        self._runtime = runtime

    def prepare(self) -> None:
        """Load the models now. Callers do this before opening a transaction: loading the embedder
        may create vector indexes, which must not wait on locks the caller's transaction holds."""
        self._runtime.projector

    @property
    def extractor(self):
        """The extractor (the models load now)."""
        return self._runtime.projector.extractor

    def project(self, conn, agent_id: str, entries: list, ahead=None, *, in_order: bool = False):
        if not entries:
            from nova.memory.projection import ProjectionStats

            return ProjectionStats()
        return self._runtime.projector.project(conn, agent_id, entries, ahead, in_order=in_order)
