#!/usr/bin/env bash
# Install Node 24 and the pinned real OpenClaw from npm into a cache dir, once; print the dir.
# Used by tests/test_e2e_openclaw.py and bench/bench_hooks.py. OpenClaw 2026.9.6 needs
# Node >= 24.16; the machine's Node may be older, so Node itself comes from npm (package "node").
# Cache: $NOVA_E2E_CACHE (default ~/.cache/nova-e2e). About 800 MB and a minute or two the first time.
set -euo pipefail
OPENCLAW_VERSION=${OPENCLAW_VERSION:-2026.9.6}
dir="${NOVA_E2E_CACHE:-$HOME/.cache/nova-e2e}/openclaw-$OPENCLAW_VERSION"
if [ -f "$dir/.ready" ] && [ -x "$dir/node_modules/.bin/node" ] && [ -f "$dir/node_modules/openclaw/package.json" ]; then
  echo "$dir"
  exit 0
fi
command -v npm >/dev/null || { echo "openclaw-e2e-setup: npm is required (apt-get install npm)" >&2; exit 2; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"nova-openclaw-e2e","private":true}' > package.json
echo "openclaw-e2e-setup: installing node@24 and openclaw@$OPENCLAW_VERSION into $dir" >&2
npm install --no-audit --no-fund --loglevel=error node@24 >&2
# OpenClaw's install scripts check the Node on PATH: put the new one first.
PATH="$dir/node_modules/.bin:$PATH" npm install --no-audit --no-fund --loglevel=error "openclaw@$OPENCLAW_VERSION" >&2
touch .ready
echo "$dir"
