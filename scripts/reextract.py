#!/usr/bin/env python3
"""Re-extraction from the entry log: the same as `nova reextract` (see --help).

    .venv/bin/python scripts/reextract.py --agent main --since 2026-05-01 --dry-run
"""

from nova.cli import app

if __name__ == "__main__":
    app(["reextract", *__import__("sys").argv[1:]], prog_name="reextract.py")
