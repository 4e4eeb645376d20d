#!/usr/bin/env bash
# Debian packages the tests use: chromium (dashboard browser test, kaleido PNG export).
# Installs them when missing and we may (root + apt); otherwise says so once: those tests skip.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian package chromium (dashboard browser test)..."
  (apt-get update -qq || true) >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "note: chromium not installed and cannot install it here; browser tests will skip" >&2
fi
