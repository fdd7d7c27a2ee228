#!/usr/bin/env bash
# Install Debian's dante-server (danted, the SOCKS 4/4a/5 proxy of the SOCKS
# tests: tests/servers/dante.py starts it with its own configuration on a
# loopback port) when it is missing, and the system user its username method
# checks (dante's `socksmethod: username` looks users up in the system's
# password database, RFC 1929 user name and password against /etc/shadow).
# Used by .ci/run, so a fresh machine needs nothing installed by hand.
# Idempotent: a no-op when both are present. Exits non-zero only when apt or
# useradd fails.
#
# The user is a test fixture, not an account: a system user with no home, no
# login shell, and an account expired since 1970 (nothing that goes through
# PAM, such as a login, accepts it; dante reads the password hash only). Its
# password is fixed and public (tests/servers/dante.py: SOCKS_PASSWORD).
set -euo pipefail
SOCKS_USER="hyperhttp-socks"
SOCKS_PASSWORD="hyperhttp-socks-test"
have_dante() { command -v danted >/dev/null || [ -x /usr/sbin/danted ]; }
have_user() { getent passwd "$SOCKS_USER" >/dev/null; }
if have_dante && have_user; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! have_dante; then
    echo "installing dante-server (apt)" >&2
    $SUDO apt-get update -qq
    # The package's own service (and /etc/danted.conf) is not used: the tests
    # run danted themselves, with their own configuration.
    DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends dante-server >/dev/null
fi
if ! have_user; then
    echo "creating the SOCKS test user $SOCKS_USER (no home, no shell, expired)" >&2
    nologin="$(command -v nologin || echo /usr/sbin/nologin)"
    $SUDO useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" "$SOCKS_USER"
    echo "$SOCKS_USER:$SOCKS_PASSWORD" | $SUDO chpasswd
    # (useradd's own --expiredate is not applied to system users here; chage is.)
    $SUDO chage --expiredate 1 "$SOCKS_USER"
fi
