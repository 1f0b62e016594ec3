#!/usr/bin/env bash
# The browser test drives Debian's Chromium through playwright-core (no browser download).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium is missing: sudo apt-get install chromium (the browser test needs /usr/bin/chromium)" >&2
  exit 1
fi
