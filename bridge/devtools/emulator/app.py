"""HTTP side of the Kustomer emulator: a Flask app factory and a gunicorn runner.

A local stand-in for Kustomer's API, for end-to-end tests, fault tests, benchmarks and
demos. It is a test double, not Kustomer: state is in memory (see ``state.py``), so it
must run as ONE process (``serve()`` uses one gunicorn worker with threads).

Kustomer-shaped routes live under ``/v1`` (Bearer auth, roles, rate limits, faults).
Every one of them is held to Kustomer's published request contract
(``bridge.kustomer.contract``): a request outside it gets the 400 (or, for a route the
contract does not know, the 404) that Kustomer would answer, so the bridge cannot drift
into a shape only this emulator accepts. Test controls
live under ``/__emulator`` (no auth, never faulted or counted):
``GET received``, ``GET stats``, ``GET|POST faults``, ``GET|POST config``,
``POST reset``, ``GET health``.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import time
from typing import Any, Callable
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from bridge.kustomer import contract

from .state import HOOK_BODY_LIMIT, HOOK_ROLES, EmulatorState
from .wire import ApiError

EXTENSION = "kustomer_emulator"
DEFAULT_API_KEY = "emulator-key"

api = Blueprint("kustomer_api", __name__)
control = Blueprint("emulator_control", __name__, url_prefix="/__emulator")


def create_emulator_app(api_key: str = DEFAULT_API_KEY, org_id: str | None = None,
                        rate_limit_per_minute: int = 0, hook_limit_per_minute: int = 0,
                        faults: dict | None = None, *, roles: list[str] | None = None,
                        hooks: list[str] | None = None,
                        clock: Callable[[], float] | None = None) -> Flask:
    """A Flask app that imitates Kustomer's API for one org, in memory (a test double).

    ``roles``: the key's roles (default: all). ``hooks``: hook hashes to accept (default
    None: any hash). ``faults``: see ``state.Faults``. ``clock``: epoch-seconds source,
    for tests. The state is ``app.extensions["kustomer_emulator"]`` (an EmulatorState).
    """
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions[EXTENSION] = EmulatorState(
        api_key=api_key, org_id=org_id, roles=roles, hooks=hooks,
        rate_limit_per_minute=rate_limit_per_minute,
        hook_limit_per_minute=hook_limit_per_minute, faults=faults, clock=clock)
    # Imported here: kobject_routes builds on this module's helpers (a real cycle).
    from .kobject_routes import kobject_api

    app.register_blueprint(api)
    app.register_blueprint(kobject_api)
    app.register_blueprint(control)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_finish)
    return app


def _state() -> EmulatorState:
    return current_app.extensions[EXTENSION]


def _api_error(error: ApiError):
    return jsonify(error.body()), error.status, error.headers


def _http_error(error: HTTPException):
    return jsonify(ApiError(error.code or 500, error.description).body()), error.code


def _finish(response):
    """Rate-limit headers on every hook/API answer; count 429s; drain unread bodies."""
    kind = g.get("emulator_kind")
    if kind:
        state = _state()
        for name, value in state.ratelimit_headers(kind).items():
            response.headers[name] = value
        if response.status_code == 429:
            state.note_throttled()
    if response.status_code >= 400:
        _drain()
    return response


def _drain(limit: int = 16 * 1024 * 1024) -> None:
    """Read an unread request body so the client is not reset mid-upload."""
    try:
        while limit > 0 and (chunk := request.stream.read(min(65536, limit))):
            limit -= len(chunk)
    except Exception:  # noqa: BLE001 - best effort only
        pass


def kustomer_call(kind: str, roles: tuple[str, ...] = (), auth: bool = True):
    """Gate a Kustomer route: count it, inject latency/faults, check key and role, spend
    the org's ``kind`` ("api" or "hook") budget, then hold the request to the contract
    (hook bodies are checked by the hook view, which reads them under the size limit).
    This order is a guess at Kustomer's."""
    def decorate(view):
        @functools.wraps(view)
        def gated(**kwargs):
            state = _state()
            g.emulator_kind = kind
            delay = state.begin_request()
            if delay:
                time.sleep(delay)
            state.check_faults()
            if auth:
                scheme, _, token = request.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not state.key_matches(token.strip()):
                    raise ApiError(401)
                if roles and not state.has_role(*roles):
                    raise ApiError(403, f"API key lacks role {roles[0]}")
            state.take_budget(kind)
            operation = contract.find(request.method, request.path)
            if operation is None:
                raise ApiError(404, f"{request.method} {request.path} is not a Kustomer "
                               "operation (not in the contract)")
            if kind != "hook":
                _enforce(operation, _request_json(operation))
            return view(**kwargs)
        return gated
    return decorate


def _request_json(operation: contract.Operation) -> Any:
    """The parsed JSON body, or ``contract.NO_BODY`` when there is none."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return contract.NO_BODY
    if operation.request is not None and not request.is_json:
        raise ApiError(400, "the body must be JSON (Content-Type: application/json)")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None


def _enforce(operation: contract.Operation, body: Any) -> None:
    problems = operation.problems(body)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApiError(400, str(problems[0]) + more, pointer=problems[0].pointer,
                       sub_errors=[str(p) for p in problems[1:]])


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object (Content-Type: application/json)")
    return body


def _lookup(ident: str, fields: tuple[str, ...]) -> tuple[str, str]:
    """``email=x`` -> ("email", "x"); a bare id -> ("id", id)."""
    name, sep, value = ident.partition("=")
    if not sep:
        return "id", ident
    if name not in fields or not value:
        raise ApiError(400, f"unsupported lookup {name!r}; use one of {fields}")
    return name, value


# ---- Kustomer API --------------------------------------------------------------------

@api.get("/v1/auth/tokens/current")
@kustomer_call("api")
def current_token():
    state = _state()
    return {"data": {"type": "token", "id": state.token_id,
                     "attributes": {"roles": state.config()["roles"],
                                    "orgName": state.org_name},
                     "relationships": {"org": {"data": {"type": "org", "id": state.org_id}}}}}


def _hook_body() -> Any:
    if (request.content_length or 0) > HOOK_BODY_LIMIT:
        raise ApiError(413, f"hook body over {HOOK_BODY_LIMIT} bytes")
    raw = request.stream.read(HOOK_BODY_LIMIT + 1)
    if len(raw) > HOOK_BODY_LIMIT:
        raise ApiError(413, f"hook body over {HOOK_BODY_LIMIT} bytes")
    text = raw.decode("utf-8", errors="replace")
    if request.mimetype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        if request.is_json:
            raise ApiError(400, "hook body is not valid JSON") from None
        return text  # XML or plain text: kept as the raw string


def _checked_hook_body() -> Any:
    body = _hook_body()
    if request.is_json:
        _enforce(contract.find(request.method, request.path), body)
    return body


@api.post("/v1/hooks/web/<hook_hash>")
@kustomer_call("hook", roles=HOOK_ROLES)
def web_hook(hook_hash: str):
    record = _state().record_hook(hook_hash, _checked_hook_body(), kind="web")
    return {"data": {"type": "transaction", "id": record["transaction"]["id"]}}


@api.post("/v1/hooks/form/<org>/<hook_hash>")
@kustomer_call("hook", auth=False)
def form_hook(org: str, hook_hash: str):
    record = _state().record_hook(hook_hash, _checked_hook_body(), kind="form", org=org)
    return {"data": {"type": "transaction", "id": record["transaction"]["id"]}}


@api.post("/v1/hooks/form/<hook_hash>")
@kustomer_call("hook", auth=False)
def form_hook_without_org(hook_hash: str):
    record = _state().record_hook(hook_hash, _checked_hook_body(), kind="form")
    return {"data": {"type": "transaction", "id": record["transaction"]["id"]}}


@api.get("/v1/customers/<path:ident>")
@kustomer_call("api", roles=("org.permission.customer.read", "org.user.customer.read"))
def get_customer(ident: str):
    by, value = _lookup(ident, ("email", "externalId", "phone"))
    return {"data": _state().find_customer(by, value)}


@api.post("/v1/customers")
@kustomer_call("api", roles=("org.permission.customer.create", "org.user.customer.write"))
def create_customer():
    return {"data": _state().create_customer(_json_object())}, 201


@api.post("/v1/conversations")
@kustomer_call("api", roles=("org.permission.conversation.create", "org.user.conversation.write"))
def create_conversation():
    body = _json_object()
    return {"data": _state().create_conversation(body.get("customer"), body)}, 201


@api.post("/v1/customers/<customer_id>/conversations")
@kustomer_call("api", roles=("org.permission.conversation.create", "org.user.conversation.write"))
def create_customer_conversation(customer_id: str):
    return {"data": _state().create_conversation(customer_id, _json_object())}, 201


@api.get("/v1/conversations/<path:ident>")
@kustomer_call("api", roles=("org.permission.conversation.read", "org.user.conversation.read"))
def get_conversation(ident: str):
    by, value = _lookup(ident, ("externalId",))
    return {"data": _state().find_conversation(by, value)}


@api.patch("/v1/conversations/<conversation_id>")
@kustomer_call("api", roles=("org.permission.conversation.update", "org.user.conversation.write"))
def update_conversation(conversation_id: str):
    return {"data": _state().update_conversation(conversation_id, _json_object())}


@api.post("/v1/conversations/<conversation_id>/tags")
@kustomer_call("api", roles=("org.permission.conversation.update", "org.user.conversation.write"))
def tag_conversation(conversation_id: str):
    return {"data": _state().add_tags(conversation_id, request.get_json(silent=True))}


@api.get("/v1/conversations/<conversation_id>/notes")
@kustomer_call("api", roles=("org.permission.note.read", "org.user.note.read"))
def list_notes(conversation_id: str):
    try:
        page = int(request.args.get("page", 1))
        page_size = int(request.args.get("pageSize", 100))
    except ValueError:
        raise ApiError(400, "page and pageSize must be whole numbers") from None
    if page < 1 or not 1 <= page_size <= 100:
        raise ApiError(400, "page must be >= 1 and pageSize 1..100")
    return _state().list_notes(conversation_id, page, page_size)


@api.post("/v1/conversations/<conversation_id>/notes")
@kustomer_call("api", roles=("org.permission.note.create", "org.user.note.write"))
def create_note(conversation_id: str):
    return {"data": _state().add_note(conversation_id, _json_object())}, 201


# ---- test controls (no auth, no faults, not counted) ---------------------------------

@control.get("/health")
def health():
    return {"status": "ok", "emulator": "kustomer"}


@control.get("/received")
def received():
    return _state().snapshot()


@control.get("/stats")
def stats():
    return _state().stats()


@control.get("/faults")
def get_faults():
    return _state().faults_dict()


@control.post("/faults")
def set_faults():
    try:
        return _state().set_faults(_json_object())
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


@control.get("/config")
def get_config():
    return _state().config()


@control.post("/config")
def set_config():
    try:
        return _state().configure(**_json_object())
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


@control.post("/reset")
def reset():
    _state().reset()
    return {"status": "reset"}


# ---- running it ----------------------------------------------------------------------

def emulator_api_key(environ, api_key: str | None = None) -> str:
    """The key the emulator accepts: ``api_key``, else EMULATOR_API_KEY, else "emulator-key"."""
    return api_key or environ.get("EMULATOR_API_KEY") or DEFAULT_API_KEY


def emulator_app_from_env(environ, *, api_key: str | None = None, org_id: str | None = None,
                          rate_limit_per_minute: int | None = None,
                          hook_limit_per_minute: int | None = None, faults: dict | None = None) -> Flask:
    """The app ``serve()`` runs: what is not given comes from ``environ``'s EMULATOR_API_KEY
    (default "emulator-key"), EMULATOR_RATE_LIMIT and EMULATOR_HOOK_LIMIT (default 0 =
    unlimited). The tests also serve it from a thread (tests/e2e/conftest.py)."""
    if rate_limit_per_minute is None:
        rate_limit_per_minute = int(environ.get("EMULATOR_RATE_LIMIT") or 0)
    if hook_limit_per_minute is None:
        hook_limit_per_minute = int(environ.get("EMULATOR_HOOK_LIMIT") or 0)
    return create_emulator_app(emulator_api_key(environ, api_key), org_id,
                               rate_limit_per_minute, hook_limit_per_minute, faults=faults)


def serve(host: str = "127.0.0.1", port: int = 8099, *, api_key: str | None = None,
          org_id: str | None = None, rate_limit_per_minute: int | None = None,
          hook_limit_per_minute: int | None = None, latency_ms: float = 0.0,
          error_rate: float = 0.0, faults: dict | None = None, threads: int = 8,
          access_log: bool = False, log_level: str = "info") -> None:
    """Run the emulator under gunicorn (1 worker, gthread) until stopped. Blocks.

    Unset ``api_key`` / limits come from EMULATOR_API_KEY (default "emulator-key"),
    EMULATOR_RATE_LIMIT and EMULATOR_HOOK_LIMIT (default 0 = unlimited).
    """
    # Imported here: only `serve` runs gunicorn; a test that builds the app in-process
    # need not load it.
    from gunicorn.app.base import BaseApplication

    api_key = emulator_api_key(os.environ, api_key)
    app = emulator_app_from_env(
        os.environ, api_key=api_key, org_id=org_id, rate_limit_per_minute=rate_limit_per_minute,
        hook_limit_per_minute=hook_limit_per_minute,
        faults={"latency_ms": latency_ms, "error_rate": error_rate, **(faults or {})})

    def when_ready(server):
        bound = server.LISTENERS[0].sock.getsockname() if server.LISTENERS else (host, port)
        base = f"http://{bound[0]}:{bound[1]}"
        key = api_key if api_key == DEFAULT_API_KEY else "$EMULATOR_API_KEY"
        server.log.info(
            "Kustomer EMULATOR (in-memory test double, not Kustomer) at %s: API base URL %s, "
            "hook URL %s/v1/hooks/web/reviews (Authorization: Bearer %s), inspect %s/__emulator/received",
            base, base, base, key, base)

    options = {
        "bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread",
        "threads": threads, "accesslog": "-" if access_log else None, "errorlog": "-",
        "loglevel": log_level, "graceful_timeout": 5, "proc_name": "kustomer-emulator",
        # gunicorn >= 25.1 opens a control socket at a fixed per-user path by default;
        # a second gunicorn (the bridge) would fight over it.
        "control_socket_disable": True, "when_ready": when_ready,
    }

    class _Server(BaseApplication):
        def load_config(self):
            for name, value in options.items():  # skip settings older gunicorns lack
                if name in self.cfg.settings:
                    self.cfg.set(name, value)

        def load(self):
            return app

    _Server().run()


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.devtools.emulator.app --port 8099``: parse flags, then ``serve()``."""
    parser = argparse.ArgumentParser(description="Run the local Kustomer emulator (a test double).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=None, help="default: $EMULATOR_API_KEY or emulator-key")
    parser.add_argument("--rate-limit", type=int, default=None, help="API calls/min, 0 = unlimited")
    parser.add_argument("--hook-limit", type=int, default=None, help="hook posts/min, 0 = unlimited")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    serve(args.host, args.port, api_key=args.api_key, rate_limit_per_minute=args.rate_limit,
          hook_limit_per_minute=args.hook_limit, latency_ms=args.latency_ms,
          error_rate=args.error_rate, threads=args.threads, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
