"""The static embedding tier: a model2vec model distilled from the dense model, for the ingest transaction.

A static model is one vector per token, averaged: no transformer runs at encode time, so it embeds
4,000-40,000 texts/s on two cores where all-MiniLM-L6-v2 embeds about 100. Every memory gets a static
vector in the transaction that writes it, so it is searchable by meaning the moment it commits;
the dense model's vectors are filled in behind (``nova.memory.dense_fill``), and recall fuses the
two vector paths by rank (RRF needs no calibration between the two spaces).

The model is distilled once from the configured sentence-transformers model (``model2vec.distill``:
each vocabulary token through the dense model, PCA to ``PCA_DIMS``, Zipf/SIF weights, float16), offline,
in 30-60 s on two cores, and cached under ``$NOVA_HOME/models/``; ``NOVA_STATIC_MODEL`` names a
model2vec model directory instead. ``name`` records which model made a store's static vectors
(its weights' sha256), so vectors of two static models are never compared.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import threading
import time
from functools import cached_property
from pathlib import Path

import numpy as np

from nova.memory.embed import EmbeddingError, model_path

__all__ = ["StaticEmbedder", "configured_static_embedder", "distilled_model_dir", "PCA_DIMS"]

log = logging.getLogger(__name__)

# model2vec's default: 256 principal components of MiniLM's 384 keep its retrieval quality (the
# model2vec paper's ablation) at two thirds of the index size.
PCA_DIMS = 256
_PROVENANCE = "nova-distill.json"


def distilled_model_dir(home: Path, dense_model: str) -> Path:
    """Where the static model distilled from ``dense_model`` is cached: ``<home>/models/static-<slug>-pca<N>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", dense_model).strip("-")[:80]
    return home / "models" / f"static-{slug}-pca{PCA_DIMS}"


def configured_static_embedder(settings) -> "StaticEmbedder":
    """The static tier ``settings`` name: ``static_model`` as given, else the model distilled from
    ``embedding_model`` into ``distilled_model_dir`` (on first use)."""
    if settings.static_model is not None:
        return StaticEmbedder(settings.static_model.expanduser())
    return StaticEmbedder(distilled_model_dir(settings.home, settings.embedding_model),
                          distill_from=settings.embedding_model)


class StaticEmbedder:
    """model2vec embeddings, L2-normalised float32 arrays of shape (n, dim).

    ``model_dir``: a model2vec model (``config.json``, ``model.safetensors``, ``tokenizer.json``).
    When it does not exist and ``distill_from`` names a sentence-transformers model, the model is
    distilled into it on first use (one process at a time: a lock file beside it).
    """

    def __init__(self, model_dir: Path, distill_from: str | None = None):
        self.model_dir = Path(model_dir)
        self.distill_from = distill_from
        self._lock = threading.Lock()  # HF fast tokenizers are not safe from two threads at once

    @property
    def present(self) -> bool:
        """Whether the model is on disk (without loading or distilling it)."""
        return (self.model_dir / "model.safetensors").exists()

    @cached_property
    def _model(self):
        if not self.present:
            if self.distill_from is None:
                raise EmbeddingError(f"no model2vec model in {self.model_dir} (NOVA_STATIC_MODEL): expected"
                                     " config.json, model.safetensors and tokenizer.json there")
            _distill(self.distill_from, self.model_dir)
        from model2vec import StaticModel

        try:
            return StaticModel.from_pretrained(str(self.model_dir), normalize=True)
        except Exception as err:
            raise EmbeddingError(f"cannot load the static model in {self.model_dir}: {err}") from err

    @cached_property
    def name(self) -> str:
        """``static:<sha256 of the weights, 16 hex>``: which model made a static vector."""
        self._model
        digest = hashlib.sha256((self.model_dir / "model.safetensors").read_bytes()).hexdigest()
        return f"static:{digest[:16]}"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(texts, show_progress_bar=False, use_multiprocessing=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def _distill(dense_model: str, dest: Path) -> None:
    """Distill ``dense_model`` into ``dest`` (atomically: a finished model or none), recording how."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process distilling the same model: wait for it
        if (dest / "model.safetensors").exists():
            return
        log.info("first run: distilling the static embedding model from %s into %s (once, 30-60 s)", dense_model, dest)
        started = time.monotonic()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import model2vec
        from model2vec.distill import distill

        source = model_path(dense_model)
        try:
            # model2vec draws a progress bar per token batch on stderr; NOVA logs the start and the end.
            with contextlib.redirect_stderr(io.StringIO()):
                model = distill(model_name=source, pca_dims=PCA_DIMS, device="cpu")
        except Exception as err:
            raise EmbeddingError(f"cannot distill a static model from {dense_model!r}: {err}. Set"
                                 " NOVA_STATIC_MODEL to a model2vec model directory, or"
                                 " NOVA_EMBEDDING_TIERS=dense to use the dense model alone") from err
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(str(partial))
        digest = hashlib.sha256((partial / "model.safetensors").read_bytes()).hexdigest()
        (partial / _PROVENANCE).write_text(json.dumps({
            "distilled_from": dense_model, "source_path": source, "model2vec": model2vec.__version__,
            "pca_dims": PCA_DIMS, "sha256": digest, "seconds": round(time.monotonic() - started, 1),
            "distilled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, indent=2) + "\n")
        partial.rename(dest)
        log.info("static model ready in %.0f s (sha256 %s)", time.monotonic() - started, digest[:16])
