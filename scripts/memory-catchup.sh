#!/usr/bin/env bash
# One-shot catch-up for system cron or a systemd timer (docs/operations.md):
#
#   */5 * * * *  /opt/nova/scripts/memory-catchup.sh
#
# - Reads an optional env file first: $NOVA_ENV_FILE, else $NOVA_HOME/nova.env, else
#   ~/.config/nova/nova.env (KEY=value lines: NOVA_DATABASE_URL, OPENCLAW_STATE_DIR, ...).
# - Never runs twice at once on this host (flock on $NOVA_HOME/catchup.lock); runs on several
#   hosts sharing one database skip the agents another run holds (PostgreSQL advisory locks).
# - Logs to $NOVA_HOME/logs/catchup.log, rotated at 5 MB (5 kept); errors also go to stderr,
#   which cron mails.
# - Exit codes: 0 done, 3 nothing new, 4 busy (another run holds the lock), 2 error.
#   Any other code is an unexpected failure (also logged).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

for f in "${NOVA_ENV_FILE:-}" "${NOVA_HOME:-}/nova.env" "$HOME/.config/nova/nova.env"; do
  if [ -n "$f" ] && [ -f "$f" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$f" || { echo "memory-catchup: cannot read env file $f" >&2; exit 2; }
    set +a
    break
  fi
done
if [ -n "${NOVA_ENV_FILE:-}" ] && [ ! -f "$NOVA_ENV_FILE" ]; then
  echo "memory-catchup: NOVA_ENV_FILE=$NOVA_ENV_FILE does not exist" >&2
  exit 2
fi

export NOVA_HOME="${NOVA_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/nova}"
nova="${NOVA_BIN:-$here/../.venv/bin/nova}"
[ -x "$nova" ] || nova="$(command -v nova || true)"
if [ -z "$nova" ]; then
  echo "memory-catchup: nova not found (run scripts/install.sh or set NOVA_BIN)" >&2
  exit 2
fi
mkdir -p "$NOVA_HOME/logs" || exit 2
log="$NOVA_HOME/logs/catchup.log"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

exec 9>>"$NOVA_HOME/catchup.lock" || exit 2
if ! flock -n 9; then
  echo "$(stamp) $$ INFO memory-catchup: busy, another catch-up holds $NOVA_HOME/catchup.lock" >>"$log"
  exit 4
fi

"$nova" catchup --cron --log-file "$log" "$@" 2> >(tee -a "$log" >&2)
rc=$?
case $rc in
  0) outcome=done ;;
  3) outcome="nothing new" ;;
  4) outcome="busy (other host)" ;;
  *) outcome="error"; echo "$(stamp) $$ ERROR memory-catchup: nova catchup exited $rc" >>"$log" ;;
esac
echo "$(stamp) $$ INFO memory-catchup: $outcome (exit $rc)" >>"$log"
exit $rc
