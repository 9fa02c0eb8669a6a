#!/usr/bin/env bash
# Install (from Debian's packages, if missing) the headless browser the browser tests drive:
# chromium and its WebDriver, chromium-driver (same version, so Selenium never downloads a driver).
# Prints their versions.
set -euo pipefail
CHROMIUM=${KIMIA_CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${KIMIA_CHROMEDRIVER:-/usr/bin/chromedriver}

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
  if [ "$(id -u)" != 0 ]; then echo "chromium or chromium-driver is not installed and this is not root" >&2; exit 1; fi
  echo "installing chromium and chromium-driver from Debian's packages..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
fi
# chromium's wrapper script prints a shell warning on some hosts; keep only the version line.
echo "   $("$CHROMIUM" --version 2>/dev/null | head -n1)"
echo "   $("$CHROMEDRIVER" --version 2>/dev/null | head -n1)"
