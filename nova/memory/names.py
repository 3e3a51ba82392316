"""How names compare: one normalised key per name, used by entity resolution, recall (names in a query,
speakers left out of full text) and the session profile."""

from __future__ import annotations

import re

__all__ = ["normalize_name"]


def normalize_name(name: str) -> str:
    """Case- and punctuation-insensitive key for a name: "Melanie's" → "melanie"."""
    n = name.strip().lower()
    n = re.sub(r"['’]s$", "", n)
    n = re.sub(r"^(the|a|an|my|our|your)\s+", "", n)
    n = re.sub(r"[^\w\s@#./:-]", "", n)
    return re.sub(r"\s+", " ", n).strip()
