#!/usr/bin/env bash
# Install Debian's chromium, which the admin console's browser test drives through
# Playwright (tests/e2e/test_admin_browser.py). Playwright's own browser download is not
# used: it fetches a build from outside the package registries, which may be unreachable.
# Exit 0 when chromium is there afterwards; non-zero (with the reason) when it cannot be.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: not running as root; install it yourself: sudo apt-get install chromium" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install Chromium with this system's package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-liberation is only recommended, but without it pages render as boxes in screenshots.
apt-get install -y -qq --no-install-recommends chromium fonts-liberation
test -x /usr/bin/chromium
