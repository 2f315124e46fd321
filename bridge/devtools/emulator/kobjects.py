"""The emulator's klasses and KObjects (custom objects: cards on a customer's timeline).

Request bodies reach these methods already held to Kustomer's contract (the operation
files in ``bridge/kustomer/contract/operations``), so only what the contract cannot say
is checked here: that the klass, the customer and the object exist, and uniqueness.

A mixin of ``EmulatorState``: it uses the state's lock, ids, clock, customers and
per-customer create limit. Behaviour written from Kustomer's API reference (see
``bridge/kustomer/kobjects.py``); where Kustomer does not document it (the status of a
duplicate klass or externalId, whether UpdateKObject merges ``custom``) it is a guess:
409 for duplicates, ``custom`` merged key by key, other fields replaced.
"""
from __future__ import annotations

import copy

from .wire import ApiError, iso


class KObjectsMixin:
    def _reset_kobjects(self) -> None:
        self.klasses: dict[str, dict] = {}  # name -> klass
        self.kobjects: dict[str, dict] = {}  # id -> kobject
        self.metadata: dict[str, dict] = {}  # resource -> properties
        self._kobject_by_ext: dict[tuple[str, str], str] = {}

    # ---- klasses ----------------------------------------------------------------

    def list_klasses(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self.klasses.values()))

    def create_klass(self, payload: dict) -> dict:
        name = payload["name"]  # the body's shape was held to the contract already
        with self.lock:
            if name in self.klasses:
                raise ApiError(409, f"a klass named {name} already exists", pointer="/name")
            now = iso(self.clock())
            klass = {"type": "klass", "id": self._new_id(),
                     "attributes": {"status": "enabled", **copy.deepcopy(payload),
                                    "createdAt": now, "updatedAt": now}}
            self.klasses[name] = klass
            return copy.deepcopy(klass)

    def set_metadata(self, resource: str, payload: dict) -> dict:
        properties = payload["properties"]
        with self.lock:
            if resource.startswith("kobject.") and resource[len("kobject."):] not in self.klasses:
                raise ApiError(404, f"no klass {resource[len('kobject.'):]}")
            self.metadata.setdefault(resource, {}).update(copy.deepcopy(properties))
            return {"type": "metadata", "id": resource, "attributes": {"properties": self.metadata[resource]}}

    # ---- kobjects ---------------------------------------------------------------

    def find_kobject(self, klass_name: str, by: str, value: str) -> dict:
        with self.lock:
            self._klass(klass_name)
            kobject_id = value if by == "id" else self._kobject_by_ext.get((klass_name, value))
            kobject = self.kobjects.get(kobject_id or "")
            if kobject is None or kobject["relationships"]["klass"]["data"]["id"] != klass_name:
                raise ApiError(404, f"no {klass_name} object with this {by}")
            return copy.deepcopy(kobject)

    def create_kobject(self, customer_id: str, klass_name: str, payload: dict) -> dict:
        fields = copy.deepcopy(payload)
        with self.lock:
            self._klass(klass_name)
            if customer_id not in self.customers:
                raise ApiError(404, f"customer {customer_id} not found")
            external_id = fields.get("externalId")
            if external_id is not None and (klass_name, external_id) in self._kobject_by_ext:
                raise ApiError(409, f"a {klass_name} object with this externalId exists",
                               pointer="/externalId")
            self._spend_create("kobject", customer_id)
            now, kobject_id = iso(self.clock()), self._new_id()
            kobject = {
                "type": "kobject", "id": kobject_id,
                "attributes": {"custom": {}, "images": [], "tags": [], **fields, "rev": 1,
                               "createdAt": now, "updatedAt": now},
                "relationships": {"klass": {"data": {"type": "klass", "id": klass_name}},
                                  "customer": {"data": {"type": "customer", "id": customer_id}}},
            }
            self.kobjects[kobject_id] = kobject
            if external_id is not None:
                self._kobject_by_ext[(klass_name, external_id)] = kobject_id
            return copy.deepcopy(kobject)

    def update_kobject(self, klass_name: str, kobject_id: str, payload: dict) -> dict:
        fields = copy.deepcopy(payload)
        with self.lock:
            kobject = self.kobjects.get(kobject_id)
            self._klass(klass_name)
            if kobject is None or kobject["relationships"]["klass"]["data"]["id"] != klass_name:
                raise ApiError(404, f"no {klass_name} object {kobject_id}")
            attributes = kobject["attributes"]
            if "externalId" in fields and fields["externalId"] != attributes.get("externalId"):
                raise ApiError(400, "externalId cannot be changed here", pointer="/externalId")
            if "custom" in fields:
                fields["custom"] = {**attributes["custom"], **fields["custom"]}
            attributes.update(fields, rev=attributes["rev"] + 1, updatedAt=iso(self.clock()))
            return copy.deepcopy(kobject)

    def cards_by_customer(self) -> dict[str, list[dict]]:
        """For the received list: each customer's cards, oldest first."""
        with self.lock:
            cards: dict[str, list[dict]] = {}
            for kobject in self.kobjects.values():
                customer_id = kobject["relationships"]["customer"]["data"]["id"]
                cards.setdefault(customer_id, []).append(copy.deepcopy(kobject))
            return cards

    def _klass(self, name: str) -> dict:
        if name not in self.klasses:
            raise ApiError(404, f"no klass named {name}")
        return self.klasses[name]
