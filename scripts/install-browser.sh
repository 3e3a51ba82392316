#!/usr/bin/env bash
# Chromium from Debian for the browser test (tests/test_ui.py), which drives it with Playwright;
# Playwright's own browser download is never used (it cannot reach its host from here).
# Needs root (CI and these machines run as root) or an operator who installs `chromium` first.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "nova: the browser test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)" >&2
  exit 0  # the test then fails and says so; the rest of the suite still runs
fi
echo "nova: installing Chromium from Debian for the browser test (once, about a minute)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
