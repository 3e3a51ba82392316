"""NOVA's OpenClaw hooks and recall plugin (JavaScript), shipped inside the package as ``nova.hooks``.

This file only makes the directory importable as package data; ``nova install-hooks`` copies
the hook directories from it with ``importlib.resources``.
"""
