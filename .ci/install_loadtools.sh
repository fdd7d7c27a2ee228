#!/usr/bin/env bash
# Install the load generators the CLI's benchmark compares against (bench/bench_loadgen.py):
# Debian's wrk (HTTP/1.1) and nghttp2-client (h2load, HTTP/2), when they are missing.
# Run by the benchmark script itself, so a fresh machine needs nothing installed by
# hand. Idempotent; a no-op when both are present. Exits non-zero only when apt fails.
set -euo pipefail
have_wrk() { command -v wrk >/dev/null; }
have_h2load() { command -v h2load >/dev/null; }
if have_wrk && have_h2load; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing wrk and nghttp2-client (apt)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk nghttp2-client >/dev/null
