#!/usr/bin/env bash
# Install Debian's chromium, which the admin console's browser test drives through
# Playwright (tests/e2e/test_admin_browser.py). Playwright's own browser download is not
# used: it fetches a build from outside the package registries, which may be unreachable.
# fonts-liberation is only recommended, but without it pages render as boxes in screenshots.
exec bash "$(dirname "$0")/install-debian-packages.sh" /usr/bin/chromium chromium fonts-liberation
