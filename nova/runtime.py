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
        if self._embedder is None:
            from nova.memory.embed import Embedder
            from nova.store.migrations import ensure_vector_indexes

            self._embedder = Embedder(self.settings.embedding_model, self.settings.embedding_batch_size)
            with self.store.connection() as conn:
                ensure_vector_indexes(conn, self.settings.embedding_model, self._embedder.dim)
        return self._embedder

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
        from nova.memory.embed import Embedder

        return self._new_projector(Embedder(self.settings.embedding_model, self.settings.embedding_batch_size))

    def _new_projector(self, embedder):
        from nova.memory.spacy_extractor import SpacyExtractor
        from nova.memory.projection import Projector

        return Projector(SpacyExtractor(self.settings.spacy_model), embedder)

    def close(self) -> None:
        self.store.close()


class _LazyProjector:
    def __init__(self, runtime: Runtime):
        self._runtime = runtime

    def prepare(self) -> None:
        """Load the models now. Callers do this before opening a transaction: loading the embedder
        may create vector indexes, which must not wait on locks the caller's transaction holds."""
        self._runtime.projector

    def project(self, conn, agent_id: str, entries: list):
        if not entries:
            from nova.memory.projection import ProjectionStats

            return ProjectionStats()
        return self._runtime.projector.project(conn, agent_id, entries)
