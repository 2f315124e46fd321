#!/usr/bin/env bash
# Install Debian's wrk, the HTTP load generator the ingest benchmark prefers (bench/loadgen.py).
# Without it the benchmark falls back to a Python client that takes CPU from the server it
# measures on the same cores, and says so. Nothing in the tests needs wrk.
# Exit 0 when wrk is there afterwards; non-zero (with the reason) when it cannot be.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-wrk: not running as root; install it yourself: sudo apt-get install wrk" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-wrk: apt-get not found; install wrk with this system's package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v wrk >/dev/null
