#!/usr/bin/env bash
# Install what the tests need, then run them against an embedded PostgreSQL and the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install-browser.sh
exec .venv/bin/python -m pytest "$@"
