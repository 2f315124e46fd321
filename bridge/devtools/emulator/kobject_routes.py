"""The emulator's klass and KObject routes (Kustomer's custom objects; see ``kobjects``).

Gated like every Kustomer route (``kustomer_call``: faults, auth, roles, the org's
budget); each accepts the permission-set role or its legacy name.
"""
from __future__ import annotations

from flask import Blueprint, request

from .app import _json_object, _lookup, _state, kustomer_call

kobject_api = Blueprint("kustomer_kobjects", __name__)

KLASS_READ = ("org.permission.klass.read", "org.user.klass.read", "org.admin.klass.read")
KLASS_CREATE = ("org.permission.klass.create", "org.admin.klass.write")
METADATA_UPDATE = ("org.permission.metadata.update", "org.admin.metadata.write")
KOBJECT_READ = ("org.permission.kobject.read", "org.user.kobject.read")
KOBJECT_CREATE = ("org.permission.kobject.create", "org.user.kobject.write")
KOBJECT_UPDATE = ("org.permission.kobject.update", "org.user.kobject.write")


@kobject_api.get("/v1/klasses")
@kustomer_call("api", roles=KLASS_READ)
def get_klasses():
    page = max(1, request.args.get("page", 1, type=int))
    size = min(100, max(1, request.args.get("pageSize", 100, type=int)))
    klasses = _state().list_klasses()
    items = klasses[(page - 1) * size: page * size]
    more = page * size < len(klasses)
    return {"data": items, "meta": {"page": page, "pageSize": size, "total": len(klasses)},
            "links": {"self": f"/v1/klasses?page={page}&pageSize={size}",
                      "next": f"/v1/klasses?page={page + 1}&pageSize={size}" if more else None}}


@kobject_api.post("/v1/klasses")
@kustomer_call("api", roles=KLASS_CREATE)
def create_klass():
    return {"data": _state().create_klass(_json_object())}, 201


@kobject_api.put("/v1/metadata/<resource>")
@kustomer_call("api", roles=METADATA_UPDATE)
def update_metadata(resource: str):
    return {"data": _state().set_metadata(resource, _json_object())}


@kobject_api.get("/v1/klasses/<klass_name>/<ident>")
@kustomer_call("api", roles=KOBJECT_READ)
def get_kobject(klass_name: str, ident: str):
    by, value = _lookup(ident, ("externalId",))
    return {"data": _state().find_kobject(klass_name, by, value)}


@kobject_api.post("/v1/customers/<customer_id>/klasses/<klass_name>")
@kustomer_call("api", roles=KOBJECT_CREATE)
def create_customer_kobject(customer_id: str, klass_name: str):
    return {"data": _state().create_kobject(customer_id, klass_name, _json_object())}, 201


@kobject_api.put("/v1/klasses/<klass_name>/<kobject_id>")
@kustomer_call("api", roles=KOBJECT_UPDATE)
def update_kobject(klass_name: str, kobject_id: str):
    return {"data": _state().update_kobject(klass_name, kobject_id, _json_object())}
