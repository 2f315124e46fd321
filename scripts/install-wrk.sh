#!/usr/bin/env bash
# Install Debian's wrk, the HTTP load generator the ingest benchmark prefers (bench/loadgen.py).
# Without it the benchmark falls back to a Python client that takes CPU from the server it
# measures on the same cores, and says so. Nothing in the tests needs wrk.
exec bash "$(dirname "$0")/install-debian-packages.sh" wrk wrk
