#!/usr/bin/env bash
# Install Debian's nginx (nginx-light) and its echo module (echo_sleep: the
# workloads benchmark's service time) when they are missing. Used by .ci/run
# for the tests and by the benchmark scripts (pyproject.toml, bench env), so a
# fresh machine needs nothing installed by hand. Idempotent; a no-op when both
# are present. Exits non-zero only when apt fails.
set -euo pipefail
have_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }
have_echo() { ls /usr/lib/nginx/modules/ngx_http_echo_module.so >/dev/null 2>&1; }
if have_nginx && have_echo; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing nginx-light and libnginx-mod-http-echo (apt)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light libnginx-mod-http-echo >/dev/null
