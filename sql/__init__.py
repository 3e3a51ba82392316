"""NOVA's SQL migrations (``NNN_name.sql``), shipped inside the package as ``nova.sql``.

This file only makes the directory importable as package data; ``nova.store`` reads the
migrations with ``importlib.resources``.
"""
