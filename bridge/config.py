"""Settings read from the environment (12-factor), with an optional `.env` file.

Every setting the bridge reads is declared here, once, with its default, so
`app.json` and the README can be checked against one list. Failure policy:
a malformed value (a retry schedule that is not numbers, a port that is not an
integer) raises `ConfigError` naming the variable and the bad value at start-up,
never later at delivery time.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dotenv import load_dotenv

from bridge.alerts.settings import AlertConfigError, AlertSettings
from bridge.okendo.signing_secrets import split_secrets

# Svix's schedule after the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Sized so one web and one worker dyno fit Heroku's smallest PostgreSQL plan (20 connections)
# with room for the release phase and `heroku run` (docs/operations.md, connection budget).
# Two threads deliver about 18 hooks/s at 100 ms per call, above the default pace of 600/min.
DEFAULT_WORKER_THREADS = 2
INSTANCE_DIR = Path(os.environ.get("BRIDGE_INSTANCE_DIR", "instance"))


class ConfigError(ValueError):
    """A setting has a value the bridge cannot use."""


def _split_list(value: str) -> list[str]:
    # BRIDGE_RETRY_SCHEDULE's separators; the secrets list has its own reader (okendo.signing_secrets).
    return [part for part in re.split(r"[\s,]+", value.strip()) if part]


def parse_retry_schedule(value: str | None) -> tuple[float, ...]:
    """`"5,300,1800"` -> (5.0, 300.0, 1800.0); empty -> the Svix-like default."""
    if not value or not value.strip():
        return DEFAULT_RETRY_SCHEDULE
    try:
        delays = tuple(float(part) for part in _split_list(value))
    except ValueError:
        raise ConfigError(
            f"BRIDGE_RETRY_SCHEDULE={value!r}: expected seconds separated by commas, e.g. 5,300,1800"
        ) from None
    if any(d < 0 for d in delays):
        raise ConfigError(f"BRIDGE_RETRY_SCHEDULE={value!r}: delays cannot be negative")
    return delays


def normalize_database_url(url: str) -> str:
    """Accept the URLs Heroku hands out and pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


MAPPING_SOURCES = ("database", "file")


def parse_mapping_source(value: str | None) -> str:
    source = (value or "database").strip().lower()
    if source not in MAPPING_SOURCES:
        raise ConfigError(f"BRIDGE_MAPPING_SOURCE={value!r}: expected database or file")
    return source


def default_database_url() -> str:
    return f"sqlite:///{(INSTANCE_DIR / 'bridge.db').resolve()}"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None


@dataclass(frozen=True)
class Settings:
    database_url: str
    queue_url: str | None
    webhook_secrets: tuple[str, ...]
    # No kustomer_api_key, no kustomer_api_base: both can be entered in the console, so their
    # one reader is the mapping's default target, built from the live settings
    # (bridge.mapping.model.default_kustomer_target).
    mapping_path: str
    retry_schedule: tuple[float, ...]
    max_body_bytes: int
    kustomer_requests_per_minute: int
    kustomer_max_attempts: int
    kustomer_max_wait: float
    worker_threads: int
    sweep_interval: float
    stale_after: float
    lease_seconds: float
    # Days the bodies and attempts of delivered/skipped events are kept (0: forever); bridge.delivery.retention.
    retention_days: float
    admin_username: str | None
    admin_password: str | None
    secret_key: str | None
    port: int
    environment: str
    body_read_seconds: float = 10.0
    raw: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Where the live mapping comes from: "database" (versions, edited in the console) or
    # "file" (BRIDGE_MAPPING hot-reloaded, for a mapping kept in git). See bridge/mapping/source.py.
    mapping_source: str = "database"
    public_url: str | None = None  # BRIDGE_PUBLIC_URL: what the setup page subscribes in Okendo
    alerts: "AlertSettings" = field(default_factory=lambda: _alert_settings({}), repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        secrets = split_secrets(env.get("OKENDO_WEBHOOK_SECRET"))
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL") or default_database_url()),
            queue_url=env.get("QUEUE_URL") or env.get("REDIS_URL") or None,
            webhook_secrets=secrets,
            mapping_path=env.get("BRIDGE_MAPPING") or "config/mapping.yaml",
            retry_schedule=parse_retry_schedule(env.get("BRIDGE_RETRY_SCHEDULE")),
            max_body_bytes=_int(env, "BRIDGE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            kustomer_requests_per_minute=_int(env, "KUSTOMER_REQUESTS_PER_MINUTE", 600),
            kustomer_max_attempts=_int(env, "KUSTOMER_MAX_ATTEMPTS", 4),
            kustomer_max_wait=_float(env, "KUSTOMER_MAX_WAIT", 30.0),
            worker_threads=_int(env, "BRIDGE_WORKER_THREADS", DEFAULT_WORKER_THREADS),
            sweep_interval=_float(env, "BRIDGE_SWEEP_INTERVAL", 30.0),
            stale_after=_float(env, "BRIDGE_STALE_AFTER", 60.0),
            lease_seconds=_float(env, "BRIDGE_LEASE_SECONDS", 120.0),
            retention_days=_float(env, "BRIDGE_RETENTION_DAYS", 30.0),
            admin_username=env.get("ADMIN_USERNAME") or None,
            admin_password=env.get("ADMIN_PASSWORD") or None,
            secret_key=env.get("SECRET_KEY") or None,
            port=_int(env, "PORT", 8000),
            environment=env.get("BRIDGE_ENV", "production"),
            body_read_seconds=_float(env, "BRIDGE_BODY_READ_SECONDS", 10.0),
            raw=dict(env),
            mapping_source=parse_mapping_source(env.get("BRIDGE_MAPPING_SOURCE")),
            public_url=(env.get("BRIDGE_PUBLIC_URL") or "").rstrip("/") or None,
            alerts=_alert_settings(env),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _alert_settings(env: Mapping[str, str]):
    try:
        return AlertSettings.from_env(env)
    except AlertConfigError as exc:
        raise ConfigError(str(exc)) from None


def load_dotenv_if_present(path: str = ".env") -> None:
    """Read `.env` without overriding variables already set (the real environment wins), then
    the settings a running `bridge run` demo made up (instance/demo.env), so commands run
    beside the demo see its emulator and secrets."""
    for candidate in (Path(path), INSTANCE_DIR / "demo.env"):
        if candidate.is_file():
            load_dotenv(candidate, override=False)
