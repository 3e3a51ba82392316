"""What the benchmark scripts share."""

from __future__ import annotations

__all__ = ["percentile"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..1 (0.95 for p95); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
