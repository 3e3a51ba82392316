"""The layer contract of docs/architecture.md, checked with import-linter ([tool.importlinter] in
pyproject.toml): the package keeps it, and an import that breaks it fails with a message naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    # --no-cache: a copied tree must not be judged by the repo's cached import graph.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layer_contract():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_import_against_the_layers_fails_and_is_named(tmp_path):
    """A copy of the package where recall imports catch-up (a sibling stage) and the store imports
    recall (upward): both are reported, with the importing module and line."""
    shutil.copytree(ROOT / "nova", tmp_path / "nova", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    profile = tmp_path / "nova" / "recall" / "profile.py"
    profile.write_text(profile.read_text() + "\nfrom nova.ingest.catchup import run_catchup  # noqa\n")
    locks = tmp_path / "nova" / "store" / "locks.py"
    locks.write_text(locks.read_text() + "\nimport nova.recall.search  # noqa\n")

    done = _lint(tmp_path)

    assert done.returncode != 0
    assert "nova.recall is not allowed to import nova.ingest" in done.stdout
    assert "nova.recall.profile -> nova.ingest.catchup" in done.stdout
    assert "nova.store.locks -> nova.recall.search" in done.stdout
