"""A small stand-in for Okendo's webhook-subscription API (Merchant REST API), for tests.

Only what the bridge's setup page uses: `GET/POST /webhook_subscriptions` and
`DELETE /webhook_subscriptions/<id>`, behind HTTP Basic auth with one user id and API key.
A created subscription comes back with a new `whsec_` secret (as Okendo's answer "also
contains the Webhook Secret"); `deliver()` signs a payload with a subscription's secret
and posts it to its endpoint, as Okendo would.
"""
from __future__ import annotations

import base64
import itertools
import secrets
import threading
from datetime import datetime, timezone

import requests
from flask import Flask, jsonify, request
from standardwebhooks import Webhook
from werkzeug.serving import make_server


class OkendoStandIn:
    def __init__(self, user_id: str, api_key: str):
        self.user_id, self.api_key = user_id, api_key
        self.subscriptions: dict[str, dict] = {}
        self.secrets: dict[str, str] = {}
        self.deleted: list[str] = []
        self._ids = itertools.count(1)
        self.app = self._build()
        self._server = None

    def _build(self) -> Flask:
        app = Flask("okendo-standin")

        @app.before_request
        def authenticate():
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (self.user_id, self.api_key):
                return jsonify(message="Unauthorized"), 401
            return None

        @app.get("/webhook_subscriptions")
        def list_subscriptions():
            return jsonify(webhookSubscriptions=list(self.subscriptions.values()), nextUrl=None)

        @app.post("/webhook_subscriptions")
        def create():
            body = request.get_json()
            sub_id = f"sub-{next(self._ids)}"
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            self.subscriptions[sub_id] = {
                "webhookSubscriptionId": sub_id, "endpointUrl": body["endpointUrl"],
                "isEnabled": body.get("isEnabled", True), "subscriptions": body.get("subscriptions", []),
                "dateCreated": datetime.now(timezone.utc).isoformat()}
            self.secrets[sub_id] = secret
            return jsonify({**self.subscriptions[sub_id], "webhookSecret": secret}), 201

        @app.delete("/webhook_subscriptions/<sub_id>")
        def delete(sub_id):
            if self.subscriptions.pop(sub_id, None) is None:
                return jsonify(message="Not found"), 404
            self.deleted.append(sub_id)
            return "", 204

        return app

    def start(self, port: int) -> str:
        self._server = make_server("127.0.0.1", port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()

    def deliver(self, sub_id: str, body: bytes, secret: str | None = None) -> requests.Response:
        """POST a payload signed with the subscription's secret (or `secret`) to its endpoint."""
        msg_id = f"msg_{secrets.token_hex(8)}"
        now = datetime.now(timezone.utc)
        signature = Webhook(secret or self.secrets[sub_id]).sign(msg_id, now, body.decode())
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json"}
        endpoint = (self.subscriptions.get(sub_id) or {}).get("endpointUrl")
        return requests.post(endpoint, data=body, headers=headers, timeout=10)
