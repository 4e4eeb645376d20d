#!/usr/bin/env bash
# Debian packages the tests and the gate use: chromium (dashboard browser test, kaleido PNG
# export) and valgrind (the gate's instruction counts, bench/REGRESS.md). Installs the
# missing ones when we may (root + apt); otherwise says so once: those parts skip.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages ${missing[*]}..."
  (apt-get update -qq || true) >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} not installed and cannot install here; browser tests and the" \
       "gate's instruction counts skip without them" >&2
fi
