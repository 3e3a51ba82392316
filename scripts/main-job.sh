#!/usr/bin/env bash
# NOVA's main job: catch up an OpenClaw state directory into the store, then print a few
# recall queries per agent with their provenance.
#
#   scripts/main-job.sh [STATE_DIR]
#
# STATE_DIR defaults to $OPENCLAW_STATE_DIR, else ~/.openclaw when it exists, else the sample
# in examples/openclaw-state. The store is $NOVA_DATABASE_URL, else an embedded PostgreSQL
# under $NOVA_HOME (default ~/.local/share/nova). Run it again: it reports nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ $# -ge 1 ]; then
  state=$1
elif [ -n "${OPENCLAW_STATE_DIR:-}" ]; then
  state=$OPENCLAW_STATE_DIR
elif [ -d "$HOME/.openclaw/agents" ]; then
  state=$HOME/.openclaw
else
  state=examples/openclaw-state
fi
[ -d "$state" ] || { echo "main-job: no such directory: $state" >&2; exit 2; }
.venv/bin/nova catchup --openclaw-dir "$state"
echo
queries=$(mktemp -d)
trap 'rm -rf "$queries"' EXIT
.venv/bin/python scripts/demo_queries.py "$state" "$queries"
for f in "$queries"/*.jsonl; do
  agent=$(basename "$f" .jsonl)
  echo "=== recall for agent $agent"
  .venv/bin/nova recall --agent "$agent" --queries "$f" --budget-tokens 400 --limit 6
done
