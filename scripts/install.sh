#!/usr/bin/env bash
# Create .venv at the repo root with the locked, tested versions (requirements-test.lock: NOVA's
# dependencies and its test extras, sha256-checked, torch 2.13.0 CPU build) and NOVA itself
# installed editable on top. Regenerate the lock with scripts/lock.sh.
# Re-running is cheap: nothing is reinstalled unless pyproject.toml, the lock or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.nova-install-stamp
want=$(cat pyproject.toml requirements-test.lock scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/nova ]; then
  exit 0
fi
echo "nova: installing into .venv (first run takes a few minutes)" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -qq --require-hashes -r requirements-test.lock
# The lock holds setuptools, the build backend, so the editable build needs nothing unpinned.
.venv/bin/python -m pip install -qq --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
