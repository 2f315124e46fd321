#!/usr/bin/env bash
# Install Debian packages for a tool the project uses, unless the tool is already there.
#   scripts/install-debian-packages.sh PROGRAM PACKAGE...
# PROGRAM is a command name or an absolute path; it is what must exist afterwards.
# Exit 0 when PROGRAM is there afterwards; non-zero (with the reason) when it cannot be:
# not root (the caller is told the apt-get line to run) or no apt-get on this system.
set -euo pipefail

program="$1"; shift
packages=("$@")
name="$(basename "$0" .sh)"

present() {
    if [[ "$program" == /* ]]; then [ -x "$program" ]; else command -v "$program" >/dev/null 2>&1; fi
}

if present; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "$name: not running as root; install it yourself: sudo apt-get install ${packages[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: apt-get not found; install ${packages[*]} with this system's package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be stale or absent on a fresh machine: try without an update first
# (fast when they are current), then update once.
apt-get install -y -qq --no-install-recommends "${packages[@]}" \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; }
present
