#!/usr/bin/env bash
# Create .venv at the repo root and install NOVA with its test extras.
# torch is pinned to 2.13.0, the CPU build: an unpinned torch pulls a multi-GB CUDA build.
# Re-running is cheap: nothing is reinstalled unless pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.nova-install-stamp
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/nova ]; then
  exit 0
fi
echo "nova: installing into .venv (first run takes a few minutes)" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq torch==2.13.0
.venv/bin/python -m pip install -qq -e ".[test]"
echo "$want" > "$stamp"
