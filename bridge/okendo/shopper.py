"""The Kustomer customer an Okendo event belongs to: found by email, else created.

Shared by tickets and timeline cards, so both put a review on the same customer. What is
written here is Okendo's knowledge (which fields name the shopper: email, name, customer
id, else the resource); the Kustomer client is passed in, so ``okendo/`` imports nothing of
``kustomer/`` (docs/architecture.md, rules of the layout).
Failure policy: the client's (see ``client.find_or_create_customer``). A shopper without
an email is identified by what Okendo does give: its customer id (surveys, loyalty), else
the resource itself, so the same review always lands on the same customer.
"""
from __future__ import annotations

from bridge.okendo.schemas import customer_name_of, email_of


def find_or_create_shopper(event, client) -> dict:
    email, name = email_of(event), customer_name_of(event)
    if email:
        return client.find_or_create_customer(email=email, name=name or email)
    customer = event.resource.get("customer")
    shopper_id = customer.get("customerId") if isinstance(customer, dict) else None
    external_id = (f"okendo-customer-{shopper_id}" if shopper_id
                   else f"okendo-{event.resource_type}-{event.resource_id}")
    return client.find_or_create_customer(external_id=external_id, name=name or "Okendo shopper (no email)")
