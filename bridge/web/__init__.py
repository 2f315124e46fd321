"""The web process's front door: webhook ingest, health probes, `/metrics`, request logs, HTTP hardening."""
