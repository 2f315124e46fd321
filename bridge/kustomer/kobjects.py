"""Kustomer custom objects: klasses (the card types) and KObjects (the cards).

Operations, named as in Kustomer's API reference (the request contract in
``bridge/kustomer/contract/operations/`` has one file for each):

* GetKlasses ``GET /v1/klasses`` and CreateKlass ``POST /v1/klasses``;
* UpdateMetadata ``PUT /v1/metadata/kobject.<klass>``: display names of a klass's
  attributes (their types come from the name's suffix, so this is cosmetic);
* GetKlassesByNameAndExternalId ``GET /v1/klasses/{klass}/externalId={externalId}``;
* CreateCustomerKObject ``POST /v1/customers/{id}/klasses/{klass}``;
* UpdateKObject ``PUT /v1/klasses/{klass}/{id}``.

Failure policy: the client's (see ``client``): transient errors are retried in-call, then
raised; permanent and configuration errors are raised at once. A KObject create is only
retried in-call after a 429 (surely not processed): a create that timed out may have
happened, and the caller's next round looks the card up by externalId first. A 404 on a
lookup is an answer (None), not an error.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .errors import PermanentError

KLASS_PAGE_SIZE = 100
KLASS_PAGES_MAX = 20  # 2,000 klasses: far more than any org has; a bound on a paging loop


def _q(value: str) -> str:
    return quote(str(value), safe="")


def list_klasses(client) -> list[dict]:
    """Every klass of the org (``[{"type": "klass", "id", "attributes": {"name", ...}}]``)."""
    klasses: list[dict] = []
    for page in range(1, KLASS_PAGES_MAX + 1):
        response = client._api("GET", f"/v1/klasses?page={page}&pageSize={KLASS_PAGE_SIZE}")
        data = client._data(response)
        items = data if isinstance(data, list) else [data]
        klasses += [item for item in items if isinstance(item, dict)]
        links = _json(response).get("links") or {}
        if len(items) < KLASS_PAGE_SIZE or not links.get("next"):
            break
    return klasses


def klass_names(klasses: list[dict]) -> set[str]:
    return {str((k.get("attributes") or {}).get("name")) for k in klasses
            if (k.get("attributes") or {}).get("name")}


def create_klass(client, body: dict) -> dict:
    return client._data(client._api("POST", "/v1/klasses", body, retry_only_rejected=True))


def update_klass_metadata(client, klass_name: str, properties: dict) -> Any:
    """Display names of the klass's attributes (``{"ratingNum": {"displayName": ...}}``)."""
    response = client._api("PUT", f"/v1/metadata/kobject.{_q(klass_name)}", {"properties": properties})
    return _json(response).get("data")


def find_kobject(client, klass_name: str, external_id: str) -> dict | None:
    return client._find(f"/v1/klasses/{_q(klass_name)}/externalId={_q(external_id)}")


def create_customer_kobject(client, customer_id: str, klass_name: str, body: dict) -> dict:
    return client._data(client._api(
        "POST", f"/v1/customers/{_q(customer_id)}/klasses/{_q(klass_name)}", body,
        retry_only_rejected=True))


def update_kobject(client, klass_name: str, kobject_id: str, body: dict) -> dict:
    return client._data(client._api("PUT", f"/v1/klasses/{_q(klass_name)}/{_q(kobject_id)}", body))


def is_duplicate(exc: Exception) -> bool:
    """A create refused because the externalId exists (status undocumented: 400 or 409)."""
    return isinstance(exc, PermanentError) and exc.status in (400, 409)


def _json(response) -> dict:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
