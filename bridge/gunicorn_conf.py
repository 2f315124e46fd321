"""gunicorn settings for `bridge web` (and the Procfile's web process).

Every value can be overridden from the environment, so a Heroku dyno size or a
benchmark can change them without editing code.
"""
import os

from bridge.web import hosting

# Heroku gives the port in PORT; 8000 on a developer's machine.
bind = f"{os.environ.get('BRIDGE_BIND', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"

# Threads keep memory low (one app copy per process) while a request waits on the
# database; processes use more than one core. WEB_CONCURRENCY is Heroku's convention: its
# Python buildpack sets it from the dyno size (2 on Eco/Basic/Standard-1X), so app.json leaves
# it unset. Each thread may hold a database connection: 2 x 2 threads keep one web dyno at
# 6 PostgreSQL connections (docs/operations.md), and 2 threads take hundreds of webhooks/s.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("GUNICORN_THREADS") or 2)
worker_class = "gthread"

# Below Heroku's 30 s router timeout, so a stuck request is killed by us, with a log line.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "25"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5

# The app logs one JSON line per request (with its request id, bridge/web/requestlog.py), so
# gunicorn's own access log is off unless asked for ("-" = stdout).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"

# Trust X-Forwarded-* from Heroku's router (the only way to a dyno), and elsewhere only
# from a proxy on this machine (bridge/web/hosting.py says why).
forwarded_allow_ips = hosting.forwarded_allow_ips()

# Each worker builds its own database pool after the fork; never share one across processes.
preload_app = False

# gunicorn 27 opens a control socket at a fixed per-user path; several gunicorns on one
# machine (tests, the emulator beside the bridge) would fight over it, and we don't use it.
control_socket_disable = True
